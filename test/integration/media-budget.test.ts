// The media plane at scale, with real sockets and werift bots: joins cost the room O(1) messages (M50), the budget
// refuses a listener past it with `room_full` while everyone in keeps hearing (M52, M53), the uplink tap (M54) and
// the listeners' RTCP receiver reports in /metrics (M56).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer, Client } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { Bot, until } from '../helpers/bot'
import type { MediaService } from '../../server/media/service'
import type { TapPacket } from '../../server/contracts'
import { bringUp, createRoom, member, ok, outcome, type Member } from '../helpers/members'
import { poll, TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts), away from every ephemeral port and other files'.
const ports = await reservePorts()

const ROOM_MAX = 2
let s: TestServer
let media: MediaService
const bots: Bot[] = []
const sockets: WsClient[] = []
const members: Member[] = []

beforeAll(async () => {
  Bot.portRange = ports.range(0, 999)
  s = await startTestServer({
    GUESTS: 'true',
    MEDIA_ROOM_MAX_LISTENERS: String(ROOM_MAX),
    METRICS_TOKEN: 'metrics-secret-456',
  })
  media = s.ctx.media.service
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const w of sockets) w.close()
  for (const m of members) m.ws.close()
  await s.stop()
  Bot.portRange = undefined
  await ports.release()
})

async function person(tag: string) {
  const m = await member(s, tag.toLowerCase())
  members.push(m)
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  return Object.assign(m, { bot })
}

/** A guest's socket in the room (no audio yet). */
async function guest(roomId: number) {
  const ws = await connectWs(s.url, { origin: s.origin })
  sockets.push(ws)
  const r = await ws.request('room.join', { roomId })
  if (!r.ok) throw new Error(`guest join: ${r.error.code}`)
  return ws
}

/** A live room whose host speaks (unmuted, audio connected). */
async function speakingRoom(tag: string) {
  const host = await person(tag)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  await host.bot.connectAudio(room.id)
  return { host, roomId: room.id }
}

const hallwayCard = async (roomId: number) =>
  ((await new Client(s).get('/api/rooms')).json.live as any[]).find((r) => r.id === roomId)

describe('[M50] joins cost the room O(1) messages', () => {
  test('[M50] while 30 guests join, an observer gets a few room.guests, not 30; the last says 30', async () => {
    const host = await person('OB')
    const room = await createRoom(host)
    await ok(host, 'room.join', { roomId: room.id })
    const before = host.ws.events.length
    for (let i = 0; i < 30; i++) await guest(room.id)
    await host.ws.next('room.guests', (e) => e.roomId === room.id && e.count === 30)
    const seen = host.ws.events.slice(before).filter((e) => e.type === 'room.guests').length + 1
    // One per GUEST_COUNT_EVERY_MS (1 s) at most while they arrive: a handful on a busy machine, never one per guest.
    expect(seen).toBeLessThanOrEqual(10)
    expect(seen).toBeLessThan(30)
    await ok(host, 'room.end', { roomId: room.id })
  })
})

describe('[M52] overload is a decision', () => {
  test(
    '[M52] past MEDIA_ROOM_MAX_LISTENERS a new listener gets room_full while the others keep hearing; ' +
      '[M53] the hallway card says full; the stage always gets in',
    async () => {
      const { host, roomId } = await speakingRoom('HB')
      const listeners: Bot[] = []
      for (let i = 0; i < ROOM_MAX; i++) {
        const b = new Bot(await guest(roomId), `L${i}`)
        bots.push(b)
        await b.connectAudio(roomId)
        listeners.push(b)
      }
      // The next listener is refused, a guest and a member alike; nothing of theirs is created.
      const extra = await guest(roomId)
      expect(await outcome({ ws: extra }, 'rtc.connect', { roomId })).toBe('room_full')
      const late = await person('LM')
      await ok(late, 'room.join', { roomId })
      const refused = await late.ws.request('rtc.connect', { roomId })
      expect(refused.ok).toBe(false)
      expect(refused.error).toMatchObject({ code: 'room_full', message: expect.stringContaining('This room is full') })
      expect(media.stats()).toMatchObject({ peers: 1 + ROOM_MAX, listeners: ROOM_MAX })
      await poll(
        () => hallwayCard(roomId),
        (c) => c?.full === true,
        'the hallway card shows the room full',
      )

      // Those in keep hearing the speaker.
      host.bot.speak(20)
      for (const l of listeners) await until(() => l.received.length > 20, `${l.tag} hears the host`)
      // A listener already in connects again (a new peer replaces theirs): not refused.
      expect(await outcome({ ws: listeners[0]!.ws }, 'rtc.connect', { roomId })).toBe('ok')
      // Invited to the stage, the refused member gets in at once (speakers are never refused).
      await bringUp(host, late, roomId)
      await late.bot.connectAudio(roomId)
      await until(() => late.bot.received.length > 10, 'the new speaker hears the host')
      host.bot.silence()
      await ok(host, 'room.end', { roomId })
      await until(async () => (await media.debug()).rooms === 0, 'the room audio closed')
    },
  )

  test('[M52] a listener leaving frees a place: the card is no longer full and the next one gets in', async () => {
    const { host, roomId } = await speakingRoom('HF')
    const ws = [] as WsClient[]
    for (let i = 0; i < ROOM_MAX; i++) {
      const w = await guest(roomId)
      ws.push(w)
      const b = new Bot(w, `F${i}`)
      bots.push(b)
      await b.connectAudio(roomId)
    }
    const waiting = await guest(roomId)
    expect(await outcome({ ws: waiting }, 'rtc.connect', { roomId })).toBe('room_full')
    await poll(
      () => hallwayCard(roomId),
      (c) => c?.full === true,
      'the hallway card shows the room full',
    )
    await ws[0]!.request('rtc.leave', { roomId })
    await poll(
      () => hallwayCard(roomId),
      (c) => c?.full === false,
      'the hallway card no longer full',
    )
    const b = new Bot(waiting, 'FW')
    bots.push(b)
    await b.connectAudio(roomId)
    host.bot.speak(20)
    await until(() => b.received.length > 10, 'the one who waited hears the host')
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M54] the uplink tap', () => {
  test('[M54] a tap gets each forwarded packet of a speaker with its timing and level, off the hot path', async () => {
    const { host, roomId } = await speakingRoom('TP')
    const got: TapPacket[] = [],
      other: TapPacket[] = []
    const off = s.ctx.media.api.tap(roomId, (p) => got.push(p))
    s.ctx.media.api.tap(roomId, (p) => other.push(p))
    const t0 = Date.now()
    host.bot.speak(10)
    await until(() => got.length >= 30, 'tapped packets')
    host.bot.silence()
    off()
    const n = got.length
    const p = got[0]!
    expect(p).toMatchObject({ roomId, key: `u:${host.id}`, userId: host.id })
    expect(p.payload.toString('latin1', 0, 2)).toBe('TH')
    expect(p.arrivedAt).toBeGreaterThanOrEqual(t0 - 1000)
    expect(p.level).toBeCloseTo(1 - 10 / 70, 2)
    for (let i = 1; i < got.length; i++) expect((got[i]!.seq - got[i - 1]!.seq) & 0xffff).toBe(1)
    // Unsubscribed: nothing more arrives there, while the other tap goes on.
    const m = other.length
    host.bot.speak(10)
    await until(() => other.length >= m + 20, 'the other tap gets more')
    host.bot.silence()
    expect(got.length).toBe(n)
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M56] receiver feedback', () => {
  test('[M56] receiver reports show as loss and jitter per room in /metrics; [M63] DTLS is dropped', async () => {
    const { host, roomId } = await speakingRoom('RR')
    const l = new Bot(await guest(roomId), 'RL')
    bots.push(l)
    await l.connectAudio(roomId)
    host.bot.speak(20)
    await until(() => l.received.length > 20, 'the listener hears the host')
    await until(() => media.quality().some((q) => q.roomId === roomId && q.reports > 0), 'a receiver report')
    const q = media.quality().find((x) => x.roomId === roomId)!
    // [M63] both sent protected media (the speaker RTP, the listener this RTCP): neither transport holds DTLS now.
    await until(
      async () => (await media.transportsDebug(roomId)).every((t) => t.connected && !t.dtls),
      'DTLS dropped by both transports',
    )
    expect(q.lossRatio).toBeGreaterThanOrEqual(0)
    expect(q.lossRatio).toBeLessThanOrEqual(1)
    expect(q.jitterSeconds).toBeGreaterThanOrEqual(0)
    const text = await (
      await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer metrics-secret-456' } })
    ).text()
    expect(text).toContain('# TYPE townhall_room_rtcp_loss_ratio gauge')
    expect(text).toMatch(new RegExp(`^townhall_room_rtcp_loss_ratio\\{room="${roomId}"\\} [0-9.]+$`, 'm'))
    expect(text).toMatch(new RegExp(`^townhall_room_rtcp_jitter_seconds\\{room="${roomId}"\\} [0-9.]+$`, 'm'))
    expect(text).toMatch(/^townhall_media_listeners 1$/m)
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M52] the server-wide budget', () => {
  test('[M52] MEDIA_MAX_PPS refuses listeners while the rate is at it; MEDIA_MAX_LISTENERS: all rooms', async () => {
    const s2 = await startTestServer({
      GUESTS: 'true',
      MEDIA_MAX_LISTENERS: '2',
      MEDIA_MAX_PPS: '40',
    })
    const own: Bot[] = []
    const botFor = async (roomId: number, tag: string) => {
      const ws = await connectWs(s2.url, { origin: s2.origin })
      const r = await ws.request('room.join', { roomId })
      if (!r.ok) throw new Error(`guest join: ${r.error.code}`)
      const b = new Bot(ws, tag)
      own.push(b)
      return b
    }
    try {
      const m2 = s2.ctx.media.service
      const hosts = [await member(s2, 'ps1'), await member(s2, 'ps2')]
      const rooms: number[] = []
      for (const h of hosts) {
        const room = await createRoom(h)
        await ok(h, 'room.join', { roomId: room.id })
        await ok(h, 'room.mute', { roomId: room.id, muted: false })
        const hb = new Bot(h.ws, h.name)
        own.push(hb)
        await hb.connectAudio(room.id)
        rooms.push(room.id)
      }
      const [r1, r2] = rooms as [number, number]
      const a = await botFor(r1, 'A')
      await a.connectAudio(r1)
      // The speaker talks to A: about 50 forwarded packets a second, over the budget of 40.
      own[0]!.speak(20)
      await until(
        () => m2.stats().packetsPerSecond >= 40,
        () => `the rate (${m2.stats().packetsPerSecond}/s)`,
      )
      const b = await botFor(r1, 'B')
      expect(await outcome({ ws: b.ws }, 'rtc.connect', { roomId: r1 })).toBe('room_full')
      await until(() => a.received.length > 20, 'A keeps hearing')
      own[0]!.silence()
      await until(() => m2.stats().packetsPerSecond < 40, 'the rate falls when nobody speaks')
      await b.connectAudio(r1)
      // Two listeners on the server: a listener of the other room is refused too; its stage never is.
      const c = await botFor(r2, 'C')
      expect(await outcome({ ws: c.ws }, 'rtc.connect', { roomId: r2 })).toBe('room_full')
      expect(m2.stats()).toMatchObject({ listeners: 2, peers: 4 })
    } finally {
      for (const b of own) await b.close().catch(() => {})
      await s2.stop()
    }
  })
})
