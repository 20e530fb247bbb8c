// RP20–RP29, RP33–RP35: the mix of real capture files made of known tones (each speaker their own frequency), read
// back by Debian's ffmpeg/ffprobe: who is heard where, the shortened silences, the chapters, the timeline, a torn
// file, lost packets, a reconnection, and clips.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAPTURE_MAGIC, decodeCapture, encodeRecord } from '../../server/replays/capture-format'
import { podcastChapters } from '../../server/replays/chapters'
import { CLIP_MAX_MS, cutClip } from '../../server/replays/clip'
import { type MixResult, mixReplay, NothingToMixError } from '../../server/replays/mix'
import { readOggOpus } from '../../server/replays/ogg'
import { TEST_LIMIT } from '../helpers/limits'
import { blocksWithTone, decodeWithFfmpeg, probe, toneCapture } from '../helpers/replays'

setDefaultTimeout(TEST_LIMIT)

const dir = mkdtempSync(join(tmpdir(), 'townhall-mix-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const ORIGIN = 1_800_000_000_000
const near = (got: number, want: number, tolerance: number) =>
  expect(Math.abs(got - want)).toBeLessThanOrEqual(tolerance)
const within2 = (got: number, want: number) => near(got, want, want * 0.02)

describe('a three-speaker room with a long silence and a question', () => {
  // A (440 Hz) 0–6 s and 20–24 s; B (660 Hz) 6.5–12 s; C (880 Hz) a 1 s interjection at 8–9 s; 12–20 s is silence.
  // D (1000 Hz) spoke 2–4 s but is not among the tracks mixed (refused or withdrew). A question went on stage at 21 s.
  const out = join(dir, 'room.opus')
  let r: MixResult
  let pcm: Int16Array
  const progress: number[] = []
  beforeAll(async () => {
    const tracks = [
      {
        userId: 1,
        name: 'Ann',
        tones: [
          { startMs: 0, durationMs: 6000, freq: 440 },
          { startMs: 20_000, durationMs: 4000, freq: 440 },
        ],
      },
      { userId: 2, name: 'Bob', tones: [{ startMs: 6500, durationMs: 5500, freq: 660 }] },
      { userId: 3, name: 'Cyd', tones: [{ startMs: 8000, durationMs: 1000, freq: 880 }] },
    ].map((t) => {
      const path = join(dir, `${t.userId}.cap`)
      toneCapture(t.tones, { origin: ORIGIN, path })
      return { userId: t.userId, name: t.name, path }
    })
    toneCapture([{ startMs: 2000, durationMs: 2000, freq: 1000 }], { origin: ORIGIN, path: join(dir, '4.cap') })
    r = mixReplay(
      {
        tracks,
        questions: [{ at: ORIGIN + 21_000, title: 'Question: how loud is 440?', userId: 9 }],
        dest: out,
        title: 'Tones',
      },
      (p) => progress.push(p),
    )
    pcm = await decodeWithFfmpeg(out)
  })

  test('[RP20][RP21][RP28] ffprobe reads Opus in Ogg, mono 48 kHz, of the replay duration (±2 %)', async () => {
    const p = await probe(out)
    expect(p.codec).toBe('opus')
    expect(p.tags.TITLE).toBe('Tones')
    // 24 s of room, 8 s of silence shortened to 1 s.
    within2(p.durationMs, 17_000)
    within2(r.durationMs, 17_000)
    within2(pcm.length / 48, 17_000)
    expect(r.bytes).toBe(statSync(out).size)
    // About 48 kb/s of speech.
    expect(r.bytes).toBeGreaterThan(17 * 4000)
    expect(r.bytes).toBeLessThan(17 * 9000)
    expect(progress.at(-1)).toBe(1)
  })

  test('[RP24] each mixed speaker is heard at their time; the one left out is heard nowhere', () => {
    expect(blocksWithTone(pcm, 440, 0, 6000)).toBeGreaterThanOrEqual(55)
    expect(blocksWithTone(pcm, 660, 6500, 12_000)).toBeGreaterThanOrEqual(50)
    expect(blocksWithTone(pcm, 880, 8000, 9000)).toBeGreaterThanOrEqual(8)
    expect(blocksWithTone(pcm, 440, 13_000, 17_000)).toBeGreaterThanOrEqual(35)
    expect(blocksWithTone(pcm, 1000)).toBe(0)
    expect(blocksWithTone(pcm, 660, 0, 6000)).toBe(0)
    expect(r.speakers).toEqual([1, 2, 3])
  })

  test('[RP25] a silence longer than 3 s keeps 1 s; the timeline maps wall time to replay time', () => {
    // The silence (12–20 s) keeps 12–12.5 and 19.5–20: between them nothing was dropped elsewhere.
    expect(r.timeline.length).toBe(2)
    expect(r.timeline[0]!.ms).toBe(0)
    near(r.timeline[0]!.at, ORIGIN, 40)
    near(r.timeline[0]!.len, 12_500, 60)
    near(r.timeline[1]!.at, ORIGIN + 19_500, 60)
    expect(r.timeline[1]!.ms).toBe(r.timeline[0]!.len)
    near(r.timeline[1]!.ms + r.timeline[1]!.len, r.durationMs, 1)
    // The decoded audio is silent in the kept second of silence.
    expect(blocksWithTone(pcm, 440, 12_600, 13_000) + blocksWithTone(pcm, 660, 12_600, 13_000)).toBe(0)
  })

  test('[RP26][RP27] a chapter per speaker turn (none for a 1 s interjection), one per question on stage', () => {
    const titles = r.chapters.map((c) => `${c.kind}:${c.title}`)
    expect(titles).toEqual(['speaker:Ann', 'speaker:Bob', 'speaker:Ann', 'question:Question: how loud is 440?'])
    near(r.chapters[0]!.startMs, 0, 60)
    near(r.chapters[1]!.startMs, 6500, 60)
    near(r.chapters[2]!.startMs, 13_000, 60)
    near(r.chapters[3]!.startMs, 14_000, 60)
    expect(r.chapters.map((c) => c.userId)).toEqual([1, 2, 1, 9])
  })

  test('[RP21] the chapters are in the file as Vorbis-comment chapter marks; ffprobe lists them', async () => {
    const file = readOggOpus(readFileSync(out))
    expect(file.comments).toContain(`CHAPTER002=00:00:${(r.chapters[1]!.startMs / 1000).toFixed(3).padStart(6, '0')}`)
    expect(file.comments).toContain('CHAPTER002NAME=Bob')
    const p = Bun.spawnSync(['ffprobe', '-v', 'error', '-show_chapters', '-of', 'json', out])
    const chapters = JSON.parse(p.stdout.toString()).chapters as { start_time: string; tags: { title: string } }[]
    expect(chapters.map((c) => c.tags.title)).toEqual(r.chapters.map((c) => c.title))
    for (const [i, c] of chapters.entries()) near(Number(c.start_time) * 1000, r.chapters[i]!.startMs, 1)
  })

  test('[RP29] Podcasting 2.0 JSON chapters: version 1.2.0, start times in seconds', () => {
    const json = podcastChapters(JSON.stringify(r.chapters))
    expect(json.version).toBe('1.2.0')
    expect(json.chapters.map((c) => c.title)).toEqual(r.chapters.map((c) => c.title))
    expect(json.chapters[1]!.startTime).toBe(r.chapters[1]!.startMs / 1000)
  })

  test('[RP33] a clip: 3 s cut by decoding and encoding again, its duration (±2 %) and codec by ffprobe', async () => {
    const clip = join(dir, 'clip.opus')
    const c = await cutClip(out, 4500, 3000, clip)
    expect(c.durationMs).toBe(3000)
    expect(c.bytes).toBe(statSync(clip).size)
    const p = await probe(clip)
    expect(p.codec).toBe('opus')
    within2(p.durationMs, 3000)
    // The clip holds Ann's end (4.5–6 s) and Bob's start (6.5–7.5 s).
    const cut = await decodeWithFfmpeg(clip)
    expect(blocksWithTone(cut, 440, 0, 1400)).toBeGreaterThanOrEqual(12)
    expect(blocksWithTone(cut, 660, 2100, 3000)).toBeGreaterThanOrEqual(7)
    expect(blocksWithTone(cut, 660, 0, 1400)).toBe(0)
  })

  test('[RP34] a clip longer than 60 s, of no length, or past the end is refused', async () => {
    for (const [start, len] of [
      [0, CLIP_MAX_MS + 1],
      [0, 0],
      [-1, 1000],
      [r.durationMs + 1000, 1000],
    ] as const) {
      expect(cutClip(out, start, len, join(dir, 'bad.opus'))).rejects.toBeInstanceOf(RangeError)
    }
    // A clip that would run past the end stops there.
    const c = await cutClip(out, r.durationMs - 2000, 10_000, join(dir, 'end.opus'))
    near(c.durationMs, 2000, 20)
  })
})

describe('what the network and a crash leave in the capture files', () => {
  const mix = (tracks: { userId: number; path: string }[], name: string) =>
    mixReplay({
      tracks: tracks.map((t) => ({ ...t, name: `u${t.userId}` })),
      questions: [],
      dest: join(dir, name),
      title: '',
    })

  test('[RP23] a torn capture file (cut mid-record) mixes up to its last whole record', async () => {
    const path = join(dir, 'torn.cap')
    toneCapture([{ startMs: 0, durationMs: 5000, freq: 440 }], { origin: ORIGIN, path })
    const size = statSync(path).size
    truncateSync(path, size - 40)
    const { records, validBytes } = decodeCapture(readFileSync(path))
    expect(validBytes).toBeLessThan(size - 40)
    const r = mix([{ userId: 1, path }], 'torn.opus')
    within2(r.durationMs, records.length * 20)
    const p = await probe(join(dir, 'torn.opus'))
    within2(p.durationMs, records.length * 20)
    expect(blocksWithTone(await decodeWithFfmpeg(join(dir, 'torn.opus')), 440)).toBeGreaterThanOrEqual(45)
  })

  test('[RP23] lost packets are concealed: the tone goes on; a missing file is an empty track', async () => {
    const path = join(dir, 'lossy.cap')
    const all = decodeCapture(toneCapture([{ startMs: 0, durationMs: 5000, freq: 660 }], { origin: ORIGIN })).records
    // One packet in ten lost, and a few duplicated.
    const kept = all.filter((_, i) => i % 10 !== 5).flatMap((rec, i) => (i % 17 === 0 ? [rec, rec] : [rec]))
    writeFileSync(path, Buffer.concat([CAPTURE_MAGIC, ...kept.map(encodeRecord)]))
    const r = mix(
      [
        { userId: 1, path },
        { userId: 2, path: join(dir, 'absent.cap') },
      ],
      'lossy.opus',
    )
    within2(r.durationMs, 5000)
    expect(r.speakers).toEqual([1])
    const pcm = await decodeWithFfmpeg(join(dir, 'lossy.opus'))
    expect(blocksWithTone(pcm, 660, 100, 4900)).toBeGreaterThanOrEqual(46)
  })

  test('[RP22] a reconnection (a new RTP clock) is placed by its arrival time', async () => {
    const path = join(dir, 'rejoin.cap')
    toneCapture([{ startMs: 0, durationMs: 2000, freq: 440 }], { origin: ORIGIN, path })
    // The same speaker back at 4 s with another timestamp base (a new sender): its records follow in the file.
    const again = toneCapture([{ startMs: 4000, durationMs: 2000, freq: 880 }], { origin: ORIGIN })
    appendFileSync(path, again.subarray(CAPTURE_MAGIC.length))
    const r = mix([{ userId: 1, path }], 'rejoin.opus')
    within2(r.durationMs, 6000)
    const pcm = await decodeWithFfmpeg(join(dir, 'rejoin.opus'))
    expect(blocksWithTone(pcm, 440, 0, 2000)).toBeGreaterThanOrEqual(18)
    expect(blocksWithTone(pcm, 880, 4100, 6000)).toBeGreaterThanOrEqual(18)
    expect(blocksWithTone(pcm, 880, 2100, 3900)).toBe(0)
  })

  test('[RP24] no audio at all is nothing to mix', () => {
    const path = join(dir, 'empty.cap')
    writeFileSync(path, CAPTURE_MAGIC)
    expect(() => mix([{ userId: 1, path }], 'empty.opus')).toThrow(NothingToMixError)
  })
})
