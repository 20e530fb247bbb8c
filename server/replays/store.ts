// The replays store (the replay side of 0009_replays.sql): replays, their mix job's states, clips, feed secrets and
// the recorder's capture tracks. Its contract (ReplaysStore, asynchronous: docs/ARCHITECTURE.md, "Stores") and its
// SQLite implementation through the gate; the Postgres one is store-pg.ts, and test/integration/store-replays.test.ts
// runs the same tests against both. Rooms and members are read through their domains' contracts, never their tables.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'

export type ReplayState = 'pending' | 'mixing' | 'ready' | 'failed'

export interface ReplayRow {
  id: number
  room_id: number
  state: ReplayState
  progress: number
  path: string | null
  bytes: number
  duration_ms: number
  chapters: string
  timeline: string
  speakers: string
  left_out: string
  error: string | null
  created_at: number
  ready_at: number | null
}

export interface ClipRow {
  id: number
  slug: string
  replay_id: number
  user_id: number
  title: string
  start_ms: number
  duration_ms: number
  path: string | null
  bytes: number
  speakers: string
  created_at: number
}

/** A chapter as the mixer stores it in `replays.chapters`. */
export interface StoredChapter {
  startMs: number
  title: string
  kind: 'speaker' | 'question'
  userId?: number
}

/** Wall time `at` (epoch ms) is replay time `ms`, for `len` ms (the mixer's timeline; silences cut between pieces). */
export interface TimelinePiece {
  at: number
  ms: number
  len: number
}

/** What the mixer writes when a replay is ready (tests set it through the store before the real mix exists). */
export interface MixedReplay {
  path: string
  bytes: number
  durationMs: number
  chapters: StoredChapter[]
  timeline: TimelinePiece[]
  speakers: number[]
}

/** A speaker's capture file, as the recorder keeps it (path relative to DATA_DIR). */
export interface TrackRow {
  room_id: number
  user_id: number
  path: string
  started_at: number
  updated_at: number
  bytes: number
}

export type NewClip = Omit<ClipRow, 'id' | 'created_at'>
interface Usage {
  n: number
  bytes: number
}

/** Every method takes the transaction it belongs to, if any; those that change several tables hold their own. */
export interface ReplaysStore extends Transactor {
  byId(id: number, tx?: Tx): Promise<ReplayRow | null>
  byRoom(roomId: number, tx?: Tx): Promise<ReplayRow | null>
  /** The most recent replays, any state (the list filters by who may see them). */
  recent(limit: number, tx?: Tx): Promise<ReplayRow[]>
  /** Ready replays, the last ready first. */
  ready(limit: number, tx?: Tx): Promise<ReplayRow[]>
  /** The replay of an ended room, waiting for its mix; null when the room already has one. */
  insertPending(roomId: number, leftOut: number[], tx?: Tx): Promise<number | null>
  /** A replay set ready, whatever its state (tests set a file this way; the mix job uses `finishMix`). */
  setMixed(id: number, m: MixedReplay, readyAt?: number, tx?: Tx): Promise<void>
  /**
   * A speaker withdraws: their withdrawal row, the replay back to 'pending' with them left out (the mix job mixes it
   * again without them) and the clips they are heard in removed, as one. Returns the clips removed.
   */
  withdraw(replayId: number, userId: number): Promise<ClipRow[]>
  withdrawn(replayId: number, tx?: Tx): Promise<number[]>
  /** Removes a replay's rows (its clips and withdrawals cascade) and its room's capture tracks, as one. */
  remove(replay: ReplayRow): Promise<void>
  /**
   * A deleted account, as one: their capture tracks (rows; the caller removes the files) and the clips they cut go,
   * their feed too, and they are withdrawn from every replay of a room they were recorded in. Returns the files to
   * remove and whether a replay must be mixed again.
   */
  eraseMember(userId: number): Promise<{ files: string[]; remix: boolean }>
  /** Replays done (ready or failed) before `before` (epoch ms): the retention sweep's. */
  olderThan(before: number, tx?: Tx): Promise<ReplayRow[]>

  insertClip(c: NewClip, tx?: Tx): Promise<ClipRow>
  clipBySlug(slug: string, tx?: Tx): Promise<ClipRow | null>
  clipsOf(replayId: number, tx?: Tx): Promise<ClipRow[]>

  /** The member whose current feed secret has this hash, or null. */
  feedOwner(secretHash: string, tx?: Tx): Promise<number | null>
  feedCreatedAt(userId: number, tx?: Tx): Promise<number | null>
  /** The member's feed secret, replacing any older one. */
  setFeed(userId: number, secretHash: string, tx?: Tx): Promise<void>
  removeFeed(userId: number, tx?: Tx): Promise<void>

  /** What replays, clips and capture files take, as the database counts them. */
  disk(tx?: Tx): Promise<{ replays: Usage; clips: Usage; recordings: Usage }>

  /** A capture file was opened (created, or reopened after a restart with `bytes` whole bytes in it). */
  openTrack(roomId: number, userId: number, path: string, bytes: number, tx?: Tx): Promise<void>
  trackWritten(roomId: number, userId: number, bytes: number, tx?: Tx): Promise<void>
  tracks(roomId: number, tx?: Tx): Promise<TrackRow[]>

  /** The mix job's start: replays left 'mixing' by a stopped or crashed run are 'pending' again. */
  requeueMixing(tx?: Tx): Promise<void>
  /** The oldest pending replay. */
  nextPending(tx?: Tx): Promise<ReplayRow | null>
  /** Takes a pending replay for its mix: false when it is no longer pending (another node's job took it). */
  claim(id: number, tx?: Tx): Promise<boolean>
  setProgress(id: number, share: number, tx?: Tx): Promise<void>
  /** The mix is done: false when the replay is no longer 'mixing' (deleted, or set back to pending meanwhile). */
  finishMix(id: number, m: MixedReplay, leftOut: number[], tx?: Tx): Promise<boolean>
  /** The mix failed: false when the replay is no longer 'mixing'. */
  failMix(id: number, error: string, leftOut: number[], tx?: Tx): Promise<boolean>
  /** A failed replay to be mixed again: pending, its error cleared; false when it is not 'failed' (any more). */
  retry(id: number, tx?: Tx): Promise<boolean>
}

const parse = <T>(json: string, what: string): T => {
  try {
    return JSON.parse(json) as T
  } catch (e) {
    throw new Error(`store: unable to read ${what}: ${(e as Error).message}`)
  }
}
/** A replay's JSON columns, read. */
export const chaptersOf = (r: ReplayRow) => parse<StoredChapter[]>(r.chapters, `the chapters of replay ${r.id}`)
export const timelineOf = (r: ReplayRow) => parse<TimelinePiece[]>(r.timeline, `the timeline of replay ${r.id}`)
export const speakersOf = (r: ReplayRow) => parse<number[]>(r.speakers, `the speakers of replay ${r.id}`)
export const leftOutOf = (r: ReplayRow) => parse<number[]>(r.left_out, `the left-out speakers of replay ${r.id}`)
export const clipSpeakers = (c: ClipRow) => parse<number[]>(c.speakers, `the speakers of clip ${c.slug}`)

/** The left-out list after `userId` withdrew. */
export const withUser = (r: ReplayRow, userId: number) => JSON.stringify([...new Set([...leftOutOf(r), userId])])

const statements = (db: SqliteGate['db']) => ({
  byId: db.prepare<ReplayRow, [number]>('SELECT * FROM replays WHERE id = ?'),
  byRoom: db.prepare<ReplayRow, [number]>('SELECT * FROM replays WHERE room_id = ?'),
  recent: db.prepare<ReplayRow, [number]>('SELECT * FROM replays ORDER BY created_at DESC, id DESC LIMIT ?'),
  ready: db.prepare<ReplayRow, [number]>(
    `SELECT * FROM replays WHERE state = 'ready' ORDER BY ready_at DESC, id DESC LIMIT ?`,
  ),
  insertPending: db.prepare<{ id: number }, [number, string, number]>(
    `INSERT INTO replays (room_id, state, left_out, created_at) VALUES (?, 'pending', ?, ?)
     ON CONFLICT (room_id) DO NOTHING RETURNING id`,
  ),
  setMixed: db.prepare<never, [string, number, number, string, string, string, number, number]>(
    `UPDATE replays SET state = 'ready', progress = 1, path = ?, bytes = ?, duration_ms = ?, chapters = ?,
       timeline = ?, speakers = ?, error = NULL, ready_at = ? WHERE id = ?`,
  ),
  again: db.prepare<never, [string, number]>(
    `UPDATE replays SET state = 'pending', progress = 0, path = NULL, bytes = 0, left_out = ?, error = NULL,
       ready_at = NULL WHERE id = ?`,
  ),
  remove: db.prepare<never, [number]>('DELETE FROM replays WHERE id = ?'),
  olderThan: db.prepare<ReplayRow, [number]>(
    `SELECT * FROM replays WHERE COALESCE(ready_at, created_at) < ? AND state IN ('ready', 'failed') ORDER BY id`,
  ),
  withdraw: db.prepare<never, [number, number, number]>(
    'INSERT OR IGNORE INTO replay_withdrawals (replay_id, user_id, at) VALUES (?, ?, ?)',
  ),
  withdrawn: db.prepare<{ user_id: number }, [number]>(
    'SELECT user_id FROM replay_withdrawals WHERE replay_id = ? ORDER BY user_id',
  ),
  insertClip: db.prepare<ClipRow, [string, number, number, string, number, number, string, number, string, number]>(
    `INSERT INTO clips (slug, replay_id, user_id, title, start_ms, duration_ms, path, bytes, speakers, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
  ),
  clipBySlug: db.prepare<ClipRow, [string]>('SELECT * FROM clips WHERE slug = ?'),
  clipsOf: db.prepare<ClipRow, [number]>('SELECT * FROM clips WHERE replay_id = ? ORDER BY id'),
  clipsBy: db.prepare<ClipRow, [number]>('SELECT * FROM clips WHERE user_id = ? ORDER BY id'),
  removeClip: db.prepare<never, [number]>('DELETE FROM clips WHERE id = ?'),
  feedOwner: db.prepare<{ user_id: number }, [string]>('SELECT user_id FROM feed_secrets WHERE secret_hash = ?'),
  feedOf: db.prepare<{ created_at: number }, [number]>('SELECT created_at FROM feed_secrets WHERE user_id = ?'),
  setFeed: db.prepare<never, [number, string, number]>(
    `INSERT INTO feed_secrets (user_id, secret_hash, created_at) VALUES (?, ?, ?)
     ON CONFLICT(user_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at`,
  ),
  removeFeed: db.prepare<never, [number]>('DELETE FROM feed_secrets WHERE user_id = ?'),
  replayBytes: db.prepare<Usage, []>('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM replays'),
  clipBytes: db.prepare<Usage, []>('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM clips'),
  trackBytes: db.prepare<Usage, []>('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM recording_tracks'),
  openTrack: db.prepare<never, [number, number, string, number, number, number]>(
    `INSERT INTO recording_tracks (room_id, user_id, path, started_at, updated_at, bytes) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (room_id, user_id) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at`,
  ),
  trackWritten: db.prepare<never, [number, number, number, number]>(
    'UPDATE recording_tracks SET bytes = ?, updated_at = ? WHERE room_id = ? AND user_id = ?',
  ),
  tracks: db.prepare<TrackRow, [number]>('SELECT * FROM recording_tracks WHERE room_id = ? ORDER BY user_id'),
  tracksOf: db.prepare<TrackRow, [number]>('SELECT * FROM recording_tracks WHERE user_id = ? ORDER BY room_id'),
  removeTracks: db.prepare<never, [number]>('DELETE FROM recording_tracks WHERE room_id = ?'),
  removeTracksOf: db.prepare<never, [number]>('DELETE FROM recording_tracks WHERE user_id = ?'),
  requeue: db.prepare<never, []>("UPDATE replays SET state = 'pending', progress = 0 WHERE state = 'mixing'"),
  nextPending: db.prepare<ReplayRow, []>(
    "SELECT * FROM replays WHERE state = 'pending' ORDER BY created_at, id LIMIT 1",
  ),
  claim: db.prepare<never, [number]>(
    "UPDATE replays SET state = 'mixing', progress = 0, error = NULL WHERE id = ? AND state = 'pending'",
  ),
  progress: db.prepare<never, [number, number]>("UPDATE replays SET progress = ? WHERE id = ? AND state = 'mixing'"),
  finishMix: db.prepare<never, [string, number, number, string, string, string, string, number, number]>(
    `UPDATE replays SET state = 'ready', progress = 1, path = ?, bytes = ?, duration_ms = ?, chapters = ?,
       timeline = ?, speakers = ?, left_out = ?, error = NULL, ready_at = ? WHERE id = ? AND state = 'mixing'`,
  ),
  retry: db.prepare<never, [number]>(
    "UPDATE replays SET state = 'pending', progress = 0, error = NULL WHERE id = ? AND state = 'failed'",
  ),
  failMix: db.prepare<never, [string, string, number]>(
    `UPDATE replays SET state = 'failed', progress = 0, error = ?, left_out = ?, path = NULL, bytes = 0,
       duration_ms = 0 WHERE id = ? AND state = 'mixing'`,
  ),
})

const json = (m: MixedReplay) =>
  [JSON.stringify(m.chapters), JSON.stringify(m.timeline), JSON.stringify(m.speakers)] as const

export class SqliteReplaysStore implements ReplaysStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate.db)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  /** Several statements as one, in a transaction of their own. */
  private atomic<T>(fn: () => T): Promise<T> {
    return this.gate.transaction(async () => fn())
  }

  byId(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byId.get(id))
  }
  byRoom(roomId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byRoom.get(roomId))
  }
  recent(limit: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.recent.all(limit))
  }
  ready(limit: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.ready.all(limit))
  }
  insertPending(roomId: number, leftOut: number[], tx?: Tx) {
    return this.gate.run(tx, () => this.q.insertPending.get(roomId, JSON.stringify(leftOut), Date.now())?.id ?? null)
  }
  async setMixed(id: number, m: MixedReplay, readyAt = Date.now(), tx?: Tx) {
    await this.gate.run(tx, () => this.q.setMixed.run(m.path, m.bytes, m.durationMs, ...json(m), readyAt, id))
  }
  private withdrawNow(replayId: number, userId: number) {
    const replay = this.q.byId.get(replayId)
    if (!replay) return []
    this.q.withdraw.run(replay.id, userId, Date.now())
    this.q.again.run(withUser(replay, userId), replay.id)
    const gone = this.q.clipsOf.all(replay.id).filter((c) => clipSpeakers(c).includes(userId))
    for (const c of gone) this.q.removeClip.run(c.id)
    return gone
  }
  withdraw(replayId: number, userId: number) {
    return this.atomic(() => this.withdrawNow(replayId, userId))
  }
  withdrawn(replayId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.withdrawn.all(replayId).map((r) => r.user_id))
  }
  remove(replay: ReplayRow) {
    return this.atomic(() => {
      this.q.remove.run(replay.id)
      this.q.removeTracks.run(replay.room_id)
    })
  }
  eraseMember(userId: number) {
    return this.atomic(() => {
      const tracks = this.q.tracksOf.all(userId)
      const files = tracks.map((t) => t.path)
      let remix = false
      for (const t of tracks) {
        const r = this.q.byRoom.get(t.room_id)
        if (!r || this.q.withdrawn.all(r.id).some((w) => w.user_id === userId)) continue
        if (r.path) files.push(r.path)
        files.push(...this.withdrawNow(r.id, userId).flatMap((c) => (c.path ? [c.path] : [])))
        remix = true
      }
      for (const c of this.q.clipsBy.all(userId)) {
        if (c.path) files.push(c.path)
        this.q.removeClip.run(c.id)
      }
      this.q.removeTracksOf.run(userId)
      this.q.removeFeed.run(userId)
      return { files, remix }
    })
  }
  olderThan(before: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.olderThan.all(before))
  }

  insertClip(c: NewClip, tx?: Tx) {
    return this.gate.run(
      tx,
      () =>
        this.q.insertClip.get(
          c.slug,
          c.replay_id,
          c.user_id,
          c.title,
          c.start_ms,
          c.duration_ms,
          c.path ?? '',
          c.bytes,
          c.speakers,
          Date.now(),
        )!,
    )
  }
  clipBySlug(slug: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.clipBySlug.get(slug))
  }
  clipsOf(replayId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.clipsOf.all(replayId))
  }

  feedOwner(secretHash: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.feedOwner.get(secretHash)?.user_id ?? null)
  }
  feedCreatedAt(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.feedOf.get(userId)?.created_at ?? null)
  }
  async setFeed(userId: number, secretHash: string, tx?: Tx) {
    await this.gate.run(tx, () => this.q.setFeed.run(userId, secretHash, Date.now()))
  }
  async removeFeed(userId: number, tx?: Tx) {
    await this.gate.run(tx, () => this.q.removeFeed.run(userId))
  }
  disk(tx?: Tx) {
    return this.gate.run(tx, () => ({
      replays: this.q.replayBytes.get()!,
      clips: this.q.clipBytes.get()!,
      recordings: this.q.trackBytes.get()!,
    }))
  }

  async openTrack(roomId: number, userId: number, path: string, bytes: number, tx?: Tx) {
    const now = Date.now()
    await this.gate.run(tx, () => this.q.openTrack.run(roomId, userId, path, now, now, bytes))
  }
  async trackWritten(roomId: number, userId: number, bytes: number, tx?: Tx) {
    await this.gate.run(tx, () => this.q.trackWritten.run(bytes, Date.now(), roomId, userId))
  }
  tracks(roomId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.tracks.all(roomId))
  }

  async requeueMixing(tx?: Tx) {
    await this.gate.run(tx, () => this.q.requeue.run())
  }
  nextPending(tx?: Tx) {
    return this.gate.run(tx, () => this.q.nextPending.get())
  }
  claim(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.claim.run(id).changes > 0)
  }
  async setProgress(id: number, share: number, tx?: Tx) {
    await this.gate.run(tx, () => this.q.progress.run(share, id))
  }
  finishMix(id: number, m: MixedReplay, leftOut: number[], tx?: Tx) {
    return this.gate.run(
      tx,
      () =>
        this.q.finishMix.run(m.path, m.bytes, m.durationMs, ...json(m), JSON.stringify(leftOut), Date.now(), id)
          .changes > 0,
    )
  }
  failMix(id: number, error: string, leftOut: number[], tx?: Tx) {
    return this.gate.run(tx, () => this.q.failMix.run(error, JSON.stringify(leftOut), id).changes > 0)
  }
  retry(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.retry.run(id).changes > 0)
  }
}
