// A burst of listeners joining at once (issue 14, "overload is a decision, not a collapse"), with real sockets and
// werift bots: DTLS handshakes wait their turn at the media socket's gate, in arrival order, with no connect timer
// running while they wait (M57, M58), werift's key exchange goes through OpenSSL (M61), and past
// MEDIA_MAX_CONNECTING peers connecting at once a new listener gets `media_busy` with a time to retry (M59).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { Bot, until } from '../helpers/bot'
import type { MediaService } from '../../server/media/service'
import { nativeKeyExchange } from '../../server/media/dtls-crypto'
import { createRoom, member, ok, outcome, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts), away from every ephemeral port and other files'.
const ports = await reservePorts()

const BURST = 40
const HANDSHAKES = 2
const MAX_CONNECTING = BURST + 5
/** A generous limit for one join while 40 bots and the server share a busy machine. */
const JOIN_WAIT = 150_000

let s: TestServer
let media: MediaService
const bots: Bot[] = []
const sockets: WsClient[] = []
const members: Member[] = []

beforeAll(async () => {
  Bot.portRange = ports.range(0, 999)
  s = await startTestServer({
    GUESTS: 'true',
    MEDIA_HANDSHAKES: String(HANDSHAKES),
    MEDIA_MAX_CONNECTING: String(MAX_CONNECTING),
    // The gate is held and observed from the test: the data plane runs in this thread.
    MEDIA_WORKERS: '0',
  })
  media = s.ctx.media.service
})
afterAll(async () => {
  for (let i = 0; i < bots.length; i += 10)
    await Promise.all(bots.slice(i, i + 10).map((b) => b.close().catch(() => {})))
  for (const w of sockets) w.close()
  for (const m of members) m.ws.close()
  await s.stop()
  Bot.portRange = undefined
  await ports.release()
})

/** A guest's socket in the room (no audio yet). */
async function guest(roomId: number) {
  const ws = await connectWs(s.url, { origin: s.origin })
  sockets.push(ws)
  const r = await ws.request('room.join', { roomId }, JOIN_WAIT)
  if (!r.ok) throw new Error(`guest join: ${r.error.code}`)
  return ws
}

/** A live room whose host speaks (unmuted, audio connected). */
async function speakingRoom(tag: string) {
  const host = await member(s, tag.toLowerCase())
  members.push(host)
  const bot = new Bot(host.ws, tag)
  bots.push(bot)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  await bot.connectAudio(room.id)
  return { host, bot, roomId: room.id }
}

const gate = () => media.handshakeGate()!

describe('[M57] a burst of joins: handshakes wait their turn', () => {
  test(
    `[M57] [M58] [M61] ${BURST} listeners joining at once all connect through a gate of ${HANDSHAKES}, in arrival ` +
      'order, with no connect timer while they wait; all of them hear the speaker',
    async () => {
      const { bot: speaker, roomId } = await speakingRoom('SB')
      speaker.speak(10)
      const exchanges = nativeKeyExchange.calls
      const before = gate().stats()
      // Hold the gate so that the whole burst is seen waiting (the test's hook; the server never pauses).
      gate().pause(true)
      const listeners = await Promise.all(
        Array.from({ length: BURST }, async (_, i) => {
          const bot = new Bot(await guest(roomId), `L${i}`)
          bots.push(bot)
          return bot
        }),
      )
      const joined = listeners.map((b) => b.connectAudio(roomId, JOIN_WAIT).then(() => b))
      await until(
        () => gate().stats().queued === BURST,
        () => `${BURST} waiting: ${JSON.stringify(gate().stats())}`,
      )
      // M58: waiting is not failing. Nothing connected yet and no connect timer runs for those waiting: the only
      // timer left is the room's router tick.
      expect((await media.debug()).timers).toBe(1)
      expect(gate().stats().inFlight).toBe(0)
      gate().pause(false)
      const all = await Promise.allSettled(joined)
      const failed = all.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))
      expect(failed).toEqual([])
      const after = gate().stats()
      expect(after.admitted - before.admitted).toBe(BURST)
      expect(after.maxQueued).toBeGreaterThanOrEqual(BURST)
      expect(after.maxInFlight).toBeLessThanOrEqual(HANDSHAKES)
      expect(after.outOfOrder).toBe(0)
      expect(after.queued).toBe(0)
      expect((await media.rtcStats())!.connecting).toBe(0)
      // M61: the handshakes' key exchange went through OpenSSL (the bots' side counts here too: same process).
      expect(nativeKeyExchange.calls - exchanges).toBeGreaterThanOrEqual(2 * BURST)
      for (const b of listeners) await until(() => b.heardFrom().has('SB'), `${b.tag} hears the speaker`, JOIN_WAIT)
      speaker.silence()
    },
  )
})

describe('[M59] too many connecting at once: a clear refusal', () => {
  test(
    '[M59] past MEDIA_MAX_CONNECTING peers connecting, a new listener gets media_busy with a time to retry; ' +
      'the stage still connects; when the others are through, the listener gets in',
    async () => {
      const { host, bot: hostBot, roomId } = await speakingRoom('SC')
      // Listeners that asked for an offer and never answer: each is a peer connecting.
      const pending: WsClient[] = []
      for (let i = 0; i < MAX_CONNECTING; i++) {
        const ws = await guest(roomId)
        const r = await ws.request('rtc.connect', { roomId })
        expect(r.ok).toBe(true)
        pending.push(ws)
      }
      expect((await media.rtcStats())!.connecting).toBe(MAX_CONNECTING)
      const late = await guest(roomId)
      const refused = await late.request('rtc.connect', { roomId })
      expect(refused.ok).toBe(false)
      if (refused.ok) return
      expect(refused.error.code).toBe('media_busy')
      expect(refused.error.message).toMatch(/busy.*Retry in \d+ s\./)
      // Nothing was created for it.
      expect((await media.rtcStats())!.connecting).toBe(MAX_CONNECTING)
      // The stage is never refused: the host reconnects its audio while the listeners wait.
      await hostBot.closeAudio()
      await hostBot.connectAudio(roomId, JOIN_WAIT)
      expect(await outcome(host, 'room.mute', { roomId, muted: false })).toBe('ok')
      // One of those connecting gives up: the refused listener's retry gets in and connects.
      const gone = pending.pop()!
      expect((await gone.request('rtc.leave', { roomId })).ok).toBe(true)
      const bot = new Bot(late, 'LATE')
      bots.push(bot)
      await bot.connectAudio(roomId, JOIN_WAIT)
      for (const ws of pending) await ws.request('rtc.leave', { roomId })
      expect((await media.rtcStats())!.connecting).toBe(0)
    },
  )
})
