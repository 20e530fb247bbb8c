// The replays store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-replays.test.ts). Rows come back in the SQLite shape (numbers, nulls).
import type { SQL } from 'bun'
import { int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import {
  type ClipRow,
  clipSpeakers,
  type MixedReplay,
  type NewClip,
  type ReplayRow,
  type ReplaysStore,
  type ReplayState,
  type TrackRow,
  withUser,
} from './store'

type Raw = Record<string, unknown>

const replay = (r: Raw): ReplayRow => ({
  id: int(r.id),
  room_id: int(r.room_id),
  state: r.state as ReplayState,
  progress: Number(r.progress),
  path: (r.path as string | null) ?? null,
  bytes: int(r.bytes),
  duration_ms: int(r.duration_ms),
  chapters: r.chapters as string,
  timeline: r.timeline as string,
  speakers: r.speakers as string,
  left_out: r.left_out as string,
  error: (r.error as string | null) ?? null,
  created_at: int(r.created_at),
  ready_at: intOrNull(r.ready_at),
})
const clip = (r: Raw): ClipRow => ({
  id: int(r.id),
  slug: r.slug as string,
  replay_id: int(r.replay_id),
  user_id: int(r.user_id),
  title: r.title as string,
  start_ms: int(r.start_ms),
  duration_ms: int(r.duration_ms),
  path: (r.path as string | null) ?? null,
  bytes: int(r.bytes),
  speakers: r.speakers as string,
  created_at: int(r.created_at),
})
const track = (r: Raw): TrackRow => ({
  room_id: int(r.room_id),
  user_id: int(r.user_id),
  path: r.path as string,
  started_at: int(r.started_at),
  updated_at: int(r.updated_at),
  bytes: int(r.bytes),
})
const usage = (r: Raw) => ({ n: int(r.n), bytes: int(r.bytes) })
const first = <T>(rows: Raw[], as: (r: Raw) => T) => (rows[0] ? as(rows[0]) : null)

export class PgReplaysStore implements ReplaysStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }

  async byId(id: number, tx?: Tx) {
    return first(await this.conn.on(tx)`SELECT * FROM replays WHERE id = ${id}`, replay)
  }
  async byRoom(roomId: number, tx?: Tx) {
    return first(await this.conn.on(tx)`SELECT * FROM replays WHERE room_id = ${roomId}`, replay)
  }
  async recent(limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT * FROM replays ORDER BY created_at DESC, id DESC LIMIT ${limit}`
    return rows.map(replay)
  }
  async ready(limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT * FROM replays WHERE state = 'ready' ORDER BY ready_at DESC, id DESC LIMIT ${limit}`
    return rows.map(replay)
  }
  async insertPending(roomId: number, leftOut: number[], tx?: Tx) {
    const rows = await this.conn.on(tx)`
      INSERT INTO replays (room_id, state, left_out, created_at)
      VALUES (${roomId}, 'pending', ${JSON.stringify(leftOut)}, ${Date.now()})
      ON CONFLICT (room_id) DO NOTHING RETURNING id`
    return rows[0] ? int(rows[0].id) : null
  }
  async setMixed(id: number, m: MixedReplay, readyAt = Date.now(), tx?: Tx) {
    await this.conn.on(tx)`
      UPDATE replays SET state = 'ready', progress = 1, path = ${m.path}, bytes = ${m.bytes},
        duration_ms = ${m.durationMs}, chapters = ${JSON.stringify(m.chapters)},
        timeline = ${JSON.stringify(m.timeline)}, speakers = ${JSON.stringify(m.speakers)}, error = NULL,
        ready_at = ${readyAt}
      WHERE id = ${id}`
  }
  /** Inside a transaction: the row is locked first, so two withdrawals at once each see the other's. */
  private async withdrawIn(sql: SQL, replayId: number, userId: number): Promise<ClipRow[]> {
    const [locked] = await sql`SELECT * FROM replays WHERE id = ${replayId} FOR UPDATE`
    if (!locked) return []
    const r = replay(locked)
    await sql`
      INSERT INTO replay_withdrawals (replay_id, user_id, at) VALUES (${r.id}, ${userId}, ${Date.now()})
      ON CONFLICT DO NOTHING`
    await sql`
      UPDATE replays SET state = 'pending', progress = 0, path = NULL, bytes = 0, left_out = ${withUser(r, userId)},
        error = NULL, ready_at = NULL
      WHERE id = ${r.id}`
    const gone = (await sql`SELECT * FROM clips WHERE replay_id = ${r.id} ORDER BY id`)
      .map(clip)
      .filter((c: ClipRow) => clipSpeakers(c).includes(userId))
    if (gone.length) await sql`DELETE FROM clips WHERE id IN ${sql(gone.map((c: ClipRow) => c.id))}`
    return gone
  }
  withdraw(replayId: number, userId: number) {
    return this.conn.transaction((tx) => this.withdrawIn(this.conn.on(tx), replayId, userId))
  }
  async withdrawn(replayId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT user_id FROM replay_withdrawals WHERE replay_id = ${replayId} ORDER BY user_id`
    return rows.map((r: Raw) => int(r.user_id))
  }
  remove(r: ReplayRow) {
    return this.conn.transaction(async (tx) => {
      const sql = this.conn.on(tx)
      await sql`DELETE FROM replays WHERE id = ${r.id}`
      await sql`DELETE FROM recording_tracks WHERE room_id = ${r.room_id}`
    })
  }
  eraseMember(userId: number) {
    return this.conn.transaction(async (tx) => {
      const sql = this.conn.on(tx)
      const tracks = (await sql`SELECT * FROM recording_tracks WHERE user_id = ${userId} ORDER BY room_id`).map(track)
      const files = tracks.map((t: TrackRow) => t.path)
      let remix = false
      for (const t of tracks) {
        const [row] = await sql`
          SELECT r.*, EXISTS (SELECT 1 FROM replay_withdrawals w WHERE w.replay_id = r.id AND w.user_id = ${userId})
                 AS gone
            FROM replays r WHERE r.room_id = ${t.room_id}`
        if (!row || row.gone) continue
        if (row.path) files.push(row.path as string)
        const clips = await this.withdrawIn(sql, int(row.id), userId)
        files.push(...clips.flatMap((c) => (c.path ? [c.path] : [])))
        remix = true
      }
      const cut = await sql`DELETE FROM clips WHERE user_id = ${userId} RETURNING path`
      for (const c of cut) if (c.path) files.push(c.path as string)
      await sql`DELETE FROM recording_tracks WHERE user_id = ${userId}`
      await sql`DELETE FROM feed_secrets WHERE user_id = ${userId}`
      return { files, remix }
    })
  }
  async olderThan(before: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT * FROM replays WHERE COALESCE(ready_at, created_at) < ${before} AND state IN ('ready', 'failed')
      ORDER BY id`
    return rows.map(replay)
  }

  async insertClip(c: NewClip, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO clips (slug, replay_id, user_id, title, start_ms, duration_ms, path, bytes, speakers, created_at)
      VALUES (${c.slug}, ${c.replay_id}, ${c.user_id}, ${c.title}, ${c.start_ms}, ${c.duration_ms}, ${c.path ?? ''},
              ${c.bytes}, ${c.speakers}, ${Date.now()})
      RETURNING *`
    return clip(row)
  }
  async clipBySlug(slug: string, tx?: Tx) {
    return first(await this.conn.on(tx)`SELECT * FROM clips WHERE slug = ${slug}`, clip)
  }
  async clipsOf(replayId: number, tx?: Tx) {
    return (await this.conn.on(tx)`SELECT * FROM clips WHERE replay_id = ${replayId} ORDER BY id`).map(clip)
  }

  async feedOwner(secretHash: string, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT user_id FROM feed_secrets WHERE secret_hash = ${secretHash}`
    return row ? int(row.user_id) : null
  }
  async feedCreatedAt(userId: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT created_at FROM feed_secrets WHERE user_id = ${userId}`
    return row ? int(row.created_at) : null
  }
  async setFeed(userId: number, secretHash: string, tx?: Tx) {
    await this.conn.on(tx)`
      INSERT INTO feed_secrets (user_id, secret_hash, created_at) VALUES (${userId}, ${secretHash}, ${Date.now()})
      ON CONFLICT (user_id) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = excluded.created_at`
  }
  async removeFeed(userId: number, tx?: Tx) {
    await this.conn.on(tx)`DELETE FROM feed_secrets WHERE user_id = ${userId}`
  }
  async disk(tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      SELECT (SELECT COUNT(*) FROM replays) AS rn, (SELECT COALESCE(SUM(bytes), 0) FROM replays) AS rb,
             (SELECT COUNT(*) FROM clips) AS cn, (SELECT COALESCE(SUM(bytes), 0) FROM clips) AS cb,
             (SELECT COUNT(*) FROM recording_tracks) AS tn,
             (SELECT COALESCE(SUM(bytes), 0) FROM recording_tracks) AS tb`
    return {
      replays: usage({ n: row.rn, bytes: row.rb }),
      clips: usage({ n: row.cn, bytes: row.cb }),
      recordings: usage({ n: row.tn, bytes: row.tb }),
    }
  }

  async openTrack(roomId: number, userId: number, path: string, bytes: number, tx?: Tx) {
    const now = Date.now()
    await this.conn.on(tx)`
      INSERT INTO recording_tracks (room_id, user_id, path, started_at, updated_at, bytes)
      VALUES (${roomId}, ${userId}, ${path}, ${now}, ${now}, ${bytes})
      ON CONFLICT (room_id, user_id) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at`
  }
  async trackWritten(roomId: number, userId: number, bytes: number, tx?: Tx) {
    await this.conn.on(tx)`
      UPDATE recording_tracks SET bytes = ${bytes}, updated_at = ${Date.now()}
      WHERE room_id = ${roomId} AND user_id = ${userId}`
  }
  async tracks(roomId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT * FROM recording_tracks WHERE room_id = ${roomId} ORDER BY user_id`
    return rows.map(track)
  }

  async requeueMixing(tx?: Tx) {
    await this.conn.on(tx)`UPDATE replays SET state = 'pending', progress = 0 WHERE state = 'mixing'`
  }
  async nextPending(tx?: Tx) {
    return first(
      await this.conn.on(tx)`SELECT * FROM replays WHERE state = 'pending' ORDER BY created_at, id LIMIT 1`,
      replay,
    )
  }
  async claim(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE replays SET state = 'mixing', progress = 0, error = NULL WHERE id = ${id} AND state = 'pending'
      RETURNING id`
    return rows.length > 0
  }
  async setProgress(id: number, share: number, tx?: Tx) {
    await this.conn.on(tx)`UPDATE replays SET progress = ${share} WHERE id = ${id} AND state = 'mixing'`
  }
  async finishMix(id: number, m: MixedReplay, leftOut: number[], tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE replays SET state = 'ready', progress = 1, path = ${m.path}, bytes = ${m.bytes},
        duration_ms = ${m.durationMs}, chapters = ${JSON.stringify(m.chapters)},
        timeline = ${JSON.stringify(m.timeline)}, speakers = ${JSON.stringify(m.speakers)},
        left_out = ${JSON.stringify(leftOut)}, error = NULL, ready_at = ${Date.now()}
      WHERE id = ${id} AND state = 'mixing'
      RETURNING id`
    return rows.length > 0
  }
  async retry(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE replays SET state = 'pending', progress = 0, error = NULL WHERE id = ${id} AND state = 'failed'
      RETURNING id`
    return rows.length > 0
  }
  async failMix(id: number, error: string, leftOut: number[], tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE replays SET state = 'failed', progress = 0, error = ${error}, left_out = ${JSON.stringify(leftOut)},
        path = NULL, bytes = 0, duration_ms = 0
      WHERE id = ${id} AND state = 'mixing'
      RETURNING id`
    return rows.length > 0
  }
}
