// The mix job [RP30–RP32]: turns each 'pending' replay into its Ogg Opus file, one at a time, in the replay worker
// (never on the server's thread). pending → mixing (progress persisted as it goes) → ready | failed. A replay found
// 'mixing' at start was being mixed when the server stopped or crashed: it is mixed again from the start. A replay set
// back to 'pending' while it is mixed (a speaker withdrew) is not marked ready: the job mixes it again without them.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { BackchannelApi } from '../contracts'
import type { Logger } from '../lib/log'
import type { MixInput, MixResult } from './mix'
import { NothingToMixError } from './mix'
import { leftOutOf, type ReplayRow, type ReplaysStore } from './store'
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

export interface MixJobsDeps {
  store: ReplaysStore
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
  private running = false
  private stopped = false
  private current: RunningWork | null = null
  private loop: Promise<void> | null = null
  private wake: (() => void) | null = null
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(private deps: MixJobsDeps) {}

  /** [RP31] Mixes again what a previous run left 'mixing', then every pending replay as it comes. */
  start() {
    if (this.running) return
    this.running = true
    this.stopped = false
    this.loop = this.deps.store.requeueMixing().then(() => this.run())
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
      let next: ReplayRow | null = null
      try {
        next = await this.deps.store.nextPending()
        if (next) await this.mix(next)
      } catch (error) {
        // Only a database failure gets here (the mix's own are written as 'failed'): wait before trying again.
        this.deps.log.error('replays: the mix job failed', { replayId: next?.id, error })
        next = null
      }
      if (next) continue
      await new Promise<void>((resolve) => {
        this.wake = resolve
        this.timer = setTimeout(resolve, MIX_POLL_MS)
      })
      if (this.timer) clearTimeout(this.timer)
      this.wake = null
    }
  }

  /** The mix's input: the room's tracks but the withdrawn speakers', the questions brought to stage. */
  private async input(r: ReplayRow, dest: string): Promise<{ input: MixInput; leftOut: number[] }> {
    const withdrawn = new Set(await this.deps.store.withdrawn(r.id))
    const leftOut = [...new Set<number>([...leftOutOf(r), ...withdrawn])].sort((a, b) => a - b)
    const kept = (await this.deps.store.tracks(r.room_id)).filter((t) => !withdrawn.has(t.user_id))
    const names = this.deps.names(kept.map((t) => t.user_id))
    const tracks = kept.map((t) => ({
      userId: t.user_id,
      name: names.get(t.user_id) ?? 'Deleted member',
      path: join(this.deps.dataDir, t.path),
    }))
    const questions = (await this.deps.stagedQuestions(r.room_id)).map((q) => ({
      at: q.stagedAt,
      title: questionTitle(q.body),
      userId: q.authorId,
    }))
    return { input: { tracks, questions, dest, title: this.deps.roomTitle(r.room_id) }, leftOut }
  }

  private async mix(r: ReplayRow) {
    if (!(await this.deps.store.claim(r.id))) return
    const { dataDir, log, changed } = this.deps
    const rel = join('replays', `${r.id}.opus`)
    const dest = join(dataDir, rel)
    mkdirSync(join(dataDir, 'replays'), { recursive: true })
    // A mix again (after a withdrawal) removes the previous file at once: the withdrawn voice is not kept meanwhile.
    rmSync(dest, { force: true })
    const { input, leftOut } = await this.input(r, dest)
    changed({ replayId: r.id, roomId: r.room_id, state: 'mixing', progress: 0 })
    let written = 0
    const work = startReplayWorker({ type: 'mix', input }, (share) => {
      if (share - written < PROGRESS_STEP) return
      written = share
      this.deps.store
        .setProgress(r.id, share)
        .catch((error) => log.warn('replays: unable to note the progress of a mix', { replayId: r.id, error }))
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
      if (await this.deps.store.failMix(r.id, message, leftOut)) {
        changed({ replayId: r.id, roomId: r.room_id, state: 'failed', progress: 0 })
      }
      return
    } finally {
      this.current = null
    }
    const done = await this.deps.store.finishMix(r.id, { ...result, path: rel }, leftOut)
    if (done) {
      log.info('replays: mixed', { replayId: r.id, durationMs: result.durationMs, bytes: result.bytes })
      changed({ replayId: r.id, roomId: r.room_id, state: 'ready', progress: 1 })
      this.deps.ready({ replayId: r.id, roomId: r.room_id, speakers: result.speakers })
    } else if (!(await this.deps.store.byId(r.id))) {
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
