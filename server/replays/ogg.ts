// Ogg Opus (RFC 7845) [RP21]: the writer of a replay's and a clip's file, and a reader of our own files (for clips).
// Pages carry up to ~1 s of packets; the first page holds OpusHead alone (beginning of stream), the next ones the
// OpusTags comment header, with the chapters as Vorbis-comment chapter marks (CHAPTER001=00:01:02.000,
// CHAPTER001NAME=…); the last page is marked end of stream and its granule position trims the encoder's padding.
import { closeSync, openSync, writeSync } from 'node:fs'

/** Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0, no final xor. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
    t[i] = r >>> 0
  }
  return t
})()

export function oggCrc(bytes: Uint8Array): number {
  let crc = 0
  for (let i = 0; i < bytes.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0
  return crc
}

const FLAG_CONTINUED = 1
const FLAG_BOS = 2
const FLAG_EOS = 4
/** A page is written when it holds this many samples (1 s) or its segment table is full. */
const PAGE_SAMPLES = 48_000
const MAX_SEGMENTS = 255

export interface Chapter {
  startMs: number
  title: string
}

/** 00:01:02.000 */
export function chapterTime(ms: number): string {
  const t = Math.max(0, Math.round(ms))
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  const hms = `${pad(Math.floor(t / 3_600_000))}:${pad(Math.floor(t / 60_000) % 60)}:${pad(Math.floor(t / 1000) % 60)}`
  return `${hms}.${pad(t % 1000, 3)}`
}

/** The Vorbis-comment chapter extension's comments for `chapters`, in order (CHAPTER001 is the first). */
export function chapterComments(chapters: readonly Chapter[]): string[] {
  return chapters.flatMap((c, i) => {
    const n = String(i + 1).padStart(3, '0')
    return [`CHAPTER${n}=${chapterTime(c.startMs)}`, `CHAPTER${n}NAME=${c.title.replace(/[\r\n]+/g, ' ')}`]
  })
}

function opusHead(preSkip: number): Uint8Array {
  const b = Buffer.alloc(19)
  b.write('OpusHead', 0, 'latin1')
  b[8] = 1 // version
  b[9] = 1 // channels
  b.writeUInt16LE(preSkip, 10)
  b.writeUInt32LE(48_000, 12) // the input's rate, for information
  b.writeInt16LE(0, 16) // output gain
  b[18] = 0 // channel mapping family 0: mono or stereo
  return b
}

function opusTags(vendor: string, comments: readonly string[]): Uint8Array {
  const parts = [Buffer.from('OpusTags', 'latin1')]
  const str = (s: string) => {
    const body = Buffer.from(s, 'utf8')
    const len = Buffer.alloc(4)
    len.writeUInt32LE(body.length)
    parts.push(len, body)
  }
  str(vendor)
  const count = Buffer.alloc(4)
  count.writeUInt32LE(comments.length)
  parts.push(count)
  for (const c of comments) str(c)
  return Buffer.concat(parts)
}

/**
 * Writes an Ogg Opus stream to a file as packets come: `add(packet, samples)` for each, then `finish(samples)` with
 * the count of real samples (without the pre-skip), which closes the file. `abort()` closes it unfinished.
 */
export class OggOpusWriter {
  private readonly fd: number
  private readonly serial = (Math.random() * 0x1_0000_0000) >>> 0
  private seq = 0
  private granule = 0
  private packets: Uint8Array[] = []
  private segments = 0
  private pageSamples = 0
  private closed = false
  /** Bytes written so far. */
  bytes = 0

  constructor(
    path: string,
    private readonly preSkip: number,
    comments: readonly string[],
    vendor = 'Townhall (libopus 1.4)',
  ) {
    this.fd = openSync(path, 'w')
    this.granule = preSkip
    this.page([opusHead(preSkip)], 0, FLAG_BOS)
    this.page([opusTags(vendor, comments)], 0, 0)
  }

  add(packet: Uint8Array, samples: number) {
    const segs = Math.floor(packet.length / 255) + 1
    // A full page is written when the next packet comes, so the last page always has packets to end the stream.
    if (this.segments + segs > MAX_SEGMENTS || this.pageSamples >= PAGE_SAMPLES) this.flush(0)
    this.packets.push(packet)
    this.segments += segs
    this.pageSamples += samples
    this.granule += samples
  }

  /** Ends the stream: its last granule position is pre-skip + `samples` (what a player plays, padding cut off). */
  finish(samples: number) {
    this.granule = Math.min(this.granule, this.preSkip + samples)
    this.flush(FLAG_EOS, true)
    this.close()
  }

  abort() {
    this.close()
  }

  private close() {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
  }

  private flush(flags: number, always = false) {
    if (this.packets.length === 0 && !always) return
    this.page(this.packets, this.granule, flags)
    this.packets = []
    this.segments = 0
    this.pageSamples = 0
  }

  /** Writes whole packets on one page or more (a header packet larger than a page continues on the next). */
  private page(packets: Uint8Array[], granule: number, flags: number) {
    // Lacing values of every packet; a packet of n bytes takes floor(n/255) 255s and one n%255.
    const lacing: number[] = []
    for (const p of packets) {
      for (let n = p.length; n >= 255; n -= 255) lacing.push(255)
      lacing.push(p.length % 255)
    }
    const data = Buffer.concat(packets)
    let at = 0
    let segAt = 0
    let continued = false
    do {
      const segs = lacing.slice(segAt, segAt + MAX_SEGMENTS)
      const len = segs.reduce((a, b) => a + b, 0)
      const last = segAt + segs.length >= lacing.length
      // A page whose last segment is 255 ends inside a packet: no packet finishes there, granule -1.
      const ends = last && (segs.length === 0 || segs[segs.length - 1]! < 255)
      const head = Buffer.alloc(27 + segs.length)
      head.write('OggS', 0, 'latin1')
      head[4] = 0
      head[5] = (continued ? FLAG_CONTINUED : 0) | (last ? flags : flags & FLAG_BOS)
      if (ends || last) head.writeBigUInt64LE(BigInt(granule), 6)
      else head.writeBigInt64LE(-1n, 6)
      head.writeUInt32LE(this.serial, 14)
      head.writeUInt32LE(this.seq++, 18)
      head[26] = segs.length
      for (let i = 0; i < segs.length; i++) head[27 + i] = segs[i]!
      const page = Buffer.concat([head, data.subarray(at, at + len)])
      page.writeUInt32LE(oggCrc(page), 22)
      writeSync(this.fd, page)
      this.bytes += page.length
      at += len
      segAt += segs.length
      continued = !last && segs[segs.length - 1] === 255
      flags &= ~FLAG_BOS
    } while (segAt < lacing.length)
  }
}

export interface OggOpusFile {
  preSkip: number
  vendor: string
  comments: string[]
  /** The audio packets in order. */
  packets: Uint8Array[]
  /** The last page's granule position: pre-skip + the samples a player plays. */
  lastGranule: number
}

/** Reads an Ogg Opus file of one stream (ours): headers, packets, the final granule. Checks each page's CRC. */
export function readOggOpus(bytes: Uint8Array): OggOpusFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const packets: Uint8Array[] = []
  let partial: Buffer[] = []
  let lastGranule = 0
  let at = 0
  while (at + 27 <= buf.length) {
    if (buf.toString('latin1', at, at + 4) !== 'OggS') throw new Error(`ogg: no page at byte ${at}`)
    const nsegs = buf[at + 26]!
    const lacing = buf.subarray(at + 27, at + 27 + nsegs)
    const len = lacing.reduce((a, b) => a + b, 0)
    const end = at + 27 + nsegs + len
    if (end > buf.length) throw new Error(`ogg: a torn page at byte ${at}`)
    const page = Buffer.from(buf.subarray(at, end))
    const crc = page.readUInt32LE(22)
    page.writeUInt32LE(0, 22)
    if (oggCrc(page) !== crc) throw new Error(`ogg: a bad checksum at byte ${at}`)
    const granule = buf.readBigInt64LE(at + 6)
    if (granule >= 0n) lastGranule = Number(granule)
    let p = at + 27 + nsegs
    for (const l of lacing) {
      partial.push(buf.subarray(p, p + l))
      p += l
      if (l < 255) {
        packets.push(Buffer.concat(partial))
        partial = []
      }
    }
    at = end
  }
  const [head, tags, ...audio] = packets
  if (!head || Buffer.from(head).toString('latin1', 0, 8) !== 'OpusHead') throw new Error('ogg: not an Opus stream')
  if (!tags || Buffer.from(tags).toString('latin1', 0, 8) !== 'OpusTags') throw new Error('ogg: no OpusTags')
  const t = Buffer.from(tags)
  let q = 8
  const str = () => {
    const n = t.readUInt32LE(q)
    const s = t.toString('utf8', q + 4, q + 4 + n)
    q += 4 + n
    return s
  }
  const vendor = str()
  const count = t.readUInt32LE(q)
  q += 4
  const comments: string[] = []
  for (let i = 0; i < count; i++) comments.push(str())
  return { preSkip: Buffer.from(head).readUInt16LE(10), vendor, comments, packets: audio, lastGranule }
}
