// The origin → edge relay on the wire (M64–M66): one speaker's RTP, decrypted at the origin, sent as plain RTP fields
// in a UDP datagram from the origin's media socket to the edge's (the same RTC port as its peers: the first byte,
// 0xFE, is none of RFC 7983's STUN, DTLS, TURN or RTP/RTCP ranges, so the socket tells it apart at once). Each relay
// (one room, one origin, one edge) has its own id and 32-byte key, made by the origin and given to the edge over
// Redis; every datagram carries a counter and ends with a truncated HMAC-SHA-256 under that key. An edge drops a
// datagram of an unknown relay, with a wrong tag, or whose counter it has seen (a window of 32 behind the highest).
//
//   0      0xFE
//   1      audio level of the packet in -dBov (0..127), 0xFF: none
//   2..5   relay id (u32)
//   6..9   counter (u32, from 1, per relay)
//   10..11 RTP sequence number of the speaker's uplink
//   12..15 RTP timestamp of the speaker's uplink
//   16     length n of the speaker's participant key (1..64)
//   17..   the key (ASCII: `u:<id>` or `g:<conn>`), then the Opus payload
//   last 16 bytes: HMAC-SHA-256(key, everything before)[0..16]
//
// The speaker's key travels in every datagram rather than an SSRC mapped over Redis: a packet that arrives before its
// mapping would otherwise be lost, and the edge's router ranks and places speakers by key, as the origin's does.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const RELAY_MARK = 0xfe
const HEAD = 17
const TAG = 16
const MAX_KEY = 64
/** The replay window: a counter this far behind the highest seen is refused. */
const WINDOW = 32

/** Where the origin sends one relay: the edge plane's address and the relay's id and key (hex, 32 bytes). */
export interface RelayTarget {
  relayId: number
  ip: string
  port: number
  secret: string
}

/** What an edge plane accepts: a relay's id and key, for one room. */
export interface RelaySource {
  relayId: number
  secret: string
}

function tag(secret: Buffer, body: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(body).digest().subarray(0, TAG)
}

/** One room's relays at the origin: each speaker's packet goes once to each edge. */
export class RelayOut {
  private targets: { t: RelayTarget; secret: Buffer; counter: number; packets: number }[] = []
  /** The packet's fields, written once per uplink packet and copied per edge (each datagram is its own buffer). */
  constructor(
    readonly roomId: number,
    private readonly send: (packet: Buffer, port: number, ip: string) => void,
  ) {}

  get active() {
    return this.targets.length > 0
  }

  /** The edges to send to now; a relay kept (same id) keeps its counter. */
  set(targets: readonly RelayTarget[]) {
    const old = new Map(this.targets.map((x) => [x.t.relayId, x]))
    this.targets = targets.map((t) => {
      const was = old.get(t.relayId)
      if (was && was.t.secret === t.secret && was.t.ip === t.ip && was.t.port === t.port) return was
      return { t, secret: Buffer.from(t.secret, 'hex'), counter: 0, packets: 0 }
    })
  }

  /** One uplink packet of a speaker who may be heard: once to every edge. */
  relay(key: string, seq: number, ts: number, dbov: number, payload: Buffer) {
    const klen = key.length
    if (klen === 0 || klen > MAX_KEY) return
    for (const x of this.targets) {
      const out = Buffer.allocUnsafe(HEAD + klen + payload.length + TAG)
      out[0] = RELAY_MARK
      out[1] = dbov >= 0 && dbov <= 127 ? dbov : 0xff
      out.writeUInt32BE(x.t.relayId >>> 0, 2)
      x.counter = (x.counter + 1) >>> 0
      out.writeUInt32BE(x.counter, 6)
      out.writeUInt16BE(seq & 0xffff, 10)
      out.writeUInt32BE(ts >>> 0, 12)
      out[16] = klen
      out.write(key, HEAD, 'latin1')
      payload.copy(out, HEAD + klen)
      const end = out.length - TAG
      tag(x.secret, out.subarray(0, end)).copy(out, end)
      x.packets++
      this.send(out, x.t.port, x.t.ip)
    }
  }

  /** Datagrams sent to each relay (tests, /metrics). */
  counts(): { roomId: number; relayId: number; packets: number }[] {
    return this.targets.map((x) => ({ roomId: this.roomId, relayId: x.t.relayId, packets: x.packets }))
  }
}

/** A datagram read by an edge: the speaker, its RTP numbers, the level and the payload (a view of the datagram). */
export interface RelayPacket {
  key: string
  seq: number
  ts: number
  dbov: number
  payload: Buffer
}

/** One relay at the edge: its key and its replay window. */
export class RelayIn {
  private readonly secret: Buffer
  private top = 0
  private mask = 0
  constructor(
    readonly roomId: number,
    readonly source: RelaySource,
  ) {
    this.secret = Buffer.from(source.secret, 'hex')
  }

  /** The packet, or null when its tag is wrong or its counter was seen (or too old). */
  open(data: Buffer): RelayPacket | null {
    if (data.length < HEAD + 1 + TAG || data[0] !== RELAY_MARK) return null
    const klen = data[16]!
    if (klen === 0 || klen > MAX_KEY || data.length < HEAD + klen + TAG) return null
    const end = data.length - TAG
    const want = tag(this.secret, data.subarray(0, end))
    if (!timingSafeEqual(want, data.subarray(end))) return null
    if (!this.fresh(data.readUInt32BE(6))) return null
    const level = data[1]!
    return {
      key: data.toString('latin1', HEAD, HEAD + klen),
      seq: data.readUInt16BE(10),
      ts: data.readUInt32BE(12),
      dbov: level === 0xff ? -1 : level,
      payload: data.subarray(HEAD + klen, end),
    }
  }

  /** The replay window (RFC 4303 §3.4.3's, 32 wide): a counter is taken once. */
  private fresh(n: number): boolean {
    if (n === 0) return false
    if (n > this.top) {
      const shift = n - this.top
      this.mask = shift >= WINDOW ? 1 : ((this.mask << shift) | 1) >>> 0
      this.top = n
      return true
    }
    const d = this.top - n
    if (d >= WINDOW) return false
    const bit = (1 << d) >>> 0
    if (this.mask & bit) return false
    this.mask = (this.mask | bit) >>> 0
    return true
  }
}

/** The relay id a datagram names (its tag not checked yet), or -1. */
export function relayIdOf(data: Buffer): number {
  return data.length >= HEAD + TAG ? data.readUInt32BE(2) : -1
}
