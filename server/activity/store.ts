// The activity table: raw SQL prepared once; no other domain touches it.
import type { Database } from 'bun:sqlite'
import type { ActivityKind } from '../protocol'

export interface ActivityRow {
  id: number
  user_id: number
  kind: ActivityKind
  actor_id: number | null
  text: string
  detail: string
  url: string
  dedupe: string
  created_at: number
  read_at: number | null
}

export interface NewActivity {
  kind: ActivityKind
  actorId: number | null
  text: string
  detail: string
  url: string
  dedupe: string
}

const statements = (db: Database) => ({
  insert: db.prepare<ActivityRow, [number, string, number | null, string, string, string, string, number]>(
    `INSERT OR IGNORE INTO activity (user_id, kind, actor_id, text, detail, url, dedupe, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
  ),
  page: db.prepare<ActivityRow, [number, number, number]>(
    'SELECT * FROM activity WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
  ),
  byId: db.prepare<ActivityRow, [number, number]>('SELECT * FROM activity WHERE id = ? AND user_id = ?'),
  unread: db.prepare<{ n: number }, [number]>(
    'SELECT COUNT(*) AS n FROM activity WHERE user_id = ? AND read_at IS NULL',
  ),
  readOne: db.prepare<never, [number, number, number]>(
    'UPDATE activity SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL',
  ),
  readUpTo: db.prepare<never, [number, number, number]>(
    'UPDATE activity SET read_at = ? WHERE user_id = ? AND id <= ? AND read_at IS NULL',
  ),
  prune: db.prepare<never, [number]>('DELETE FROM activity WHERE created_at < ?'),
})

export class ActivityStore {
  private q: ReturnType<typeof statements>
  constructor(db: Database) {
    this.q = statements(db)
  }
  /** The new row, or null when the member already has an item for this cause (`dedupe`). */
  insert(userId: number, a: NewActivity): ActivityRow | null {
    return this.q.insert.get(userId, a.kind, a.actorId, a.text, a.detail, a.url, a.dedupe, Date.now()) ?? null
  }
  page(userId: number, before: number, limit: number) {
    return this.q.page.all(userId, before, limit)
  }
  byId(userId: number, id: number) {
    return this.q.byId.get(id, userId) ?? null
  }
  unread(userId: number) {
    return this.q.unread.get(userId)?.n ?? 0
  }
  readOne(userId: number, id: number) {
    this.q.readOne.run(Date.now(), id, userId)
  }
  readUpTo(userId: number, upTo: number) {
    this.q.readUpTo.run(Date.now(), userId, upTo)
  }
  /** Forgets items older than `before` (ms). */
  prune(before: number) {
    this.q.prune.run(before)
  }
}
