// Strips the metadata of uploaded images (EXIF with GPS, camera serials, dates; XMP; IPTC; comments; text chunks),
// byte by byte, without decoding or re-encoding the picture. Only the EXIF orientation is kept (as a minimal EXIF of
// one tag) so that phone photos are not shown sideways.
// JPEG: every APPn segment but APP0 (JFIF), APP2 ICC_PROFILE and APP14 (Adobe) goes, and COM; what follows the end
//   of the image (a second picture, a motion-photo video) goes too.
// PNG: tEXt, zTXt, iTXt, eXIf and tIME chunks go; anything after IEND goes.
// WebP: EXIF and XMP chunks go (the VP8X flags follow); anything past the RIFF size goes.
// Used for avatars and Backchannel images; GIFs are passed through (no EXIF there). Throws StripError on a file that
// does not parse: the caller refuses it rather than store metadata it promised to remove.

export class StripError extends Error {}

const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!
const u32le = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n))

/** The parts in one new array (one copy). */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** The orientation (1–8) in a TIFF structure (EXIF's body), or 1 when there is none or it does not parse. */
function orientationOf(tiff: Uint8Array): number {
  if (tiff.length < 8) return 1
  const order = ascii(tiff, 0, 2)
  if (order !== 'II' && order !== 'MM') return 1
  const le = order === 'II'
  const u16 = (i: number) => (le ? tiff[i]! | (tiff[i + 1]! << 8) : u16be(tiff, i))
  const u32 = (i: number) => (le ? u32le(tiff, i) : ((u16be(tiff, i) << 16) | u16be(tiff, i + 2)) >>> 0)
  if (u16(2) !== 42) return 1
  const ifd = u32(4)
  if (ifd + 2 > tiff.length) return 1
  const n = u16(ifd)
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12
    if (e + 12 > tiff.length) return 1
    if (u16(e) === 0x0112 && u16(e + 2) === 3) {
      const v = u16(e + 8)
      return v >= 1 && v <= 8 ? v : 1
    }
  }
  return 1
}

/** A TIFF structure holding only an orientation tag (big-endian, IFD0 with one entry, no next IFD): 26 bytes. */
function orientationTiff(o: number): Uint8Array {
  return Uint8Array.from([
    0x4d,
    0x4d,
    0x00,
    0x2a,
    0x00,
    0x00,
    0x00,
    0x08,
    0x00,
    0x01,
    0x01,
    0x12,
    0x00,
    0x03,
    0x00,
    0x00,
    0x00,
    0x01,
    0x00,
    o,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
  ])
}

const EXIF_ID = 'Exif\0\0'

function stripJpeg(b: Uint8Array): Uint8Array {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) throw new StripError('not a JPEG')
  const out: Uint8Array[] = [b.subarray(0, 2)]
  let i = 2
  for (;;) {
    if (i + 2 > b.length) throw new StripError('JPEG ends before its end marker')
    if (b[i] !== 0xff) throw new StripError('JPEG segment expected')
    while (b[i + 1] === 0xff) i++ // fill bytes
    const marker = b[i + 1]!
    if (marker === 0xd9) {
      out.push(Uint8Array.from([0xff, 0xd9])) // EOI; whatever follows (another picture, a video) is dropped
      return concat(out)
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      out.push(b.subarray(i, i + 2))
      i += 2
      continue
    }
    if (i + 4 > b.length) throw new StripError('JPEG segment truncated')
    const len = u16be(b, i + 2)
    const end = i + 2 + len
    if (len < 2 || end > b.length) throw new StripError('JPEG segment length out of range')
    const seg = b.subarray(i, end)
    const body = b.subarray(i + 4, end)
    if (marker === 0xda) {
      // Start of scan: its header, then entropy-coded data up to the next marker (0xFF not followed by 0x00, RSTn).
      let j = end
      while (j + 1 < b.length && !(b[j] === 0xff && b[j + 1] !== 0x00 && !(b[j + 1]! >= 0xd0 && b[j + 1]! <= 0xd7))) j++
      if (j + 1 >= b.length) throw new StripError('JPEG scan runs past the end')
      out.push(b.subarray(i, j))
      i = j
      continue
    }
    const isApp = marker >= 0xe0 && marker <= 0xef
    let keep = !isApp && marker !== 0xfe
    if (marker === 0xe0 || marker === 0xee) keep = true // JFIF / JFXX, Adobe
    if (marker === 0xe2 && ascii(body, 0, 12) === 'ICC_PROFILE\0') keep = true
    if (marker === 0xe1 && ascii(body, 0, 6) === EXIF_ID) {
      const o = orientationOf(body.subarray(6))
      if (o !== 1) {
        const tiff = orientationTiff(o)
        const app1 = new Uint8Array(4 + 6 + tiff.length)
        app1.set([0xff, 0xe1, (app1.length - 2) >> 8, (app1.length - 2) & 0xff])
        app1.set(new TextEncoder().encode(EXIF_ID), 4)
        app1.set(tiff, 10)
        out.push(app1)
      }
    }
    if (keep) out.push(seg)
    i = end
  }
}

const PNG_SIG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const PNG_DROP = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME'])

function stripPng(b: Uint8Array): Uint8Array {
  if (b.length < 8 || PNG_SIG.some((v, k) => b[k] !== v)) throw new StripError('not a PNG')
  const out: Uint8Array[] = [b.subarray(0, 8)]
  let i = 8
  for (;;) {
    if (i + 12 > b.length) throw new StripError('PNG ends before IEND')
    const len = ((u16be(b, i) << 16) | u16be(b, i + 2)) >>> 0
    const type = ascii(b, i + 4, 4)
    const end = i + 12 + len
    if (end > b.length) throw new StripError('PNG chunk length out of range')
    if (!PNG_DROP.has(type)) out.push(b.subarray(i, end))
    i = end
    if (type === 'IEND') return concat(out)
  }
}

function stripWebp(b: Uint8Array): Uint8Array {
  if (b.length < 12 || ascii(b, 0, 4) !== 'RIFF' || ascii(b, 8, 4) !== 'WEBP') throw new StripError('not a WebP')
  const total = 8 + u32le(b, 4)
  if (total > b.length) throw new StripError('WebP is truncated')
  const chunks: { type: string; data: Uint8Array }[] = []
  let i = 12
  while (i + 8 <= total) {
    const type = ascii(b, i, 4)
    const size = u32le(b, i + 4)
    if (i + 8 + size > total) throw new StripError('WebP chunk length out of range')
    chunks.push({ type, data: b.subarray(i + 8, i + 8 + size) })
    i += 8 + size + (size & 1)
  }
  if (!chunks.some((c) => c.type === 'VP8 ' || c.type === 'VP8L' || c.type === 'ANMF'))
    throw new StripError('WebP without an image')
  let orientation = 1
  const kept = chunks.filter((c) => {
    if (c.type === 'EXIF') {
      const tiff = ascii(c.data, 0, 6) === EXIF_ID ? c.data.subarray(6) : c.data
      orientation = orientationOf(tiff)
      return false
    }
    return c.type !== 'XMP '
  })
  const vp8x = kept.find((c) => c.type === 'VP8X')
  if (vp8x) {
    const data = Uint8Array.from(vp8x.data)
    data[0] = data[0]! & ~0x0c // no XMP, no EXIF…
    if (orientation !== 1) data[0] = data[0]! | 0x08 // …but the orientation's
    vp8x.data = data
    if (orientation !== 1) kept.push({ type: 'EXIF', data: orientationTiff(orientation) })
  }
  const parts: Uint8Array[] = []
  for (const c of kept) {
    const head = new Uint8Array(8)
    head.set(new TextEncoder().encode(c.type))
    new DataView(head.buffer).setUint32(4, c.data.length, true)
    parts.push(head, c.data)
    if (c.data.length & 1) parts.push(new Uint8Array(1))
  }
  const body = concat(parts)
  const riff = new Uint8Array(12)
  riff.set(new TextEncoder().encode('RIFF'))
  new DataView(riff.buffer).setUint32(4, body.length + 4, true)
  riff.set(new TextEncoder().encode('WEBP'), 8)
  return concat([riff, body])
}

/** The image without its metadata (same picture, same bytes of it). `mime` is the type judged from its bytes. */
export function stripMetadata(bytes: Uint8Array, mime: string): Uint8Array {
  switch (mime) {
    case 'image/jpeg':
      return stripJpeg(bytes)
    case 'image/png':
      return stripPng(bytes)
    case 'image/webp':
      return stripWebp(bytes)
    default:
      return bytes
  }
}
