// The forwarding plane alone: a Router with fake downlinks, no werift and no sockets. What signalling hands it (an
// Endpoint's packets, a Downlink once connected) is all it needs; the levels observer taps it.
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { LevelsObserver, type Levels } from '../../server/media/levels'
import { MediaCounters, Router, type Downlink, type Endpoint, type RtpIn } from '../../server/media/router'
import { SrtpWriter } from '../../server/media/srtp'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const LEVEL_EXT = 1

/** "Protects" by copying: the header as written, then the payload. */
class PlainWriter extends SrtpWriter {
  protect(header: Uint8Array, payload: Uint8Array): Buffer {
    return Buffer.concat([header, payload])
  }
}

interface Sent {
  from: string
  ssrc: number
  seq: number
  marker: boolean
}
class FakeDownlink implements Downlink {
  readonly sent: Sent[] = []
  private writer = new PlainWriter()
  up = true
  open() {
    return this.up ? this.writer : null
  }
  send(p: Buffer) {
    const marker = (p[1]! & 0x80) !== 0
    this.sent.push({ from: p.subarray(12).toString(), ssrc: p.readUInt32BE(8), seq: p.readUInt16BE(2), marker })
  }
}

const packet = (from: string, seq: number, dbov: number): RtpIn => ({
  header: {
    sequenceNumber: seq & 0xffff,
    timestamp: (seq * 960) >>> 0,
    extensions: [{ id: LEVEL_EXT, payload: Buffer.from([dbov]) }],
  },
  payload: Buffer.from(from),
})

let router: Router | null = null
afterEach(() => router?.close())

function room(levels: Levels[] = []) {
  const counters = new MediaCounters()
  router = new Router(1, counters, [new LevelsObserver((l) => levels.push(l))])
  const r = router
  let ssrc = 100
  const join = (key: string, role: 'host' | 'speaker' | 'audience') => {
    const ep: Endpoint = r.add(key, [ssrc++, ssrc++, ssrc++], { role, muted: false })
    const down = new FakeDownlink()
    ep.setLevelExtension(LEVEL_EXT)
    ep.connect(down, [111, 111, 111])
    return { ep, down }
  }
  return { r, counters, join }
}

/** An Opus frame: every speaker sends one packet this often. */
const FRAME_MS = 20

/** Every speaker sends one packet per frame at their level until stopped. */
function talk(list: [string, Endpoint, number][]) {
  let seq = 0
  const t = setInterval(() => {
    seq++
    for (const [from, ep, dbov] of list) ep.receive(packet(from, seq, dbov))
  }, FRAME_MS)
  return () => clearInterval(t)
}

describe('[M4] the router alone', () => {
  test('[M4] the three loudest reach a listener, one per slot; [M2] audience dropped; [M6] levels tap it', async () => {
    const levels: Levels[] = []
    const { r, counters, join } = room(levels)
    const s = ['s0', 's1', 's2', 's3'].map((k) => join(k, 'speaker'))
    const aud = join('a', 'audience')
    const l = join('l', 'audience')
    // -dBov: s3 is the loudest, s0 the quietest; the audience member is loud but not on stage.
    const voices = s.map((p, i): [string, Endpoint, number] => [`s${i}`, p.ep, 60 - i * 15])
    const stop = talk([...voices, ['a', aud.ep, 0]])
    try {
      await until(() => levels.some((x) => Object.keys(x).length === 4), 'levels of the four speakers')
      const n = l.down.sent.length
      await until(() => l.down.sent.length > n + 60, 'packets after the ranking settled')
      const recent = l.down.sent.slice(n)
      expect([...new Set(recent.map((x) => x.from))].sort()).toEqual(['s1', 's2', 's3'])
      expect(new Set(recent.map((x) => x.ssrc)).size).toBe(3)
      expect(l.down.sent.some((x) => x.from === 'a')).toBe(false)
      expect(counters.droppedPackets).toBeGreaterThan(0)
      expect(counters.forwardedPackets).toBeGreaterThan(60)
      expect(Object.keys(levels.at(-1)!).sort()).toEqual(['s0', 's1', 's2', 's3'])
      // A speaker never hears themselves.
      expect(s[3]!.down.sent.some((x) => x.from === 's3')).toBe(false)
    } finally {
      stop()
    }
    r.close()
    expect(levels.at(-1)).toEqual({}) // the rings clear when the room's audio ends
  })

  test('[M8] a muted speaker stops at once; [M5] one stream per slot; disconnected: nothing sent', async () => {
    const { r, join } = room()
    const sp = join('sp', 'speaker')
    const l = join('l', 'audience')
    const stop = talk([['sp', sp.ep, 20]])
    try {
      await until(() => l.down.sent.length > 10, 'the speaker is heard')
      r.update('sp', { muted: true })
      const n = l.down.sent.length
      await new Promise((res) => setTimeout(res, 200))
      expect(l.down.sent.length).toBe(n)
      r.update('sp', { muted: false })
      await until(() => l.down.sent.length > n + 10, 'heard again after unmute')
      const got = l.down.sent
      expect(new Set(got.map((x) => x.ssrc)).size).toBe(1)
      for (let i = 1; i < got.length; i++) expect((got[i]!.seq - got[i - 1]!.seq) & 0xffff).toBe(1)
      expect(got[0]!.marker).toBe(true)
      l.ep.disconnect()
      const m = l.down.sent.length
      await new Promise((res) => setTimeout(res, 200))
      expect(l.down.sent.length).toBe(m)
    } finally {
      stop()
    }
  })
})

describe('the seams of the router', () => {
  test('[M54] a tap gets each forwarded uplink packet in a microtask, with its level; [M56] reports', async () => {
    const taps = new Set<(p: import('../../server/contracts').TapPacket) => void>()
    const got: { key: string; seq: number; level: number; payload: string }[] = []
    taps.add((p) => got.push({ key: p.key, seq: p.seq, level: p.level, payload: p.payload.toString() }))
    router = new Router(7, new MediaCounters(), [], false, taps)
    const sp = router.add('u:5', [1, 2, 3], { role: 'speaker', muted: false })
    sp.setLevelExtension(LEVEL_EXT)
    const aud = router.add('u:6', [4, 5, 6], { role: 'audience', muted: false })
    const down = new FakeDownlink()
    aud.connect(down, [111, 111, 111])
    sp.receive(packet('sp', 1, 0))
    aud.receive(packet('aud', 1, 0)) // not allowed to speak: not forwarded, not tapped
    expect(got).toEqual([]) // not during the packet's own handling
    await Promise.resolve()
    expect(got).toEqual([{ key: 'u:5', seq: 1, level: 1, payload: 'sp' }])

    expect(router.feedback().reports).toBe(0)
    aud.receiverReport(4, 0.25, 480)
    aud.receiverReport(5, 0.75, 960)
    aud.receiverReport(99, 1, 1) // not one of its slots
    expect(router.feedback()).toEqual({ reports: 2, lossRatio: 0.5, jitterSeconds: 0.015 })
    expect(router.feedback(performance.now() + 60_000).reports).toBe(0) // stale reports stop counting
  })
})

describe('[M51] levels are coalesced', () => {
  test('[M51] rounded to 0.1, sent every third tick only when changed; {} once when all fell silent', () => {
    const sent: Levels[] = []
    const obs = new LevelsObserver((l) => sent.push(l))
    let active: [string, number][] = []
    const fake = {
      eachActive: (fn: (k: string, v: number) => void) => {
        for (const [k, v] of active) fn(k, v)
      },
    }
    const ticks = (n: number) => {
      for (let i = 0; i < n; i++) obs.tick(fake as unknown as Router)
    }
    active = [['u:1', 0.52]]
    ticks(3)
    expect(sent).toEqual([{ 'u:1': 0.5 }])
    active = [['u:1', 0.48]] // the same after rounding: nothing sent
    ticks(30)
    expect(sent).toHaveLength(1)
    active = [
      ['u:1', 0.48],
      ['u:2', 0.9],
    ]
    ticks(3)
    expect(sent.at(-1)).toEqual({ 'u:1': 0.5, 'u:2': 0.9 })
    active = []
    ticks(30)
    expect(sent.slice(2)).toEqual([{}])
  })
})
