// [D50] Image metadata is stripped byte by byte: small real images (made by ffmpeg, in test/fixtures) get EXIF with
// GPS, XMP, comments and text chunks written into them the way cameras and editors do; what comes out holds none of
// it, keeps only the orientation, and (when ffmpeg is here) decodes to exactly the same pixels.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StripError, stripMetadata } from '../../server/lib/strip-metadata'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const FIX = join(import.meta.dir, '..', 'fixtures')
const fixture = (name: string) => new Uint8Array(readFileSync(join(FIX, name)))
const enc = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder('latin1').decode(b)
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const hasFfmpeg = Bun.spawnSync(['sh', '-c', 'command -v ffmpeg']).exitCode === 0

/**
 * A camera's EXIF (little-endian TIFF): IFD0 with Make, Orientation 6 and a pointer to a GPS IFD whose one entry holds
 * a position as text.
 */
function cameraExif(): Uint8Array {
  const b = new Uint8Array(120)
  const v = new DataView(b.buffer)
  b.set(enc('II'), 0)
  v.setUint16(2, 42, true)
  v.setUint32(4, 8, true)
  v.setUint16(8, 3, true)
  const entry = (i: number, tag: number, type: number, count: number, value: number) => {
    const at = 10 + i * 12
    v.setUint16(at, tag, true)
    v.setUint16(at + 2, type, true)
    v.setUint32(at + 4, count, true)
    if (type === 3 && count === 1) v.setUint16(at + 8, value, true)
    else v.setUint32(at + 8, value, true)
  }
  entry(0, 0x010f, 2, 10, 50) // Make → "SECRETCAM\0" at 50
  entry(1, 0x0112, 3, 1, 6) // Orientation: rotate 90°
  entry(2, 0x8825, 4, 1, 60) // GPS IFD at 60
  v.setUint32(46, 0, true)
  b.set(enc('SECRETCAM\0'), 50)
  v.setUint16(60, 1, true)
  const gps = enc('SECRET-GPS-48.8566N')
  v.setUint16(62, 0x001b, true)
  v.setUint16(64, 7, true)
  v.setUint32(66, gps.length, true)
  v.setUint32(70, 78, true)
  v.setUint32(74, 0, true)
  b.set(gps, 78)
  return b
}

function segment(marker: number, body: Uint8Array) {
  return cat(Uint8Array.from([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff]), body)
}
const XMP = enc('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>SECRET-XMP creator</x:xmpmeta>')

function taggedJpeg() {
  const jpg = fixture('photo.jpg')
  return cat(
    jpg.subarray(0, 2),
    segment(0xe1, cat(enc('Exif\0\0'), cameraExif())),
    segment(0xe1, XMP),
    segment(0xed, enc('Photoshop 3.0\0SECRET-IPTC')),
    segment(0xfe, enc('SECRET-COMMENT')),
    jpg.subarray(2),
    enc('SECRET-TRAILER: a motion photo after the end of the image'),
  )
}

function pngChunk(type: string, data: Uint8Array) {
  const head = new Uint8Array(8)
  new DataView(head.buffer).setUint32(0, data.length)
  head.set(enc(type), 4)
  return cat(head, data, new Uint8Array(4)) // the CRC is not checked by the stripper; decoders are told below
}
function taggedPng() {
  const png = fixture('photo.png')
  // After the IHDR chunk (8 + 25 bytes): text, EXIF, a time.
  return cat(
    png.subarray(0, 33),
    pngChunk('tEXt', enc('Comment\0SECRET-TEXT')),
    pngChunk('iTXt', enc('XML:com.adobe.xmp\0\0\0\0\0SECRET-XMP')),
    pngChunk('eXIf', cameraExif()),
    pngChunk('tIME', new Uint8Array(7)),
    png.subarray(33),
  )
}

function riffChunk(type: string, data: Uint8Array) {
  const head = new Uint8Array(8)
  head.set(enc(type))
  new DataView(head.buffer).setUint32(4, data.length, true)
  return cat(head, data, data.length & 1 ? new Uint8Array(1) : new Uint8Array(0))
}
/** The fixture's VP8 image in the extended format, with EXIF and XMP chunks and their VP8X flags. */
function taggedWebp() {
  const webp = fixture('photo.webp')
  const vp8 = webp.subarray(12)
  const vp8x = new Uint8Array(10)
  vp8x[0] = 0x08 | 0x04
  vp8x.set([23, 0, 0, 15, 0, 0], 4) // 24×16, minus one
  const body = cat(
    riffChunk('VP8X', vp8x),
    vp8,
    riffChunk('EXIF', cat(enc('Exif\0\0'), cameraExif())),
    riffChunk('XMP ', XMP),
  )
  const head = new Uint8Array(12)
  head.set(enc('RIFF'))
  new DataView(head.buffer).setUint32(4, body.length + 4, true)
  head.set(enc('WEBP'), 8)
  return cat(head, body)
}

/** The pixels ffmpeg decodes (raw RGB), or null without ffmpeg. */
function pixels(bytes: Uint8Array, ext: string): string | null {
  if (!hasFfmpeg) return null
  const dir = mkdtempSync(join(tmpdir(), 'townhall-strip-'))
  try {
    writeFileSync(join(dir, `in.${ext}`), bytes)
    const r = Bun.spawnSync([
      'ffmpeg',
      '-v',
      'error',
      '-err_detect',
      'ignore_err',
      '-i',
      join(dir, `in.${ext}`),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ])
    if (r.exitCode !== 0) throw new Error(`ffmpeg could not decode: ${r.stderr.toString()}`)
    return new Bun.CryptoHasher('sha256').update(r.stdout).digest('hex')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

test('[D50] JPEG: EXIF with GPS, XMP, IPTC, comments and a trailer go; the orientation stays; same pixels', () => {
  const tagged = taggedJpeg()
  expect(text(tagged)).toContain('SECRET')
  const clean = stripMetadata(tagged, 'image/jpeg')
  expect(text(clean)).not.toContain('SECRET')
  expect(text(clean)).not.toContain('xmpmeta')
  // One APP1 left: "Exif" with an orientation of 6 and nothing else (26 bytes of TIFF).
  const at = text(clean).indexOf('Exif\0\0')
  expect(at).toBeGreaterThan(0)
  expect(clean[at - 4]).toBe(0xff)
  expect(clean[at - 3]).toBe(0xe1)
  expect((clean[at - 2]! << 8) | clean[at - 1]!).toBe(2 + 6 + 26)
  expect(clean[at + 6 + 19]).toBe(6)
  expect([...clean.subarray(-2)]).toEqual([0xff, 0xd9])
  expect(pixels(clean, 'jpg')).toBe(pixels(tagged, 'jpg')) // the same picture, turned the same way
  // A photo without metadata keeps every byte of its picture (the ffmpeg comment goes).
  const plain = stripMetadata(fixture('photo.jpg'), 'image/jpeg')
  expect(text(plain)).not.toContain('Lavc')
  expect(plain.length).toBeLessThan(fixture('photo.jpg').length)
})

test('[D50] PNG: tEXt, iTXt, eXIf and tIME chunks go; same pixels', () => {
  const clean = stripMetadata(taggedPng(), 'image/png')
  expect(text(clean)).not.toContain('SECRET')
  for (const t of ['tEXt', 'iTXt', 'eXIf', 'tIME']) expect(text(clean)).not.toContain(t)
  expect(clean).toEqual(fixture('photo.png'))
})

test('[D50] WebP: EXIF and XMP chunks go, the VP8X flags follow, the orientation stays; same pixels', () => {
  const tagged = taggedWebp()
  const clean = stripMetadata(tagged, 'image/webp')
  expect(text(clean)).not.toContain('SECRET')
  expect(text(clean)).not.toContain('XMP ')
  const v = new DataView(clean.buffer, clean.byteOffset)
  expect(v.getUint32(4, true)).toBe(clean.length - 8)
  expect(text(clean.subarray(12, 16))).toBe('VP8X')
  expect(clean[20]! & 0x0c).toBe(0x08) // EXIF (the orientation), no XMP
  expect(text(clean)).toContain('EXIF')
  expect(pixels(clean, 'webp')).toBe(pixels(tagged, 'webp'))
  // The simple format has nowhere to put metadata: unchanged.
  expect(stripMetadata(fixture('photo.webp'), 'image/webp')).toEqual(fixture('photo.webp'))
})

test('[D50] a damaged image is refused, not stored with its metadata; a GIF passes through', () => {
  const jpg = taggedJpeg()
  expect(() => stripMetadata(jpg.subarray(0, 40), 'image/jpeg')).toThrow(StripError)
  const bad = Uint8Array.from(jpg)
  bad[4] = 0xff // the first segment's length runs past the end
  bad[5] = 0xff
  expect(() => stripMetadata(bad, 'image/jpeg')).toThrow(StripError)
  expect(() => stripMetadata(taggedPng().subarray(0, 60), 'image/png')).toThrow(StripError)
  expect(() => stripMetadata(taggedWebp().subarray(0, 30), 'image/webp')).toThrow(StripError)
  const gif = enc('GIF89a…')
  expect(stripMetadata(gif, 'image/gif')).toBe(gif)
})
