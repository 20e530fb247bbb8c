// Video and voice files judged by their container, never by their name or a declared type: MP4 (the ftyp and moov
// boxes, the codec fourccs of each track's stsd), WebM (the EBML header's DocType, each track's CodecID, the
// duration from Info or from the last block) and Ogg Opus (OggS pages whose first packet is OpusHead, the duration
// from the last granule position). Nothing is decoded: only headers are read, so a check costs a walk over the boxes
// or elements. Metadata the container lets us drop without moving a byte (MP4 udta/meta boxes, WebM Tags and Title)
// is overwritten in place with padding (a `free` box, a Void element), so every offset in the file stays right. An
// Ogg's comment page (OpusTags) is rewritten empty with its checksum (Ogg has no offsets), when it is one page.

import { concat } from './strip-metadata'
type ContainerKind = 'mp4' | 'webm' | 'ogg'

export interface Container {
  kind: ContainerKind
  mime: 'video/mp4' | 'video/webm' | 'audio/webm' | 'audio/ogg'
  ext: 'mp4' | 'webm' | 'ogg'
  /** Codecs of the tracks, e.g. ['h264', 'aac'] or ['vp8', 'opus']. */
  codecs: string[]
  hasVideo: boolean
  hasAudio: boolean
  /** From the container when it says (milliseconds), else null (a MediaRecorder WebM has no Duration element). */
  durationMs: number | null
  /** The file to keep when dropping its metadata changed its length (an Ogg's comments); else the bytes given. */
  bytes: Uint8Array
}

/** Why a file was refused (the caller turns it into `unsupported_media`). */
export class ContainerError extends Error {}
const bad = (why: string): never => {
  throw new ContainerError(why)
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n))

// ——— MP4 (ISO BMFF) ———

interface Box {
  type: string
  start: number
  /** Where its payload starts. */
  body: number
  end: number
}

function* boxes(b: Uint8Array, dv: DataView, from: number, to: number): Generator<Box> {
  let at = from
  while (at + 8 <= to) {
    let size = dv.getUint32(at)
    const type = ascii(b, at + 4, 4)
    let body = at + 8
    if (size === 1) {
      if (at + 16 > to) bad('a box is cut short')
      const big = dv.getBigUint64(at + 8)
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) bad('a box is too large')
      size = Number(big)
      body = at + 16
    } else if (size === 0) size = to - at
    if (size < body - at || at + size > to) bad(`the ${JSON.stringify(type)} box runs past its parent`)
    yield { type, start: at, body, end: at + size }
    at += size
  }
}

const child = (b: Uint8Array, dv: DataView, parent: Box, type: string) => {
  for (const x of boxes(b, dv, parent.body, parent.end)) if (x.type === type) return x
  return null
}

const MP4_VIDEO: Record<string, string> = { avc1: 'h264', avc3: 'h264' }
const MP4_AUDIO: Record<string, string> = { mp4a: 'aac' }
/** Boxes that hold only descriptive metadata (titles, GPS, encoder), blanked where they are found. */
const MP4_META = new Set(['udta', 'meta'])

function blankBox(b: Uint8Array, x: Box) {
  b.set([0x66, 0x72, 0x65, 0x65], x.start + 4) // 'free'
  b.fill(0, x.body, x.end)
}

function parseMp4(b: Uint8Array): Container {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const top = [...boxes(b, dv, 0, b.byteLength)]
  if (top[0]?.type !== 'ftyp') bad('an MP4 starts with an ftyp box')
  const moov = top.find((x) => x.type === 'moov')
  if (!moov) bad('an MP4 needs a moov box')
  if (!top.some((x) => x.type === 'mdat')) bad('an MP4 needs an mdat box')
  const codecs: string[] = []
  let hasVideo = false
  let hasAudio = false
  let durationMs: number | null = null
  for (const x of boxes(b, dv, moov!.body, moov!.end)) {
    if (MP4_META.has(x.type)) blankBox(b, x)
    else if (x.type === 'mvhd') {
      const v1 = b[x.body] === 1
      const ts = dv.getUint32(x.body + (v1 ? 20 : 12))
      const dur = v1 ? Number(dv.getBigUint64(x.body + 24)) : dv.getUint32(x.body + 16)
      if (ts > 0) durationMs = Math.round((dur / ts) * 1000)
    } else if (x.type === 'trak') {
      for (const y of boxes(b, dv, x.body, x.end)) if (MP4_META.has(y.type)) blankBox(b, y)
      let stsd: Box | null = x
      for (const name of ['mdia', 'minf', 'stbl', 'stsd']) stsd = stsd && child(b, dv, stsd, name)
      if (!stsd) bad('a track has no sample description (stsd)')
      // stsd is a full box: version and flags (4 bytes), an entry count (4), then one box per sample entry.
      for (const entry of boxes(b, dv, stsd!.body + 8, stsd!.end)) {
        if (MP4_VIDEO[entry.type]) {
          hasVideo = true
          codecs.push(MP4_VIDEO[entry.type]!)
        } else if (MP4_AUDIO[entry.type]) {
          hasAudio = true
          codecs.push(MP4_AUDIO[entry.type]!)
        } else bad(`an MP4 track in ${JSON.stringify(entry.type)} (only H.264 video and AAC audio)`)
      }
    }
  }
  return { kind: 'mp4', mime: 'video/mp4', ext: 'mp4', codecs, hasVideo, hasAudio, durationMs, bytes: b }
}

// ——— WebM (EBML) ———

const EBML = 0x1a45dfa3
const DOCTYPE = 0x4282
const SEGMENT = 0x18538067
const INFO = 0x1549a966
const TIMESCALE = 0x2ad7b1
const DURATION = 0x4489
const TITLE = 0x7ba9
const TRACKS = 0x1654ae6b
const TRACK_ENTRY = 0xae
const CODEC_ID = 0x86
const TAGS = 0x1254c367
const CLUSTER = 0x1f43b675
const TIMESTAMP = 0xe7
const BLOCK_GROUP = 0xa0
const BLOCK = 0xa1
const SIMPLE_BLOCK = 0xa3

interface Element {
  id: number
  start: number
  body: number
  /** The end of its payload; the end of the parent when the size is unknown (live recordings). */
  end: number
  unknown: boolean
}

function vint(b: Uint8Array, at: number, keepMarker: boolean): { value: number; len: number; allOnes: boolean } {
  const first = b[at]
  if (first === undefined || first === 0) bad('a WebM element is malformed')
  const len = Math.clz32(first!) - 23
  if (len > 8 || at + len > b.byteLength) bad('a WebM element is cut short')
  let value = keepMarker ? first! : first! & (0xff >> len)
  let allOnes = value === 0xff >> len
  for (let i = 1; i < len; i++) {
    value = value * 256 + b[at + i]!
    if (b[at + i] !== 0xff) allOnes = false
  }
  return { value, len, allOnes }
}

function element(b: Uint8Array, at: number, limit: number): Element {
  const id = vint(b, at, true)
  const size = vint(b, at + id.len, false)
  const body = at + id.len + size.len
  const unknown = size.allOnes
  const end = unknown ? limit : body + size.value
  if (end > limit) bad('a WebM element runs past its parent')
  return { id: id.value, start: at, body, end, unknown }
}

function* elements(b: Uint8Array, from: number, to: number): Generator<Element> {
  let at = from
  while (at < to) {
    const e = element(b, at, to)
    yield e
    at = e.end
  }
}

const uint = (b: Uint8Array, e: Element) => {
  let v = 0
  for (let i = e.body; i < e.end; i++) v = v * 256 + b[i]!
  return v
}

/** Overwrites an element with a Void element of the same length (its ID and an 8-byte size), zeroed. */
function voidElement(b: Uint8Array, e: Element) {
  const len = e.end - e.start
  if (len < 9) return
  b.fill(0, e.start, e.end)
  b[e.start] = 0xec
  b[e.start + 1] = 0x01
  let n = len - 9
  for (let i = 8; i >= 2; i--) {
    b[e.start + i] = n % 256
    n = Math.floor(n / 256)
  }
}

const WEBM_CODECS: Record<string, { codec: string; video: boolean }> = {
  V_VP8: { codec: 'vp8', video: true },
  V_VP9: { codec: 'vp9', video: true },
  V_AV1: { codec: 'av1', video: true },
  A_OPUS: { codec: 'opus', video: false },
}

function parseWebm(b: Uint8Array): Container {
  const head = element(b, 0, b.byteLength)
  if (head.id !== EBML) bad('not an EBML file')
  let docType = ''
  for (const e of elements(b, head.body, head.end)) if (e.id === DOCTYPE) docType = ascii(b, e.body, e.end - e.body)
  if (docType.replace(/\0+$/, '') !== 'webm') bad(`the DocType is ${JSON.stringify(docType)}, not "webm"`)
  const seg = element(b, head.end, b.byteLength)
  if (seg.id !== SEGMENT) bad('a WebM needs a Segment')
  const codecs: string[] = []
  let hasVideo = false
  let hasAudio = false
  let scale = 1_000_000
  let declared: number | null = null
  let clusterTs = 0
  let lastTs = -1
  let tracksSeen = false
  // Clusters (and block groups) are entered rather than skipped: a live recording's clusters have an unknown size,
  // so their blocks are read as a flat run until the next cluster.
  let at = seg.body
  while (at < seg.end) {
    const e = element(b, at, seg.end)
    at = e.end
    if (e.id === INFO) {
      for (const x of elements(b, e.body, e.end)) {
        if (x.id === TIMESCALE) scale = uint(b, x) || scale
        else if (x.id === DURATION) {
          const dv = new DataView(b.buffer, b.byteOffset + x.body, x.end - x.body)
          declared = x.end - x.body === 8 ? dv.getFloat64(0) : x.end - x.body === 4 ? dv.getFloat32(0) : null
        } else if (x.id === TITLE) voidElement(b, x)
      }
    } else if (e.id === TRACKS) {
      tracksSeen = true
      for (const entry of elements(b, e.body, e.end)) {
        if (entry.id !== TRACK_ENTRY) continue
        let codecId = ''
        for (const x of elements(b, entry.body, entry.end))
          if (x.id === CODEC_ID) codecId = ascii(b, x.body, x.end - x.body).replace(/\0+$/, '')
        const known = WEBM_CODECS[codecId]
        if (!known) bad(`a WebM track in ${JSON.stringify(codecId)} (only VP8, VP9, AV1 and Opus)`)
        codecs.push(known!.codec)
        if (known!.video) hasVideo = true
        else hasAudio = true
      }
    } else if (e.id === TAGS) voidElement(b, e)
    else if (e.id === CLUSTER || e.id === BLOCK_GROUP) at = e.body
    else if (e.id === TIMESTAMP) clusterTs = uint(b, e)
    else if (e.id === SIMPLE_BLOCK || e.id === BLOCK) {
      const track = vint(b, e.body, false)
      const p = e.body + track.len
      if (p + 2 <= e.end) {
        const rel = (((b[p]! << 8) | b[p + 1]!) << 16) >> 16
        lastTs = Math.max(lastTs, clusterTs + rel)
      }
    }
  }
  if (!tracksSeen || !codecs.length) bad('a WebM needs its Tracks')
  let durationMs: number | null = null
  if (declared !== null && declared > 0) durationMs = Math.round((declared * scale) / 1e6)
  else if (lastTs >= 0) durationMs = Math.round((lastTs * scale) / 1e6)
  return {
    kind: 'webm',
    mime: hasVideo ? 'video/webm' : 'audio/webm',
    ext: 'webm',
    codecs,
    hasVideo,
    hasAudio,
    durationMs,
    bytes: b,
  }
}

// ——— Ogg Opus ———

/** Ogg's page checksum: CRC-32 with polynomial 0x04c11db7, not reflected, starting at 0. */
const OGG_CRC = (() => {
  const t = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    let r = i << 24
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1
    t[i] = r >>> 0
  }
  return t
})()
function oggCrc(page: Uint8Array) {
  let crc = 0
  for (const x of page) crc = ((crc << 8) ^ OGG_CRC[((crc >>> 24) ^ x) & 0xff]!) >>> 0
  return crc
}

/** The page after OpusHead, rewritten with an empty vendor and no comments, if it holds exactly the OpusTags packet. */
function emptyTags(b: Uint8Array, start: number, segments: number, body: number, bodyLen: number): Uint8Array | null {
  const continued = (b[start + 5]! & 1) === 1
  const lacing = b.subarray(start + 27, start + 27 + segments)
  const onePacket = lacing.every((v, i) => (i < lacing.length - 1 ? v === 255 : v < 255))
  if (continued || !onePacket || bodyLen < 8 || ascii(b, body, 8) !== 'OpusTags') return null
  const page = new Uint8Array(27 + 1 + 16)
  page.set(b.subarray(start, start + 27))
  page[26] = 1
  page[27] = 16
  page.set(new TextEncoder().encode('OpusTags'), 28) // then a vendor of length 0 and 0 comments (already zero)
  page.fill(0, 22, 26)
  new DataView(page.buffer).setUint32(22, oggCrc(page), true)
  return page
}

function parseOgg(b: Uint8Array): Container {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let at = 0
  let serial: number | null = null
  let preSkip = 0
  let granule = 0n
  let pages = 0
  let tags: { start: number; end: number; page: Uint8Array } | null = null
  while (at < b.byteLength) {
    if (at + 27 > b.byteLength || ascii(b, at, 4) !== 'OggS') bad('an Ogg page is malformed')
    const segments = b[at + 26]!
    if (at + 27 + segments > b.byteLength) bad('an Ogg page is cut short')
    let bodyLen = 0
    for (let i = 0; i < segments; i++) bodyLen += b[at + 27 + i]!
    const body = at + 27 + segments
    if (body + bodyLen > b.byteLength) bad('an Ogg page is cut short')
    const s = dv.getUint32(at + 14, true)
    if (serial === null) {
      serial = s
      if (bodyLen < 19 || ascii(b, body, 8) !== 'OpusHead') bad('an Ogg file must hold Opus (OpusHead)')
      preSkip = dv.getUint16(body + 10, true)
    } else if (s !== serial) bad('an Ogg voice message holds one Opus stream')
    const g = dv.getBigInt64(at + 6, true)
    if (g > granule) granule = g
    if (pages === 1) {
      const page = emptyTags(b, at, segments, body, bodyLen)
      if (page) tags = { start: at, end: body + bodyLen, page }
    }
    pages++
    at = body + bodyLen
  }
  if (pages < 2) bad('an Ogg Opus file needs its tags and audio')
  const samples = Number(granule) - preSkip
  return {
    kind: 'ogg',
    mime: 'audio/ogg',
    ext: 'ogg',
    codecs: ['opus'],
    hasVideo: false,
    hasAudio: true,
    durationMs: samples > 0 ? Math.round(samples / 48) : null,
    bytes: tags ? concat([b.subarray(0, tags.start), tags.page, b.subarray(tags.end)]) : b,
  }
}

/**
 * Reads a video or audio file's container from its bytes (blanking its metadata in place); ContainerError when it
 * is none of MP4, WebM or Ogg Opus, or holds another codec.
 */
export function readContainer(bytes: Uint8Array): Container {
  try {
    if (bytes.byteLength >= 12 && ascii(bytes, 4, 4) === 'ftyp') return parseMp4(bytes)
    if (bytes.byteLength >= 4 && bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3)
      return parseWebm(bytes)
    if (bytes.byteLength >= 4 && ascii(bytes, 0, 4) === 'OggS') return parseOgg(bytes)
  } catch (e) {
    if (e instanceof ContainerError) throw e
    // A RangeError from a DataView read past the end: a truncated or forged header.
    throw new ContainerError('the file is cut short or malformed')
  }
  return bad('not an MP4, WebM or Ogg file')
}
