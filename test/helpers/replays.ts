// Replays in tests: capture files made of known tones (encoded by the server's own Opus codec, written as the recorder
// writes them), and what ffmpeg/ffprobe (Debian's, installed by .ci/run for tests only) read back from a replay.
import type { Database } from 'bun:sqlite'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { until, WAIT } from './limits'
import { CAPTURE_MAGIC, encodeRecord } from '../../server/replays/capture-format'
import { OpusEncoder } from '../../server/replays/opus'

export interface Tone {
  /** From the room's start (ms). */
  startMs: number
  durationMs: number
  freq: number
}

/**
 * A capture file of a speaker who sends `tones` (20 ms packets only while a tone sounds, like a muted or
 * discontinuous sender), with an RTP clock that starts anywhere and runs on, and arrivals late by up to 30 ms.
 * `origin` is the room's start (epoch ms). Returns the bytes (also written to `path` when given).
 */
export function toneCapture(tones: Tone[], opts: { origin?: number; path?: string; amplitude?: number } = {}) {
  const origin = opts.origin ?? 1_800_000_000_000
  const amp = opts.amplitude ?? 8000
  const enc = new OpusEncoder(32_000, 2)
  const tsBase = (Math.random() * 0xffffffff) >>> 0
  let seq = (Math.random() * 0xffff) | 0
  const parts: Buffer[] = [CAPTURE_MAGIC]
  try {
    for (const t of tones) {
      for (let ms = t.startMs; ms < t.startMs + t.durationMs; ms += 20) {
        const pcm = new Int16Array(960)
        for (let k = 0; k < 960; k++)
          pcm[k] = Math.round(amp * Math.sin((2 * Math.PI * t.freq * (ms * 48 + k)) / 48_000))
        const payload = Buffer.from(enc.encode(pcm))
        parts.push(
          encodeRecord({
            seq: seq++ & 0xffff,
            timestamp: (tsBase + ms * 48) >>> 0,
            arrivedAt: origin + ms + 2 + Math.random() * 28,
            payload,
          }),
        )
      }
    }
  } finally {
    enc.free()
  }
  const bytes = Buffer.concat(parts)
  if (opts.path) writeFileSync(opts.path, bytes)
  return bytes
}

/** A replay decoded by ffmpeg: mono 48 kHz samples. */
export async function decodeWithFfmpeg(path: string): Promise<Int16Array> {
  const p = Bun.spawn(['ffmpeg', '-v', 'error', '-i', path, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(p.stdout).arrayBuffer(),
    new Response(p.stderr).text(),
    p.exited,
  ])
  if (code !== 0) throw new Error(`ffmpeg ${path}: ${err}`)
  return new Int16Array(out)
}

/** What ffprobe says of a file's first stream and its format. */
export async function probe(
  path: string,
): Promise<{ codec: string; durationMs: number; tags: Record<string, string> }> {
  const p = Bun.spawn(['ffprobe', '-v', 'error', '-show_streams', '-show_format', '-of', 'json', path], {
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new Error(`ffprobe ${path}: ${err}`)
  const j = JSON.parse(out)
  return {
    codec: j.streams[0].codec_name,
    durationMs: Number(j.format.duration) * 1000,
    tags: { ...(j.format.tags ?? {}), ...(j.streams[0].tags ?? {}) },
  }
}

/** The amplitude of `freq` in each 100 ms block of `pcm` (Goertzel). */
function toneLevels(pcm: Int16Array, freq: number, from = 0, to = pcm.length): number[] {
  const block = 4800
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / 48_000)
  const out: number[] = []
  for (let b = from; b + block <= to; b += block) {
    let s1 = 0
    let s2 = 0
    for (let k = b; k < b + block; k++) {
      const s = pcm[k]! + coeff * s1 - s2
      s2 = s1
      s1 = s
    }
    out.push((2 * Math.sqrt(Math.max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2))) / block)
  }
  return out
}

/** How many 100 ms blocks of [fromMs, toMs) carry `freq` clearly (above a tenth of the tones' amplitude). */
export function blocksWithTone(pcm: Int16Array, freq: number, fromMs = 0, toMs = pcm.length / 48): number {
  return toneLevels(pcm, freq, Math.round(fromMs * 48), Math.round(toMs * 48)).filter((a) => a > 800).length
}

export interface SeedSpeaker {
  username: string
  tones: Tone[]
}

/**
 * An ended recorded room in a server's database (a real SQLite file) with a capture file per speaker under
 * DATA_DIR/recordings/<roomId>/, and its replay row 'pending' — what the recorder leaves when a room ends. Users are
 * made when missing. Returns the ids.
 */
export function seedReplay(
  db: Database,
  dataDir: string,
  speakers: SeedSpeaker[],
  opts: { origin?: number; questions?: { atMs: number; body: string; author: string }[]; title?: string } = {},
) {
  const origin = opts.origin ?? Date.now() - 3_600_000
  const userId = (username: string) => {
    const row = db.query<{ id: number }, [string]>('SELECT id FROM users WHERE username = ?').get(username)
    if (row) return row.id
    return db
      .query<{ id: number }, [string, number]>(
        "INSERT INTO users (username, password_hash, created_at) VALUES (?, 'x', ?) RETURNING id",
      )
      .get(username, Date.now())!.id
  }
  const ids = speakers.map((s) => userId(s.username))
  const roomId = db
    .query<{ id: number }, [number, number, string, number, number, number]>(
      `INSERT INTO rooms (creator_id, host_id, title, kind, state, recording, started_at, ended_at, created_at)
       VALUES (?, ?, ?, 'open', 'ended', 1, ?, ?, ?) RETURNING id`,
    )
    .get(ids[0]!, ids[0]!, opts.title ?? 'Recorded room', origin, origin + 60_000, origin)!.id
  mkdirSync(join(dataDir, 'recordings', String(roomId)), { recursive: true })
  speakers.forEach((s, i) => {
    const rel = join('recordings', String(roomId), `${ids[i]}.cap`)
    const bytes = toneCapture(s.tones, { origin, path: join(dataDir, rel) })
    db.query(
      'INSERT INTO recording_tracks (room_id, user_id, path, started_at, updated_at, bytes) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(roomId, ids[i]!, rel, origin, origin, bytes.length)
  })
  if (opts.questions?.length) {
    const thread = db
      .query<{ id: number }, [number, number, number]>(
        "INSERT INTO bc_threads (kind, room_id, last_at, created_at) VALUES ('room_chat', ?, ?, ?) RETURNING id",
      )
      .get(roomId, origin, origin)
    for (const [n, q] of opts.questions.entries()) {
      db.query(
        `INSERT INTO bc_questions (thread_id, room_id, author_id, client_id, body, staged_at, created_at, seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(thread!.id, roomId, userId(q.author), `q${roomId}-${n}`, q.body, origin + q.atMs, origin, n + 1)
    }
  }
  const replayId = db
    .query<{ id: number }, [number, number]>(
      "INSERT INTO replays (room_id, state, created_at) VALUES (?, 'pending', ?) RETURNING id",
    )
    .get(roomId, Date.now())!.id
  return { roomId, replayId, userIds: ids, origin }
}

/**
 * A server in a child process (test/helpers/recording-child.ts) on `dataDir`, kept in `children` while it runs (the
 * caller SIGKILLs what is left there after its tests). Resolves once it listens, with its address.
 */
export async function recordingChild(dataDir: string, children: Set<ChildProcess>) {
  const proc = spawn(process.execPath, [join(import.meta.dir, 'recording-child.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, DATA_DIR: dataDir },
  })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  let out = ''
  proc.stdout!.on('data', (d) => {
    out += d.toString()
  })
  await until(() => out.includes('\n') || proc.exitCode !== null, 'the child server listening', WAIT)
  if (!out.includes('\n')) throw new Error(`the child server exited (${proc.exitCode})`)
  return { proc, server: JSON.parse(out.slice(0, out.indexOf('\n'))) as { url: string; origin: string } }
}
