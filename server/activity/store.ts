// The activity store: its contract (ActivityStore, asynchronous: docs/ARCHITECTURE.md, "Stores") and its SQLite
// implementation through the gate. The Postgres one is store-pg.ts; test/integration/store-activity.test.ts runs the
// same tests against both. No other domain touches the table.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
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

/** Every method takes the transaction it belongs to, if any. */
export interface ActivityStore extends Transactor {
  /** The new row, or null when the member already has an item for this cause (`dedupe`). Atomic. */
  insert(userId: number, a: NewActivity, tx?: Tx): Promise<ActivityRow | null>
  /** A member's items with an id below `before`, newest first. */
  page(userId: number, before: number, limit: number, tx?: Tx): Promise<ActivityRow[]>
  /** One of the member's items (null: none, or someone else's). */
  byId(userId: number, id: number, tx?: Tx): Promise<ActivityRow | null>
  /** How many of the member's items are unread. */
  unread(userId: number, tx?: Tx): Promise<number>
  /** Marks one item read: false when it was read already (or is not theirs). */
  readOne(userId: number, id: number, tx?: Tx): Promise<boolean>
  /** Marks every unread item up to an id read; how many. */
  readUpTo(userId: number, upTo: number, tx?: Tx): Promise<number>
  /** Forgets items older than `before` (ms); how many. */
  prune(before: number, tx?: Tx): Promise<number>
}

const statements = (gate: SqliteGate) => {
  const db = gate.db
  return {
    insert: db.prepare<ActivityRow, [number, string, number | null, string, string, string, string, number]>(
      `INSERT INTO activity (user_id, kind, actor_id, text, detail, url, dedupe, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *`,
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
  }
}

export class SqliteActivityStore implements ActivityStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  insert(userId: number, a: NewActivity, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.insert.get(userId, a.kind, a.actorId, a.text, a.detail, a.url, a.dedupe, Date.now()) ?? null,
    )
  }
  page(userId: number, before: number, limit: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.page.all(userId, before, limit))
  }
  byId(userId: number, id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byId.get(id, userId) ?? null)
  }
  unread(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.unread.get(userId)?.n ?? 0)
  }
  readOne(userId: number, id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.readOne.run(Date.now(), id, userId).changes === 1)
  }
  readUpTo(userId: number, upTo: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.readUpTo.run(Date.now(), userId, upTo).changes)
  }
  prune(before: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.prune.run(before).changes)
  }
}
