// The mix [RP22–RP29]: a room's capture files → one Ogg Opus file, its chapters and its timeline. Runs in the replay
// worker (server/replays/worker.ts), never on the server's thread. Streaming: one second of every track at a time, so
// memory does not grow with the room's length (only the capture files' packets are held).
//
// 1. Place [RP22]: each track's packets are put in time by their RTP timestamps within a run, and a run is anchored
//    to the earliest arrival its packets allow; a packet whose arrival strays more than RUN_BREAK_MS from its run's
//    clock (a new SSRC, a reconnection) starts a new run anchored on its own arrival. Duplicates are dropped.
// 2. Decode [RP23]: a gap of up to CONCEAL_MS is filled by the decoder's loss concealment, a longer one is silence.
// 3. Mix [RP24]: the tracks are added, mono 48 kHz, with a soft limit near full scale.
// 4. Shorten silences [RP25]: a stretch of silence longer than SILENCE_MAX_MS keeps its first and last
//    SILENCE_KEEP_MS / 2 only; the timeline says which wall-clock stretch lands where in the replay.
// 5. Chapters [RP26–RP27]: a speaker takes a turn when they were the loudest voice for TURN_MS of the last
//    TURN_WINDOW_MS (shorter interjections make no chapter); its chapter starts where they started speaking.
//    A question brought to stage makes a chapter at its time.
// 6. Encode [RP28]: Opus, 20 ms frames at BITRATE, into a temporary file renamed when complete.
import { readFileSync, renameSync, rmSync } from 'node:fs'
import { decodeCapture } from './capture-format'
import { type Chapter, chapterComments, OggOpusWriter } from './ogg'
import { OpusDecoder, OpusEncoder, PER_MS, packetSamples } from './opus'

export const FRAME = 960
const FRAME_MS = FRAME / PER_MS
const CHUNK_FRAMES = 50
const CHUNK = FRAME * CHUNK_FRAMES
export const BITRATE = 48_000
const RUN_BREAK_MS = 1000
const CONCEAL_MS = 60
const SILENCE_MAX_MS = 3000
const SILENCE_KEEP_MS = 1000
/** A frame quieter than this (RMS, dBFS) is silence for the shortening. */
const SILENCE_DBFS = -50
/** A track louder than this (RMS, dBFS) in a frame has a voice there. */
const VOICE_DBFS = -40
const TURN_MS = 2000
const TURN_WINDOW_MS = 3000
/** A speaker is named among those heard with at least this much voice. */
const HEARD_MS = 500

const rms = (dbfs: number) => 32768 * 10 ** (dbfs / 20)
const SILENCE_E = rms(SILENCE_DBFS) ** 2 * FRAME
const VOICE_E = rms(VOICE_DBFS) ** 2 * FRAME

interface MixTrack {
  userId: number
  name: string
  /** The capture file (absolute). */
  path: string
}
interface MixQuestion {
  /** When it was brought to stage (epoch ms). */
  at: number
  title: string
  userId: number | null
}
export interface MixInput {
  tracks: MixTrack[]
  questions: MixQuestion[]
  /** The Ogg Opus file to write (absolute); written beside it first, then renamed. */
  dest: string
  title: string
}
export interface ReplayChapter {
  startMs: number
  title: string
  kind: 'speaker' | 'question'
  userId?: number
}
/** Wall time `at` (epoch ms) is replay time `ms`, for `len` ms. */
export interface TimelineSegment {
  at: number
  ms: number
  len: number
}
export interface MixResult {
  durationMs: number
  bytes: number
  chapters: ReplayChapter[]
  timeline: TimelineSegment[]
  speakers: number[]
}

export class NothingToMixError extends Error {}

interface Placed {
  /** Start, in samples from the mix's origin. */
  at: number
  payload: Uint8Array
}

/** [RP22] A track's packets, each with its wall-clock start (epoch ms), in time order. */
function placeTrack(bytes: Uint8Array): { wall: number; payload: Uint8Array }[] {
  const { records } = decodeCapture(bytes)
  const out: { wall: number; payload: Uint8Array }[] = []
  let run: { offset: number; lastTs: number; lastPos: number; items: { pos: number; payload: Uint8Array }[] } | null =
    null
  const seen = new Set<number>()
  const close = () => {
    if (!run) return
    for (const it of run.items) out.push({ wall: run.offset + it.pos / PER_MS, payload: it.payload })
  }
  for (const r of records) {
    if (r.payload.length === 0) continue
    if (run) {
      const delta = (r.timestamp - run.lastTs) | 0
      const pos = run.lastPos + delta
      const drift = r.arrivedAt - (run.offset + pos / PER_MS)
      if (Math.abs(drift) <= RUN_BREAK_MS) {
        if (seen.has(pos)) continue
        seen.add(pos)
        // Arrival is late by network jitter, never early: the run's clock is its earliest packet's.
        if (drift < 0) run.offset += drift
        if (delta > 0) {
          run.lastTs = r.timestamp
          run.lastPos = pos
        }
        run.items.push({ pos, payload: r.payload })
        continue
      }
      close()
    }
    seen.clear()
    seen.add(0)
    run = { offset: r.arrivedAt, lastTs: r.timestamp, lastPos: 0, items: [{ pos: 0, payload: r.payload }] }
  }
  close()
  return out.sort((a, b) => a.wall - b.wall)
}

/** [RP23] One track decoded into consecutive blocks of the mix's time. */
class TrackDecoder {
  private readonly dec = new OpusDecoder()
  private i = 0
  private end = 0
  private carry: Int16Array | null = null
  private carryAt = 0
  voiced = 0

  constructor(private readonly packets: Placed[]) {}

  /** Adds nothing, writes the track's samples for [from, from + out.length) into `out` (zeros where it is silent). */
  fill(out: Float32Array, from: number) {
    out.fill(0)
    const to = from + out.length
    for (;;) {
      if (this.carry) {
        const c = this.carry
        const s = Math.max(from, this.carryAt)
        const e = Math.min(to, this.carryAt + c.length)
        for (let k = s; k < e; k++) out[k - from] = c[k - this.carryAt]!
        if (this.carryAt + c.length > to) return
        this.carry = null
      }
      const p = this.packets[this.i]
      if (!p || p.at >= to) return
      const gap = p.at - this.end
      if (gap > 0 && this.end > 0 && gap <= CONCEAL_MS * PER_MS) {
        this.carry = this.dec.decode(new Uint8Array(0)).subarray(0, gap)
        this.carryAt = this.end
        this.end += this.carry.length
        continue
      }
      if (gap > CONCEAL_MS * PER_MS) this.dec.reset()
      this.i++
      let pcm: Int16Array
      try {
        pcm = this.dec.decode(p.payload)
      } catch {
        continue // a packet the decoder refuses: the next one's concealment covers it
      }
      this.carry = pcm
      this.carryAt = Math.max(p.at, this.end)
      this.end = this.carryAt + pcm.length
    }
  }

  get done() {
    return this.i >= this.packets.length && !this.carry
  }

  free() {
    this.dec.free()
  }
}

/** [RP25] Passes frames on, keeping of a silence longer than SILENCE_MAX_MS only its first and last half-second. */
class SilenceShortener {
  private readonly head = SILENCE_KEEP_MS / 2 / FRAME_MS
  private readonly limit = SILENCE_MAX_MS / FRAME_MS
  private run = 0
  private held: { raw: number; pcm: Int16Array }[] = []
  private shortened = false

  constructor(private readonly emit: (raw: number, pcm: Int16Array, speaker: number) => void) {}

  push(raw: number, pcm: Int16Array, silent: boolean, speaker: number) {
    if (!silent) {
      this.release()
      this.emit(raw, pcm, speaker)
      return
    }
    this.run++
    if (this.run <= this.head) return this.emit(raw, pcm, -1)
    this.held.push({ raw, pcm })
    if (this.held.length > this.limit - this.head) this.shortened = true
    if (this.shortened) this.held.splice(0, this.held.length - this.head)
  }

  /** At the end: a trailing silence keeps its first half-second only when it is shortened. */
  end() {
    if (!this.shortened) this.release()
  }

  private release() {
    for (const h of this.held) this.emit(h.raw, h.pcm, -1)
    this.held = []
    this.run = 0
    this.shortened = false
  }
}

/** [RP26] Speaker turns from the loudest voice of each replay frame (-1: none). */
export function speakerTurns(dominant: ArrayLike<number>, tracks: number): { frame: number; track: number }[] {
  const window = TURN_WINDOW_MS / FRAME_MS
  const need = TURN_MS / FRAME_MS
  const counts = new Array<number>(tracks).fill(0)
  const turns: { frame: number; track: number }[] = []
  let current = -1
  for (let f = 0; f < dominant.length; f++) {
    const s = dominant[f]!
    if (s >= 0) counts[s]!++
    const old = f - window >= 0 ? dominant[f - window]! : -1
    if (old >= 0) counts[old]!--
    if (s >= 0 && s !== current && counts[s]! >= need) {
      current = s
      let start = Math.max(0, f - window + 1)
      while (dominant[start] !== s) start++
      turns.push({ frame: start, track: s })
    }
  }
  if (turns.length === 0) {
    // Nobody held the floor that long: the first voice heard opens the replay's one chapter.
    const first = Array.prototype.findIndex.call(dominant, (s: number) => s >= 0)
    if (first >= 0) turns.push({ frame: first, track: dominant[first]! })
  }
  return turns
}

/** Where wall time `at` lands in the replay: inside a kept stretch, or at the start of the next one. */
export function replayTime(timeline: readonly TimelineSegment[], at: number, durationMs: number): number {
  for (const s of timeline) {
    if (at < s.at) return s.ms
    if (at < s.at + s.len) return s.ms + (at - s.at)
  }
  return durationMs
}

const soft = (x: number) => {
  const knee = 24_000
  const room = 32_767 - knee
  const a = Math.abs(x)
  if (a <= knee) return x
  return Math.sign(x) * (knee + room * Math.tanh((a - knee) / room))
}

/** Mixes a room's tracks into `input.dest`. `progress` is told the share done (0..1) after each second mixed. */
export function mixReplay(input: MixInput, progress: (share: number) => void = () => {}): MixResult {
  const placed = input.tracks.map((t) => {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(t.path)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw e
    }
    return placeTrack(bytes)
  })
  const starts = placed.filter((p) => p.length > 0).map((p) => p[0]!.wall)
  if (starts.length === 0) throw new NothingToMixError('nothing to mix: no speaker audio was recorded')
  const origin = Math.min(...starts)
  let last = 0
  const decoders = placed.map((packets) => {
    const ps = packets.map((p) => ({ at: Math.round((p.wall - origin) * PER_MS), payload: p.payload }))
    const end = ps[ps.length - 1]
    if (end) last = Math.max(last, end.at + (packetSamples(end.payload) || FRAME))
    return new TrackDecoder(ps)
  })
  const totalFrames = Math.ceil(last / FRAME)

  const encoder = new OpusEncoder(BITRATE)
  const tmp = `${input.dest}.tmp`
  const writerFor = (comments: string[]) => new OggOpusWriter(tmp, encoder.lookahead, comments)
  // The chapters are known only at the end and the comment header comes first: the audio is encoded into a first
  // file, then its packets are copied behind the final headers (cheap: no second encode).
  const packets: Uint8Array[] = []
  const timeline: TimelineSegment[] = []
  const dominant: number[] = []
  let out = 0
  let lastRaw = -2
  const shortener = new SilenceShortener((raw, pcm, speaker) => {
    packets.push(encoder.encode(pcm))
    dominant.push(speaker)
    const seg = timeline[timeline.length - 1]
    if (seg && raw === lastRaw + 1) seg.len += FRAME_MS
    else timeline.push({ at: Math.round(origin + raw * FRAME_MS), ms: out * FRAME_MS, len: FRAME_MS })
    lastRaw = raw
    out++
  })

  const bufs = decoders.map(() => new Float32Array(CHUNK))
  const mix = new Float32Array(CHUNK)
  const energy = new Float64Array(decoders.length)
  try {
    for (let chunk = 0; chunk * CHUNK_FRAMES < totalFrames; chunk++) {
      const from = chunk * CHUNK
      for (let t = 0; t < decoders.length; t++) decoders[t]!.fill(bufs[t]!, from)
      mix.fill(0)
      for (const b of bufs) for (let k = 0; k < CHUNK; k++) mix[k]! += b[k]!
      for (let f = 0; f < CHUNK_FRAMES && chunk * CHUNK_FRAMES + f < totalFrames; f++) {
        const o = f * FRAME
        let loudest = -1
        let best = VOICE_E
        for (let t = 0; t < bufs.length; t++) {
          const b = bufs[t]!
          let e = 0
          for (let k = o; k < o + FRAME; k++) e += b[k]! * b[k]!
          energy[t] = e
          if (e >= VOICE_E) decoders[t]!.voiced++
          if (e >= best) {
            best = e
            loudest = t
          }
        }
        const pcm = new Int16Array(FRAME)
        let e = 0
        for (let k = 0; k < FRAME; k++) {
          const v = soft(mix[o + k]!)
          pcm[k] = v
          e += v * v
        }
        shortener.push(chunk * CHUNK_FRAMES + f, pcm, e < SILENCE_E, loudest)
      }
      progress(Math.min(1, ((chunk + 1) * CHUNK_FRAMES) / totalFrames))
    }
    shortener.end()
    // The encoder's delay: one frame of silence more brings the last samples out.
    packets.push(encoder.encode(new Int16Array(FRAME)))
  } finally {
    for (const d of decoders) d.free()
    encoder.free()
  }

  const durationMs = out * FRAME_MS
  const chapters: ReplayChapter[] = speakerTurns(dominant, decoders.length).map((t) => ({
    startMs: t.frame * FRAME_MS,
    title: input.tracks[t.track]!.name,
    kind: 'speaker',
    userId: input.tracks[t.track]!.userId,
  }))
  for (const q of input.questions) {
    const c: ReplayChapter = { startMs: replayTime(timeline, q.at, durationMs), title: q.title, kind: 'question' }
    if (q.userId !== null) c.userId = q.userId
    chapters.push(c)
  }
  chapters.sort((a, b) => a.startMs - b.startMs)

  const comments = [`TITLE=${input.title.replace(/[\r\n]+/g, ' ')}`, ...chapterComments(chapters as Chapter[])]
  const writer = writerFor(comments)
  try {
    for (const p of packets) writer.add(p, FRAME)
    writer.finish(out * FRAME)
    renameSync(tmp, input.dest)
  } catch (e) {
    writer.abort()
    rmSync(tmp, { force: true })
    throw e
  }
  const speakers = input.tracks.filter((_, i) => decoders[i]!.voiced * FRAME_MS >= HEARD_MS).map((t) => t.userId)
  return { durationMs, bytes: writer.bytes, chapters, timeline, speakers }
}
