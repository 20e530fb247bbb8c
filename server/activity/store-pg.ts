// The activity store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-activity.test.ts). Rows come back in the SQLite shape (numbers).
import { int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { ActivityKind } from '../protocol'
import type { ActivityRow, ActivityStore, NewActivity } from './store'

const toRow = (r: { [K in keyof ActivityRow]: unknown }): ActivityRow => ({
  id: int(r.id),
  user_id: int(r.user_id),
  kind: r.kind as ActivityKind,
  actor_id: intOrNull(r.actor_id),
  text: r.text as string,
  detail: r.detail as string,
  url: r.url as string,
  dedupe: r.dedupe as string,
  created_at: int(r.created_at),
  read_at: intOrNull(r.read_at),
})

export class PgActivityStore implements ActivityStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  async insert(userId: number, a: NewActivity, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO activity (user_id, kind, actor_id, text, detail, url, dedupe, created_at)
        VALUES (${userId}, ${a.kind}, ${a.actorId}, ${a.text}, ${a.detail}, ${a.url}, ${a.dedupe}, ${Date.now()})
      ON CONFLICT DO NOTHING RETURNING *`
    return row ? toRow(row) : null
  }
  async page(userId: number, before: number, limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT * FROM activity WHERE user_id = ${userId} AND id < ${before} ORDER BY id DESC LIMIT ${limit}`
    return rows.map(toRow)
  }
  async byId(userId: number, id: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM activity WHERE id = ${id} AND user_id = ${userId}`
    return row ? toRow(row) : null
  }
  async unread(userId: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      SELECT COUNT(*) AS n FROM activity WHERE user_id = ${userId} AND read_at IS NULL`
    return int(row.n)
  }
  async readOne(userId: number, id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE activity SET read_at = ${Date.now()} WHERE id = ${id} AND user_id = ${userId} AND read_at IS NULL
      RETURNING id`
    return rows.length === 1
  }
  async readUpTo(userId: number, upTo: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE activity SET read_at = ${Date.now()} WHERE user_id = ${userId} AND id <= ${upTo} AND read_at IS NULL
      RETURNING id`
    return rows.length
  }
  async prune(before: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`DELETE FROM activity WHERE created_at < ${before} RETURNING id`
    return rows.length
  }
}
