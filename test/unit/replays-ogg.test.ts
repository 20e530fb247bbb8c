// RP21, RP25–RP26: the Ogg Opus writer and reader, the chapter marks, the turn rule and the timeline lookup.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replayTime, speakerTurns } from '../../server/replays/mix'
import { chapterComments, chapterTime, OggOpusWriter, oggCrc, readOggOpus } from '../../server/replays/ogg'
import { OpusEncoder } from '../../server/replays/opus'
import { TEST_LIMIT } from '../helpers/limits'
import { probe } from '../helpers/replays'

setDefaultTimeout(TEST_LIMIT)
const dir = mkdtempSync(join(tmpdir(), 'townhall-ogg-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test("[RP21] Ogg's CRC-32 (polynomial 0x04c11db7, initial 0, no final xor)", () => {
  // The POSIX cksum CRC of "123456789" is 0x765e7680 with its final xor: Ogg's is its complement.
  expect(oggCrc(new TextEncoder().encode('123456789'))).toBe(0x89a1897f)
})

test('[RP21] chapter marks: CHAPTERnnn=HH:MM:SS.mmm and CHAPTERnnnNAME on one line', () => {
  expect(chapterTime(3_723_004)).toBe('01:02:03.004')
  expect(chapterComments([{ startMs: 62_000, title: 'Ann\nB' }])).toEqual([
    'CHAPTER001=00:01:02.000',
    'CHAPTER001NAME=Ann B',
  ])
})

test('[RP21] pages: BOS, EOS, granules, a comment header larger than a page, read back and by ffprobe', async () => {
  const path = join(dir, 'big.opus')
  const enc = new OpusEncoder(48_000)
  const chapters = Array.from({ length: 400 }, (_, i) => ({ startMs: i * 100, title: `${'x'.repeat(200)} ${i}` }))
  const w = new OggOpusWriter(path, enc.lookahead, chapterComments(chapters))
  const frames = 150
  for (let i = 0; i < frames; i++) w.add(enc.encode(new Int16Array(960).fill(i % 2 ? 1000 : -1000)), 960)
  w.finish(frames * 960 - 500)
  enc.free()
  const bytes = readFileSync(path)
  // Page flags: the first page begins the stream, the last ends it.
  expect(bytes[5]).toBe(2)
  const lastPage = bytes.lastIndexOf(Buffer.from('OggS'))
  expect(bytes[lastPage + 5]! & 4).toBe(4)
  const file = readOggOpus(bytes)
  expect(file.preSkip).toBe(312)
  expect(file.comments).toHaveLength(800)
  expect(file.comments[799]).toBe(`CHAPTER400NAME=${'x'.repeat(200)} 399`)
  expect(file.packets).toHaveLength(frames)
  expect(file.lastGranule).toBe(312 + frames * 960 - 500)
  const p = await probe(path)
  expect(p.codec).toBe('opus')
  // ffprobe's format duration counts the pre-skip (6.5 ms) too.
  expect(Math.abs(p.durationMs - (frames * 960 - 500) / 48)).toBeLessThan(8)
  // A flipped byte fails the page's checksum.
  bytes[bytes.length - 10]! ^= 0xff
  expect(() => readOggOpus(bytes)).toThrow('checksum')
})

test('[RP26] a turn needs 2 s of the last 3 s; shorter interjections make no chapter', () => {
  const frames = (spk: number, seconds: number) => new Array<number>(seconds * 50).fill(spk)
  // A 4 s, B interjects 1.5 s, A 3 s, silence 1 s, B 2.5 s.
  const dominant = [...frames(0, 4), ...frames(1, 1.5), ...frames(0, 3), ...frames(-1, 1), ...frames(1, 2.5)]
  expect(speakerTurns(dominant, 2)).toEqual([
    { frame: 0, track: 0 },
    { frame: (4 + 1.5 + 3 + 1) * 50, track: 1 },
  ])
  // Nobody holds the floor: one chapter at the first voice.
  expect(speakerTurns([-1, -1, 1, 0, 1], 2)).toEqual([{ frame: 2, track: 1 }])
  expect(speakerTurns([-1, -1], 2)).toEqual([])
})

test('[RP25] wall time → replay time: inside a kept stretch, or the start of the next one', () => {
  const timeline = [
    { at: 1000, ms: 0, len: 5000 },
    { at: 20_000, ms: 5000, len: 3000 },
  ]
  expect(replayTime(timeline, 500, 8000)).toBe(0)
  expect(replayTime(timeline, 3000, 8000)).toBe(2000)
  expect(replayTime(timeline, 10_000, 8000)).toBe(5000)
  expect(replayTime(timeline, 21_000, 8000)).toBe(6000)
  expect(replayTime(timeline, 99_000, 8000)).toBe(8000)
})
