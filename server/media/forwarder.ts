// The SFU's pure logic, with no sockets: reading RFC 6464 audio levels, ranking speakers, assigning the K
// downlink slots of a listener, and rewriting a slot's sequence numbers and timestamps so that each slot looks
// like one continuous stream to the browser even when the speaker in it changes.

/** Downlink slots per listener: the K loudest speakers are forwarded. */
export const K_SLOTS = 3
/** The Opus payload type of our offer (an answer may map it to another in each section). */
export const OPUS_PT = 111
/** Opus RTP clock: 48 kHz. */
const OPUS_CLOCK_PER_MS = 48
/** One Opus frame of 20 ms, the smallest timestamp step we use at a speaker change. */
export const OPUS_FRAME_TS = 960

/**
 * The RFC 6464 level of a raw RTP packet (the one-byte header extension with the given id), in -dBov 0..127
 * (0 is loudest), or -1 when the packet carries none. Reads the bytes in place; allocates nothing.
 */
export function audioLevelDbov(packet: Uint8Array, extId: number): number {
  if (packet.length < 12 || (packet[0]! & 0x10) === 0) return -1
  const cc = packet[0]! & 0x0f
  let p = 12 + cc * 4
  if (packet.length < p + 4) return -1
  const profile = (packet[p]! << 8) | packet[p + 1]!
  const words = (packet[p + 2]! << 8) | packet[p + 3]!
  p += 4
  const end = Math.min(packet.length, p + words * 4)
  if (profile === 0xbede) {
    while (p < end) {
      const b = packet[p]!
      if (b === 0) {
        p++
        continue
      } // padding
      const id = b >> 4
      const len = (b & 0x0f) + 1
      if (id === 15) break
      if (id === extId) return packet[p + 1]! & 0x7f
      p += 1 + len
    }
  } else if ((profile & 0xfff0) === 0x1000) {
    // two-byte header
    while (p + 1 < end) {
      const id = packet[p]!
      if (id === 0) {
        p++
        continue
      }
      const len = packet[p + 1]!
      if (id === extId && len >= 1) return packet[p + 2]! & 0x7f
      p += 2 + len
    }
  }
  return -1
}

/** The level of a parsed packet's extensions (werift's RtpHeader.extensions), in -dBov, or -1. */
export function audioLevelOfExtensions(exts: readonly { id: number; payload: Uint8Array }[], extId: number): number {
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!
    if (e.id === extId && e.payload.length >= 1) return e.payload[0]! & 0x7f
  }
  return -1
}

/** -dBov → 0..1 for the speaking rings and the ranking: 0 dBov is 1, -70 dBov and quieter are 0. */
export function levelFromDbov(dbov: number): number {
  if (dbov < 0) return 0
  if (dbov >= 127) return 0
  const v = 1 - dbov / 70
  return v <= 0 ? 0 : v > 1 ? 1 : Math.round(v * 1000) / 1000
}

/**
 * Chooses a listener's slots: the first K of `ranking` (loudest first) other than the listener, keeping a
 * speaker in the slot they already hold so that a slot changes only when its speaker drops out of the top K.
 * Returns a new array when something changed, or the same array.
 */
export function assignSlots(
  current: readonly (string | null)[],
  ranking: readonly string[],
  self: string,
  k = K_SLOTS,
): (string | null)[] {
  const want: string[] = []
  for (const key of ranking) {
    if (key === self) continue
    want.push(key)
    if (want.length === k) break
  }
  const next: (string | null)[] = current.map((s) => (s !== null && want.includes(s) ? s : null))
  for (const key of want) {
    if (next.includes(key)) continue
    const free = next.indexOf(null)
    if (free < 0) break
    next[free] = key
  }
  for (let i = 0; i < k; i++) if (next[i] !== current[i]) return next
  return current as (string | null)[]
}

/**
 * One downlink slot of one listener: its own SSRC, and the mapping of the current speaker's sequence numbers
 * and timestamps onto a single continuous stream. `map()` writes the rewritten values into `seq`, `ts`, `marker`.
 */
export class SlotRewriter {
  /** The speaker whose packets go into the slot (null: none). */
  source: string | null = null
  private switched = false
  private started = false
  private seqOffset = 0
  private tsOffset = 0
  private lastSeq = 0
  private lastTs = 0
  private lastAt = 0
  seq = 0
  ts = 0
  marker = false
  packets = 0

  constructor(readonly ssrc: number) {}

  /** Puts another speaker (or nobody) into the slot; the next packet continues the numbering with the marker set. */
  setSource(key: string | null) {
    if (key === this.source) return
    this.source = key
    this.switched = true
  }

  /** Rewrites one packet of the current source. `now` in ms. */
  map(seqIn: number, tsIn: number, now: number) {
    if (this.switched) {
      this.switched = false
      if (this.started) {
        const gap = Math.max(OPUS_FRAME_TS, Math.round((now - this.lastAt) * OPUS_CLOCK_PER_MS))
        this.seqOffset = (this.lastSeq + 1 - seqIn) & 0xffff
        this.tsOffset = (this.lastTs + gap - tsIn) >>> 0
      } else {
        this.seqOffset = 0
        this.tsOffset = 0
      }
      this.marker = true
    } else this.marker = false
    this.started = true
    this.seq = (seqIn + this.seqOffset) & 0xffff
    this.ts = (tsIn + this.tsOffset) >>> 0
    // Only move forward: a late packet of the same source keeps its place, the continuity point does not go back.
    if (this.packets === 0 || ((this.seq - this.lastSeq) & 0xffff) < 0x8000) {
      this.lastSeq = this.seq
      this.lastTs = this.ts
      this.lastAt = now
    }
    this.packets++
  }
}
