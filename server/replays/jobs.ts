// The mix job [RP30–RP32]: turns each 'pending' replay into its Ogg Opus file, one at a time, in the replay worker
// (never on the server's thread). pending → mixing (progress persisted as it goes) → ready | failed. A replay found
// 'mixing' at start was being mixed when the server stopped or crashed: it is mixed again from the start. A replay set
// back to 'pending' while it is mixed (a speaker withdrew) is not marked ready: the job mixes it again without them.
import type { Database } from 'bun:sqlite'
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BackchannelApi } from '../contracts'
import type { Logger } from '../lib/log'
import type { MixInput, MixResult } from './mix'
import { NothingToMixError } from './mix'
import { type RunningWork, startReplayWorker } from './worker-client'

/** The job looks for pending replays this often even when nobody told it of one. */
const MIX_POLL_MS = 30_000
/** Progress is written to the database when it moved by this much (or the mix ended). */
const PROGRESS_STEP = 0.02
const QUESTION_TITLE_MAX = 120

interface MixChange {
  replayId: number
  roomId: number
  state: 'mixing' | 'ready' | 'failed'
  progress: number
}

interface ReplayRow {
  id: number
  room_id: number
  left_out: string
}

export interface MixJobsDeps {
  db: Database
  dataDir: string
  log: Logger
  /** Told of each change of a mix (its start, progress, end), after it is written. */
  changed: (e: MixChange) => void
  /** A replay is ready, with the members heard in it. */
  ready: (e: { replayId: number; roomId: number; speakers: number[] }) => void
  /** What other domains know: the room's title, the speakers' names, the questions brought to stage. */
  roomTitle: (roomId: number) => string
  names: (userIds: number[]) => Map<number, string>
  stagedQuestions: BackchannelApi['stagedQuestions']
}

export class MixJobs {
  private q
  private running = false
  private stopped = false
  private current: RunningWork | null = null
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(private deps: MixJobsDeps) {
    const { db } = deps
    this.q = {
      restart: db.prepare("UPDATE replays SET state = 'pending', progress = 0 WHERE state = 'mixing'"),
      next: db.prepare<ReplayRow, []>(
        "SELECT id, room_id, left_out FROM replays WHERE state = 'pending' ORDER BY created_at, id LIMIT 1",
      ),
      claim: db.prepare<never, [number]>(
        "UPDATE replays SET state = 'mixing', progress = 0, error = NULL WHERE id = ? AND state = 'pending'",
      ),
      tracks: db.prepare<{ user_id: number; path: string }, [number]>(
        'SELECT user_id, path FROM recording_tracks WHERE room_id = ? ORDER BY user_id',
      ),
      withdrawn: db.prepare<{ user_id: number }, [number]>(
        'SELECT user_id FROM replay_withdrawals WHERE replay_id = ? ORDER BY user_id',
      ),
      progress: db.prepare<never, [number, number]>(
        "UPDATE replays SET progress = ? WHERE id = ? AND state = 'mixing'",
      ),
      ready: db.prepare<never, [string, number, number, string, string, string, string, number, number]>(
        `UPDATE replays SET state = 'ready', progress = 1, path = ?, bytes = ?, duration_ms = ?, chapters = ?,
           timeline = ?, speakers = ?, left_out = ?, error = NULL, ready_at = ? WHERE id = ? AND state = 'mixing'`,
      ),
      failed: db.prepare<never, [string, string, number]>(
        `UPDATE replays SET state = 'failed', progress = 0, error = ?, left_out = ?, path = NULL, bytes = 0,
           duration_ms = 0 WHERE id = ? AND state = 'mixing'`,
      ),
      exists: db.prepare<{ state: string }, [number]>('SELECT state FROM replays WHERE id = ?'),
    }
  }

  /** [RP31] Mixes again what a previous run left 'mixing', then every pending replay as it comes. */
  start() {
    if (this.running) return
    this.running = true
    this.stopped = false
    this.q.restart.run()
    this.loop = this.run()
  }

  /** Ends the mix under way (its replay stays 'mixing' and is mixed again at the next start) and the loop. */
  async stop() {
    if (!this.running) return
    this.stopped = true
    this.current?.cancel()
    this.wake?.()
    await this.loop
    this.running = false
  }

  /** A replay became 'pending' (a room ended, a speaker withdrew): look now rather than at the next poll. */
  kick() {
    this.wake?.()
  }

  private async run() {
    while (!this.stopped) {
      const next = this.q.next.get()
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve
          this.timer = setTimeout(resolve, MIX_POLL_MS)
        })
        if (this.timer) clearTimeout(this.timer)
        this.wake = null
        continue
      }
      try {
        await this.mix(next)
      } catch (error) {
        // Only a database failure gets here (the mix's own are written as 'failed'): wait before trying again.
        this.deps.log.error('replays: the mix job failed', { replayId: next.id, error })
        await new Promise((r) => {
          this.wake = () => r(undefined)
          this.timer = setTimeout(r, MIX_POLL_MS)
        })
        if (this.timer) clearTimeout(this.timer)
      }
    }
  }

  /** The mix's input: the room's tracks but the withdrawn speakers', the questions brought to stage. */
  private input(r: ReplayRow, dest: string): { input: MixInput; leftOut: number[] } {
    const withdrawn = new Set(this.q.withdrawn.all(r.id).map((w) => w.user_id))
    const leftOut = [...new Set<number>([...(JSON.parse(r.left_out) as number[]), ...withdrawn])].sort((a, b) => a - b)
    const kept = this.q.tracks.all(r.room_id).filter((t) => !withdrawn.has(t.user_id))
    const names = this.deps.names(kept.map((t) => t.user_id))
    const tracks = kept.map((t) => ({
      userId: t.user_id,
      name: names.get(t.user_id) ?? 'Deleted member',
      path: join(this.deps.dataDir, t.path),
    }))
    const questions = this.deps.stagedQuestions(r.room_id).map((q) => ({
      at: q.stagedAt,
      title: questionTitle(q.body),
      userId: q.authorId,
    }))
    return { input: { tracks, questions, dest, title: this.deps.roomTitle(r.room_id) }, leftOut }
  }

  private async mix(r: ReplayRow) {
    if (this.q.claim.run(r.id).changes === 0) return
    const { dataDir, log, changed } = this.deps
    const rel = join('replays', `${r.id}.opus`)
    const dest = join(dataDir, rel)
    mkdirSync(join(dataDir, 'replays'), { recursive: true })
    // A mix again (after a withdrawal) removes the previous file at once: the withdrawn voice is not kept meanwhile.
    rmSync(dest, { force: true })
    const { input, leftOut } = this.input(r, dest)
    changed({ replayId: r.id, roomId: r.room_id, state: 'mixing', progress: 0 })
    let written = 0
    const work = startReplayWorker({ type: 'mix', input }, (share) => {
      if (share - written < PROGRESS_STEP) return
      written = share
      this.q.progress.run(share, r.id)
      changed({ replayId: r.id, roomId: r.room_id, state: 'mixing', progress: share })
    })
    this.current = work
    let result: MixResult
    try {
      result = (await work.done) as MixResult
    } catch (error) {
      if (this.stopped) return
      const message = error instanceof Error ? error.message : String(error)
      if (!(error instanceof NothingToMixError)) log.error('replays: a mix failed', { replayId: r.id, error })
      // Nothing may stay of a mix that had a withdrawn speaker in it.
      rmSync(dest, { force: true })
      if (this.q.failed.run(message, JSON.stringify(leftOut), r.id).changes > 0) {
        changed({ replayId: r.id, roomId: r.room_id, state: 'failed', progress: 0 })
      }
      return
    } finally {
      this.current = null
    }
    const done = this.q.ready.run(
      rel,
      result.bytes,
      result.durationMs,
      JSON.stringify(result.chapters),
      JSON.stringify(result.timeline),
      JSON.stringify(result.speakers),
      JSON.stringify(leftOut),
      Date.now(),
      r.id,
    )
    if (done.changes > 0) {
      log.info('replays: mixed', { replayId: r.id, durationMs: result.durationMs, bytes: result.bytes })
      changed({ replayId: r.id, roomId: r.room_id, state: 'ready', progress: 1 })
      this.deps.ready({ replayId: r.id, roomId: r.room_id, speakers: result.speakers })
    } else if (!this.q.exists.get(r.id)) {
      // Deleted while it was mixed: its file goes too. (Set back to 'pending': the loop mixes it again.)
      rmSync(dest, { force: true })
    }
  }
}

/** A question's chapter title: "Question: …", on one line, at most QUESTION_TITLE_MAX characters. */
function questionTitle(body: string): string {
  const t = `Question: ${body.replace(/\s+/g, ' ').trim()}`
  return t.length > QUESTION_TITLE_MAX ? `${t.slice(0, QUESTION_TITLE_MAX - 1)}…` : t
}
