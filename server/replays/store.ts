// Replays, clips and feed secrets in SQLite (the replay side of 0009_replays.sql): statements prepared once, rows
// typed. Rooms and members are read through their domains' contracts, never their tables.
import type { Database } from 'bun:sqlite'

type ReplayState = 'pending' | 'mixing' | 'ready' | 'failed'

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

const statements = (db: Database) => ({
  byId: db.prepare<ReplayRow, [number]>('SELECT * FROM replays WHERE id = ?'),
  byRoom: db.prepare<ReplayRow, [number]>('SELECT * FROM replays WHERE room_id = ?'),
  recent: db.prepare<ReplayRow, [number]>('SELECT * FROM replays ORDER BY created_at DESC, id DESC LIMIT ?'),
  ready: db.prepare<ReplayRow, [number]>(
    `SELECT * FROM replays WHERE state = 'ready' ORDER BY ready_at DESC, id DESC LIMIT ?`,
  ),
  insert: db.prepare<{ id: number }, [number, string, number]>(
    `INSERT INTO replays (room_id, state, left_out, created_at) VALUES (?, 'pending', ?, ?) RETURNING id`,
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
    `SELECT * FROM replays WHERE COALESCE(ready_at, created_at) < ? AND state IN ('ready', 'failed')`,
  ),
  withdraw: db.prepare<never, [number, number, number]>(
    'INSERT OR IGNORE INTO replay_withdrawals (replay_id, user_id, at) VALUES (?, ?, ?)',
  ),
  withdrawn: db.prepare<{ user_id: number }, [number]>('SELECT user_id FROM replay_withdrawals WHERE replay_id = ?'),
  // clips
  insertClip: db.prepare<ClipRow, [string, number, number, string, number, number, string, number, string, number]>(
    `INSERT INTO clips (slug, replay_id, user_id, title, start_ms, duration_ms, path, bytes, speakers, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
  ),
  clipBySlug: db.prepare<ClipRow, [string]>('SELECT * FROM clips WHERE slug = ?'),
  clipsOf: db.prepare<ClipRow, [number]>('SELECT * FROM clips WHERE replay_id = ? ORDER BY id'),
  removeClip: db.prepare<never, [number]>('DELETE FROM clips WHERE id = ?'),
  // feeds
  feedOwner: db.prepare<{ user_id: number }, [string]>('SELECT user_id FROM feed_secrets WHERE secret_hash = ?'),
  feedOf: db.prepare<{ created_at: number }, [number]>('SELECT created_at FROM feed_secrets WHERE user_id = ?'),
  setFeed: db.prepare<never, [number, string, number]>(
    `INSERT INTO feed_secrets (user_id, secret_hash, created_at) VALUES (?, ?, ?)
     ON CONFLICT(user_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at`,
  ),
  removeFeed: db.prepare<never, [number]>('DELETE FROM feed_secrets WHERE user_id = ?'),
  // disk
  replayBytes: db.prepare<{ n: number; bytes: number }, []>(
    'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM replays',
  ),
  clipBytes: db.prepare<{ n: number; bytes: number }, []>(
    'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM clips',
  ),
  trackBytes: db.prepare<{ n: number; bytes: number }, []>(
    'SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM recording_tracks',
  ),
  removeTracks: db.prepare<never, [number]>('DELETE FROM recording_tracks WHERE room_id = ?'),
  // a deleted account
  tracksOf: db.prepare<{ room_id: number; path: string }, [number]>(
    'SELECT room_id, path FROM recording_tracks WHERE user_id = ?',
  ),
  removeTracksOf: db.prepare<never, [number]>('DELETE FROM recording_tracks WHERE user_id = ?'),
  clipsBy: db.prepare<ClipRow, [number]>('SELECT * FROM clips WHERE user_id = ?'),
})

const parse = <T>(json: string, what: string): T => {
  try {
    return JSON.parse(json) as T
  } catch (e) {
    throw new Error(`store: unable to read ${what}: ${(e as Error).message}`)
  }
}

export class ReplayStore {
  private q

  constructor(private db: Database) {
    this.q = statements(db)
  }

  byId(id: number) {
    return this.q.byId.get(id)
  }
  byRoom(roomId: number) {
    return this.q.byRoom.get(roomId)
  }
  /** The most recent replays, any state (the list filters by who may see them). */
  recent(limit: number) {
    return this.q.recent.all(limit)
  }
  ready(limit: number) {
    return this.q.ready.all(limit)
  }

  /** A replay waiting for its mix (the capture side makes these when a recorded room ends; tests too). */
  insertPending(roomId: number, leftOut: number[] = []) {
    return this.q.insert.get(roomId, JSON.stringify(leftOut), Date.now())!.id
  }
  /** The mix is done (the mixer's job; tests set a replay's file through this before the real mix exists). */
  setMixed(id: number, m: MixedReplay, readyAt = Date.now()) {
    const { chapters, timeline, speakers } = m
    const json = [JSON.stringify(chapters), JSON.stringify(timeline), JSON.stringify(speakers)] as const
    this.q.setMixed.run(m.path, m.bytes, m.durationMs, ...json, readyAt, id)
  }

  chapters = (r: ReplayRow) => parse<StoredChapter[]>(r.chapters, `the chapters of replay ${r.id}`)
  timeline = (r: ReplayRow) => parse<TimelinePiece[]>(r.timeline, `the timeline of replay ${r.id}`)
  speakers = (r: ReplayRow) => parse<number[]>(r.speakers, `the speakers of replay ${r.id}`)
  leftOut = (r: ReplayRow) => parse<number[]>(r.left_out, `the left-out speakers of replay ${r.id}`)

  /**
   * A speaker withdraws: their row in replay_withdrawals, the replay back to 'pending' with them left out (the mix
   * job mixes it again without them), and the clips they are heard in removed. Returns the clips removed.
   */
  withdraw(replay: ReplayRow, userId: number): ClipRow[] {
    return this.db.transaction(() => {
      this.q.withdraw.run(replay.id, userId, Date.now())
      const leftOut = [...new Set([...this.leftOut(replay), userId])]
      this.q.again.run(JSON.stringify(leftOut), replay.id)
      const gone = this.q.clipsOf.all(replay.id).filter((c) => parse<number[]>(c.speakers, 'clip').includes(userId))
      for (const c of gone) this.q.removeClip.run(c.id)
      return gone
    })()
  }
  withdrawn(replayId: number) {
    return this.q.withdrawn.all(replayId).map((r) => r.user_id)
  }

  /** Removes a replay's rows (its clips and withdrawals cascade) and its room's capture tracks. */
  remove(replay: ReplayRow) {
    this.db.transaction(() => {
      this.q.remove.run(replay.id)
      this.q.removeTracks.run(replay.room_id)
    })()
  }
  /**
   * A deleted account: their capture tracks (rows; the caller removes the files) and the clips they cut go, and they
   * are withdrawn from every replay of a room they were recorded in. Returns the files to remove and whether a
   * replay must be mixed again.
   */
  eraseMember(userId: number): { files: string[]; remix: boolean } {
    return this.db.transaction(() => {
      const tracks = this.q.tracksOf.all(userId)
      const files = tracks.map((t) => t.path)
      let remix = false
      for (const t of tracks) {
        const r = this.q.byRoom.get(t.room_id)
        if (!r || this.withdrawn(r.id).includes(userId)) continue
        if (r.path) files.push(r.path)
        files.push(...this.withdraw(r, userId).flatMap((c) => (c.path ? [c.path] : [])))
        remix = true
      }
      for (const c of this.q.clipsBy.all(userId)) {
        if (c.path) files.push(c.path)
        this.q.removeClip.run(c.id)
      }
      this.q.removeTracksOf.run(userId)
      this.q.removeFeed.run(userId)
      return { files, remix }
    })()
  }

  /** Replays done (ready or failed) before `before` (epoch ms): the retention sweep's. */
  olderThan(before: number) {
    return this.q.olderThan.all(before)
  }

  // ── clips ──
  insertClip(c: Omit<ClipRow, 'id' | 'created_at'>) {
    return this.q.insertClip.get(
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
    )!
  }
  clipBySlug(slug: string) {
    return this.q.clipBySlug.get(slug)
  }
  clipsOf(replayId: number) {
    return this.q.clipsOf.all(replayId)
  }

  // ── feeds ──
  feedOwner(secretHash: string) {
    return this.q.feedOwner.get(secretHash)?.user_id ?? null
  }
  feedCreatedAt(userId: number) {
    return this.q.feedOf.get(userId)?.created_at ?? null
  }
  setFeed(userId: number, secretHash: string) {
    this.q.setFeed.run(userId, secretHash, Date.now())
  }
  removeFeed(userId: number) {
    this.q.removeFeed.run(userId)
  }

  /** What replays, clips and capture files take, as the database counts them. */
  disk() {
    return { replays: this.q.replayBytes.get()!, clips: this.q.clipBytes.get()!, recordings: this.q.trackBytes.get()! }
  }
}
