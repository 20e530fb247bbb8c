// The container reader (server/lib/containers.ts) on forged and damaged input: every refusal is a ContainerError,
// never a crash or a hang, and metadata is blanked without moving a byte. Real files are in the integration tests.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { ContainerError, readContainer } from '../../server/lib/containers'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const box = (type: string, ...body: Uint8Array[]) => {
  const len = 8 + body.reduce((n, b) => n + b.length, 0)
  const out = new Uint8Array(len)
  new DataView(out.buffer).setUint32(0, len)
  out.set(new TextEncoder().encode(type), 4)
  let at = 8
  for (const b of body) {
    out.set(b, at)
    at += b.length
  }
  return out
}
const bytes = (...xs: number[]) => Uint8Array.from(xs)
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
const text = (s: string) => new TextEncoder().encode(s)

/** A minimal MP4: ftyp, moov (mvhd of 3 s, one avc1 track, a udta with a title), mdat. */
function mp4(entry = 'avc1') {
  const mvhd = new Uint8Array(100)
  new DataView(mvhd.buffer).setUint32(12, 1000) // timescale
  new DataView(mvhd.buffer).setUint32(16, 3000) // duration
  const stsd = box('stsd', bytes(0, 0, 0, 0, 0, 0, 0, 1), box(entry, new Uint8Array(8)))
  const trak = box('trak', box('mdia', box('minf', box('stbl', stsd))))
  return cat(
    box('ftyp', text('isom'), bytes(0, 0, 2, 0)),
    box('moov', box('mvhd', mvhd), trak, box('udta', text('secret-title'))),
    box('mdat', new Uint8Array(16)),
  )
}

test('[B40] an MP4 is read from its boxes; its udta is blanked in place (same length, no title)', () => {
  const file = mp4()
  const c = readContainer(file)
  expect(c).toMatchObject({ kind: 'mp4', codecs: ['h264'], hasVideo: true, durationMs: 3000 })
  expect(file.length).toBe(mp4().length)
  expect(new TextDecoder().decode(file)).not.toContain('secret-title')
  expect(new TextDecoder().decode(file)).toContain('free')
  expect(() => readContainer(mp4('mp4v'))).toThrow(ContainerError)
})

test('[B40] damaged files are refused with a ContainerError: every truncation, forged sizes, other formats', () => {
  const whole = mp4()
  for (let n = 0; n < whole.length; n++) {
    try {
      readContainer(whole.slice(0, n))
    } catch (e) {
      expect(e).toBeInstanceOf(ContainerError)
    }
  }
  const forged = mp4()
  new DataView(forged.buffer).setUint32(0, 0xffffff00) // ftyp claims 4 GB
  expect(() => readContainer(forged)).toThrow(ContainerError)
  const webmHead = bytes(0x1a, 0x45, 0xdf, 0xa3, 0x84, 0x42, 0x82, 0x81, 0x77) // DocType "w"
  expect(() => readContainer(webmHead)).toThrow(ContainerError)
  // An EBML header whose size field is all zero bits (no length marker).
  expect(() => readContainer(bytes(0x1a, 0x45, 0xdf, 0xa3, 0x00))).toThrow(ContainerError)
  // Ogg whose first packet is Vorbis, not Opus.
  const ogg = new Uint8Array(27 + 1 + 30)
  ogg.set(text('OggS'))
  ogg[26] = 1
  ogg[27] = 30
  ogg.set(text('\x01vorbis'), 28)
  expect(() => readContainer(ogg)).toThrow(ContainerError)
  for (const other of [text('just text'), new Uint8Array(0), bytes(0x89, 0x50, 0x4e, 0x47)])
    expect(() => readContainer(other)).toThrow(ContainerError)
})
