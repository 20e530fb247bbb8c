// The SFU with real WebRTC: werift bots over loopback join real rooms over /ws, answer the server's offer and
// send synthesised Opus RTP with RFC 6464 levels; the server forwards through its K=3 slots.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { Bot, sleep, until, type Received } from '../helpers/bot'
import { serverSockets } from '../helpers/sockets'
import type { MediaService } from '../../server/media/service'
import { UPLINK_MAX_PPS } from '../../server/media/router'
import { bringUp, createRoom, member, ok, outcome, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts): the bots' range, then the servers' RTC ports.
const ports = await reservePorts()
const BOTS = ports.range(0, 999)
const RTC_PORT = ports.at(1100)
let s: TestServer
let media: MediaService
const bots: Bot[] = []
const members: Member[] = []

beforeAll(async () => {
  Bot.portRange = BOTS // bots' sockets stay away from the server's RTC port
  s = await startTestServer({
    RTC_PORT: String(RTC_PORT),
    ROOM_GRACE_MS: '500',
    GUESTS: 'true',
  })
  media = s.ctx.media.service
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
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
type Person = Awaited<ReturnType<typeof person>>

/** A live room: the host (speaking), then the others joined as audience; everyone's audio connected. */
async function liveRoom(host: Person, others: Person[], speakers: Person[] = []) {
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  for (const p of others) await ok(p, 'room.join', { roomId: room.id })
  for (const p of speakers) await bringUp(host, p, room.id)
  for (const p of [host, ...others]) await p.bot.connectAudio(room.id)
  return room.id
}

/** The server's own UDP sockets: this process's, on the server's RTC port (bots bind elsewhere). */
const serverUdp = () => serverSockets('udp', (port) => port === RTC_PORT)
/** Every UDP socket of this process but the bots' (in their range BOTS): the server's, whatever the port. */
const allServerUdp = () => serverSockets('udp', (port) => port < BOTS[0] || port > BOTS[1])
/** The server's own ends of TCP connections (WebSocket, HTTP keep-alive): this process's, on the server's port. */
const serverTcp = () => serverSockets('tcp', (port) => port === s.port)

/** How many packets of `tag` a bot received after the first `mark` packets. */
const countFrom = (bot: Bot, tag: string, mark = 0) => bot.received.slice(mark).filter((r) => r.from === tag).length
/** Who a bot heard in its received packets after the first `mark` (sorted tags). */
const heardSince = (bot: Bot, mark: number) => [...new Set(bot.received.slice(mark).map((r) => r.from))].sort()
/** Who a bot heard in its last n packets (sorted tags). */
const heardLast = (bot: Bot, n: number) => (bot.received.length < n ? [] : heardSince(bot, bot.received.length - n))
/**
 * What a listener hears is measured in packets, not time: waits until its last `n` packets come from exactly `tags`,
 * then until `n` more have arrived, and returns who those were (the caller expects `tags` again).
 */
async function settlesOn(bot: Bot, tags: string[], n: number, what: string) {
  const want = JSON.stringify([...tags].sort())
  const last = () => JSON.stringify(heardLast(bot, n))
  await until(
    () => last() === want,
    () => `${what}: ${want} (last heard ${last()})`,
  )
  const mark = bot.received.length
  await until(() => bot.received.length >= mark + n, `${n} more packets for ${what}`)
  return heardSince(bot, mark)
}
/** Waits until count() stops changing: the packets in flight on loopback have been delivered. */
async function delivered(count: () => number, what: string) {
  let last = -1,
    still = 0
  await until(() => {
    const n = count()
    still = n === last ? still + 1 : 0
    last = n
    return still >= 10
  }, what)
}

describe('[M1] who may connect audio', () => {
  test('[M1] only live-room participants get an offer; input is checked; answer and restart need a peer', async () => {
    const host = await person('H1'),
      outsider = await person('O1')
    const room = await createRoom(host)
    await ok(host, 'room.join', { roomId: room.id })
    const table: [string, Person | Member, Record<string, unknown>, string][] = [
      ['outsider', outsider, { roomId: room.id }, 'media_not_joined'],
      ['unknown room', host, { roomId: 987654 }, 'media_room_not_live'],
      ['roomId a string', host, { roomId: 'x' }, 'validation'],
      ['roomId 0', host, { roomId: 0 }, 'validation'],
    ]
    for (const [what, who, fields, code] of table)
      expect([what, await outcome(who, 'rtc.connect', fields)]).toEqual([what, code])
    expect(await outcome(host, 'rtc.answer', { roomId: room.id, sdp: 'v=0 no peer yet' })).toBe('media_no_peer')
    expect(await outcome(host, 'rtc.answer', { roomId: room.id, sdp: 'x'.repeat(40_000) })).toBe('validation')
    expect(await outcome(host, 'rtc.restart', { roomId: room.id })).toBe('media_no_peer')

    const r = await ok(host, 'rtc.connect', { roomId: room.id })
    expect(r.sdp).toContain('a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1')
    expect(r.sdp).toContain('urn:ietf:params:rtp-hdrext:ssrc-audio-level')
    expect(r.sdp.match(/^m=audio/gm)).toHaveLength(4)
    expect(r.sdp.match(/a=recvonly/g)).toHaveLength(1)
    expect(r.sdp.match(/a=sendonly/g)).toHaveLength(3)
    const port = Number(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(r.sdp)?.[1])
    expect(port).toBe(RTC_PORT)
    expect(r.iceServers).toEqual([])
    expect(await outcome(host, 'rtc.answer', { roomId: room.id, sdp: 'v=0\r\nthis is not an answer\r\n' })).toBe(
      'validation',
    )
    await ok(host, 'rtc.leave', { roomId: room.id })
    expect(await outcome(host, 'rtc.restart', { roomId: room.id })).toBe('media_no_peer')

    // A guest may listen to an open room when the admin allows guests.
    const guestWs = await connectWs(s.url, { origin: s.origin })
    const guest = { ws: guestWs }
    expect(await outcome(guest, 'rtc.connect', { roomId: room.id })).toBe('media_not_joined')
    expect(await outcome(guest, 'room.join', { roomId: room.id })).toBe('ok')
    const g = new Bot(guestWs, 'G')
    bots.push(g)
    await g.connectAudio(room.id)
    expect(media.stats().peers).toBe(1)
    await g.close()
    await ok(host, 'room.end', { roomId: room.id })
    await until(() => media.stats().peers === 0, 'peers closed after the room ended')
  })
})

describe('[M2] forwarding', () => {
  test(
    "[M2] a speaker's stream reaches every listener; " + "an audience member's uplink reaches nobody; a flood is cut",
    async () => {
      const host = await person('HOST'),
        l1 = await person('L1'),
        l2 = await person('L2'),
        l3 = await person('L3')
      const roomId = await liveRoom(host, [l1, l2, l3])
      const dropped = (await media.debug()).dropped
      host.bot.speak(20)
      l1.bot.speak(5) // audience: loud, but not on stage
      await until(() => [l1, l2, l3].every((p) => countFrom(p.bot, 'HOST') >= 20), 'every listener hears the host')
      // L1 has been sending as long as the host: twenty more of the host's packets later, nothing of L1's has arrived.
      const marks = [l1, l2, l3].map((p) => p.bot.received.length)
      const more = () => [l1, l2, l3].every((p, i) => countFrom(p.bot, 'HOST', marks[i]) >= 20)
      await until(more, 'twenty more packets of the host')
      for (const p of [host, l1, l2, l3]) expect(p.bot.received.some((r) => r.from === 'L1')).toBe(false)
      expect(host.bot.received.some((r) => r.from === 'HOST')).toBe(false) // never your own voice back
      expect((await media.debug()).dropped).toBeGreaterThan(dropped)
      // What arrives is the host's packets, on one slot per listener, in order.
      const got = l2.bot.received.filter((r) => r.from === 'HOST')
      expect(new Set(got.map((r) => r.ssrc)).size).toBe(1)
      expect(media.stats().forwardedPackets).toBeGreaterThan(60)
      expect(media.stats().forwardedBytes).toBeGreaterThan(60 * 60)
      host.bot.silence()
      l1.bot.silence()

      // A flood on the uplink is cut at UPLINK_MAX_PPS a second. The budget is per second of the server's clock: the
      // pause lets the current second end, so the burst starts a fresh one and spans two at most.
      await delivered(() => l2.bot.received.length, "the host's last packets")
      await sleep(1100)
      const n0 = l2.bot.received.length
      const burst = Array.from({ length: 600 }, () => host.bot.sendPacket(20))
      await Promise.all(burst)
      await until(() => l2.bot.received.length - n0 > 50, 'the start of the flood')
      await delivered(() => l2.bot.received.length, 'the rest of the flood')
      const got2 = l2.bot.received.length - n0
      expect(got2).toBeGreaterThan(50)
      expect(got2).toBeLessThanOrEqual(2 * UPLINK_MAX_PPS)
      await ok(host, 'room.end', { roomId })
    },
  )

  test('[M6] speaking levels reach the room a few times a second; [M8] muted or demoted: not forwarded', async () => {
    const host = await person('HOST'),
      sp = await person('SP'),
      l = await person('LS')
    const roomId = await liveRoom(host, [sp, l], [sp])
    sp.bot.speak(10)
    const ev = await l.ws.next(
      (e) => e.type === 'room.levels' && e.roomId === roomId && (e.levels[`u:${sp.id}`] ?? 0) > 0,
    )
    expect(ev.levels[`u:${sp.id}`]).toBeLessThanOrEqual(1)
    await until(() => countFrom(l.bot, 'SP') > 0, 'the speaker is heard')
    // The host talks too: the listener's packets of the host measure the time. Both come over one transport, in
    // order: ten of the host's packets after a change, whatever of SP's was forwarded before it has arrived.
    host.bot.speak(30)
    const notHeard = async (what: string) => {
      const drained = l.bot.received.length
      await until(() => countFrom(l.bot, 'HOST', drained) >= 10, `the host heard after ${what}`)
      const mark = l.bot.received.length
      await until(() => countFrom(l.bot, 'HOST', mark) >= 25, `the host heard longer after ${what}`)
      expect([what, countFrom(l.bot, 'SP', mark)]).toEqual([what, 0])
    }

    await ok(sp, 'room.mute', { roomId, muted: true })
    await notHeard('the mute')
    await ok(sp, 'room.mute', { roomId, muted: false })
    const unmuted = l.bot.received.length
    await until(() => countFrom(l.bot, 'SP', unmuted) > 0, 'heard again after unmute')

    await ok(host, 'room.move', { roomId, userId: sp.id })
    await notHeard('the move to the audience')
    sp.bot.silence()
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M4] the three loudest', () => {
  test(
    '[M4] with five speakers at different levels only the three loudest are forwarded; ' +
      '[M5] a slot that changes speaker stays continuous',
    async () => {
      const host = await person('S0'),
        speakers = await Promise.all(['S1', 'S2', 'S3', 'S4'].map(person)),
        l = await person('LX')
      const roomId = await liveRoom(host, [...speakers, l], speakers)
      const all = [host, ...speakers]
      // -dBov: S0 is the quietest … S4 the loudest.
      for (const [i, p] of all.entries()) p.bot.speak(60 - i * 10)
      // Measured in packets: about a second of the three slots (50 packets a second each).
      const WINDOW = 150
      const loudest = await settlesOn(l.bot, ['S2', 'S3', 'S4'], WINDOW, 'the listener hears the three loudest')
      expect(loudest).toEqual(['S2', 'S3', 'S4'])
      // A speaker hears the three loudest of the others.
      const others = await settlesOn(speakers[3]!.bot, ['S1', 'S2', 'S3'], WINDOW, 'S4 hears the three loudest others')
      expect(others).toEqual(['S1', 'S2', 'S3'])

      // S0 gets loud and S4 falls silent: S0 takes over S4's slot.
      const before = l.bot.received.length
      host.bot.speak(0)
      speakers[3]!.bot.silence()
      expect(await settlesOn(l.bot, ['S0', 'S2', 'S3'], WINDOW, 'S0 takes the slot of S4')).toEqual(['S0', 'S2', 'S3'])

      // Every slot of the listener is one stream: same SSRC per slot, sequence numbers +1 each, timestamps forward,
      // the marker on the first packet after a change of speaker.
      const bySlot = new Map<string, Received[]>()
      for (const r of l.bot.received) (bySlot.get(r.mid) ?? bySlot.set(r.mid, []).get(r.mid)!).push(r)
      expect(bySlot.size).toBe(3)
      let changes = 0
      for (const list of bySlot.values()) {
        expect(new Set(list.map((r) => r.ssrc)).size).toBe(1)
        for (let i = 1; i < list.length; i++) {
          const a = list[i - 1]!,
            b = list[i]!
          expect((b.seq - a.seq) & 0xffff).toBe(1)
          const dts = (b.ts - a.ts) >>> 0
          expect(dts).toBeGreaterThan(0)
          expect(dts).toBeLessThan(0x80000000)
          if (a.from !== b.from) {
            changes++
            expect(b.marker).toBe(true)
          }
        }
      }
      expect(changes).toBeGreaterThanOrEqual(1)
      expect(l.bot.received.length).toBeGreaterThan(before)
      for (const p of all) p.bot.silence()
      await ok(host, 'room.end', { roomId })
    },
  )
})

describe('[M9] network change', () => {
  test('[M9] an ICE restart keeps the same peer and slots, and audio flows again', async () => {
    const host = await person('HR'),
      l = await person('LR')
    const roomId = await liveRoom(host, [l])
    host.bot.speak(20)
    await until(() => l.bot.received.length > 10, 'audio before the restart')
    const ssrc = l.bot.received.at(-1)!.ssrc
    const r = await l.bot.restart()
    expect(r.sdp).toContain('a=ice-ufrag')
    const n = l.bot.received.length
    await until(() => l.bot.received.length > n + 10, 'audio after the restart')
    expect(l.bot.received.at(-1)!.ssrc).toBe(ssrc)
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M10] nothing is left behind', () => {
  test('[M10] 100 join/leave cycles leave no peer, transport, UDP socket or timer behind', async () => {
    // Every count is of the server's own: its rooms, peers, timers and ports, and its sockets (see helpers/sockets).
    await until(async () => (await media.debug()).rooms === 0, 'earlier rooms closed')
    const host = await person('HC'),
      l = await person('LC')
    const room = await createRoom(host)
    await ok(host, 'room.join', { roomId: room.id })
    await ok(host, 'room.mute', { roomId: room.id, muted: false })
    await host.bot.connectAudio(room.id)
    host.bot.speak(30)
    // [M30] One socket for all media, whatever the number of peers.
    expect(serverUdp()).toBe(1)
    l.ws.close()
    await l.ws.waitClosed()
    const connections = serverTcp() // earlier tests' members are still connected
    for (let i = 0; i < 100; i++) {
      // A fresh socket each time (one socket may send 20 messages a second).
      const ws = await connectWs(s.url, { cookie: l.http.cookie, origin: s.origin })
      const bot = new Bot(ws, 'LC')
      await ok({ ...l, ws }, 'room.join', { roomId: room.id })
      await bot.connectAudio(room.id)
      if (i % 25 === 0) await until(() => bot.received.length > 0, 'the listener hears the host')
      await ok({ ...l, ws }, 'room.leave', { roomId: room.id })
      await bot.close()
    }
    await until(async () => (await media.debug()).transports === 1, 'peers closed')
    expect(media.stats().peers).toBe(1)
    expect(await media.debug()).toMatchObject({ rooms: 1, peers: 1, timers: 1, transports: 1 })
    expect(serverUdp()).toBe(1)
    // The listeners' WebSockets close asynchronously: the server's connections come back to what they were.
    const closed = () => `the listeners' connections closed (now ${serverTcp()}, before ${connections})`
    await until(() => serverTcp() <= connections, closed)
    host.bot.silence()
    await ok(host, 'room.end', { roomId: room.id })
    await until(async () => (await media.debug()).rooms === 0, 'the room closed')
    expect(await media.debug()).toMatchObject({ rooms: 0, peers: 0, timers: 0, transports: 0 })
    expect(serverUdp()).toBe(1) // the media socket itself stays open
    expect(allServerUdp()).toBe(1)
  })
})

describe('[M38] ICE over TCP', () => {
  test(
    '[M38] with ICE_TCP the offer carries a passive TCP candidate on RTC_TCP_PORT (default RTC_PORT + 1); [M7] ' +
      'TURN URLs come with coturn credentials',
    async () => {
      const t = await startTestServer({
        RTC_PORT: String(ports.at(1500)),
        ICE_TCP: 'true',
        TURN_URLS: 'turn:turn.example.org:3478?transport=udp',
        TURN_SECRET: 'shh',
      })
      const made: Bot[] = []
      try {
        const mk = async (tag: string) => {
          const m = await member(t, tag.toLowerCase())
          const bot = new Bot(m.ws, tag)
          made.push(bot)
          return Object.assign(m, { bot })
        }
        const host = await mk('HT'),
          l = await mk('LT')
        const room = await createRoom(host)
        await ok(host, 'room.join', { roomId: room.id })
        await ok(host, 'room.mute', { roomId: room.id, muted: false })
        await ok(l, 'room.join', { roomId: room.id })
        const r = await host.bot.connectAudio(room.id)
        const tcp = /a=candidate:\S+ 1 tcp \d+ 127\.0\.0\.1 (\d+) typ host tcptype passive/i.exec(r.sdp)
        expect(tcp).not.toBeNull()
        expect(Number(tcp![1])).toBe(ports.at(1501))
        // coturn shared-secret credentials for this member
        expect(r.iceServers).toHaveLength(1)
        expect(r.iceServers[0].urls).toEqual(['turn:turn.example.org:3478?transport=udp'])
        expect(r.iceServers[0].username).toMatch(new RegExp(`^\\d+:${host.id}$`))
        // UDP still works beside it
        await l.bot.connectAudio(room.id)
        host.bot.speak(20)
        await until(() => countFrom(l.bot, 'HT') > 20, 'audio')
        host.bot.silence()
      } finally {
        for (const b of made) await b.close().catch(() => {})
        await t.stop()
      }
    },
  )
})
