// Clips [RP33–RP35]: up to CLIP_MAX_MS of a replay, decoded from the replay's Ogg Opus file and encoded again into a
// file of their own (exact to the frame, wherever the cut falls; 60 s take about a second of CPU, so cutClip runs in
// the replay worker, off the server's thread).
import { readFileSync, renameSync, rmSync } from 'node:fs'
import { OggOpusWriter, readOggOpus } from './ogg'
import { OpusDecoder, OpusEncoder, PER_MS, packetSamples } from './opus'
import { BITRATE, FRAME } from './mix'
import { runReplayWorker } from './worker-client'

export const CLIP_MAX_MS = 60_000
/** Decoded before the cut and thrown away, so the decoder has settled when the clip starts (RFC 7845 §4.6). */
const PREROLL = 80 * PER_MS

export interface ClipResult {
  bytes: number
  durationMs: number
}

/** [RP33] Cuts [startMs, startMs + durationMs) of `srcPath` into `destPath` in this thread (the worker's). */
export function cutClipHere(srcPath: string, startMs: number, durationMs: number, destPath: string): ClipResult {
  if (!Number.isFinite(startMs) || startMs < 0) throw new RangeError(`clip: a start of ${startMs} ms`)
  if (!Number.isFinite(durationMs) || durationMs <= 0 || durationMs > CLIP_MAX_MS) {
    throw new RangeError(`clip: a duration of ${durationMs} ms`)
  }
  const src = readOggOpus(readFileSync(srcPath))
  const total = src.lastGranule - src.preSkip
  const from = Math.round(startMs * PER_MS)
  const to = Math.min(total, from + Math.round(durationMs * PER_MS))
  if (to - from < FRAME) throw new RangeError(`clip: ${startMs} ms is past the replay's end`)

  // Decoded samples are the output shifted by the pre-skip.
  const want0 = from + src.preSkip
  const want1 = to + src.preSkip
  const pcm = new Int16Array(to - from)
  const dec = new OpusDecoder()
  try {
    let at = 0
    for (const p of src.packets) {
      const n = packetSamples(p)
      if (at + n <= want0 - PREROLL) {
        at += n
        continue
      }
      if (at >= want1) break
      const s = dec.decode(p)
      const lo = Math.max(at, want0)
      const hi = Math.min(at + s.length, want1)
      if (hi > lo) pcm.set(s.subarray(lo - at, hi - at), lo - want0)
      at += s.length
    }
  } finally {
    dec.free()
  }

  const enc = new OpusEncoder(BITRATE)
  const tmp = `${destPath}.tmp`
  const writer = new OggOpusWriter(tmp, enc.lookahead, [])
  try {
    for (let k = 0; k < pcm.length + enc.lookahead; k += FRAME) {
      const frame = new Int16Array(FRAME)
      if (k < pcm.length) frame.set(pcm.subarray(k, Math.min(k + FRAME, pcm.length)))
      writer.add(enc.encode(frame), FRAME)
    }
    writer.finish(pcm.length)
    renameSync(tmp, destPath)
  } catch (e) {
    writer.abort()
    rmSync(tmp, { force: true })
    throw e
  } finally {
    enc.free()
  }
  return { bytes: writer.bytes, durationMs: Math.round(pcm.length / PER_MS) }
}

/**
 * [RP33] Cuts up to 60 s of a replay's file into a clip's file (written beside `destPath`, then renamed), in the
 * replay worker. Paths are absolute. Rejects with a RangeError for a start past the end or a duration out of 0–60 s.
 */
export async function cutClip(
  srcPath: string,
  startMs: number,
  durationMs: number,
  destPath: string,
): Promise<ClipResult> {
  return (await runReplayWorker({ type: 'clip', srcPath, startMs, durationMs, destPath })) as ClipResult
}
