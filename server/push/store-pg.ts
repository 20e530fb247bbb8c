// The push store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-push.test.ts). Rows come back in the SQLite shape (numbers).
import { int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { PushKind } from '../contracts'
import type { NewSubscription, PushStore, SubscriptionRow } from './store'

const toRow = (r: { [K in keyof SubscriptionRow]: unknown }): SubscriptionRow => ({
  id: int(r.id),
  user_id: int(r.user_id),
  endpoint: r.endpoint as string,
  p256dh: r.p256dh as string,
  auth: r.auth as string,
  user_agent: r.user_agent as string,
  created_at: int(r.created_at),
  last_used_at: intOrNull(r.last_used_at),
})

export class PgPushStore implements PushStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  async upsert(s: NewSubscription, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, created_at)
        VALUES (${s.userId}, ${s.endpoint}, ${s.p256dh}, ${s.auth}, ${s.userAgent}, ${Date.now()})
      ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
        user_agent = excluded.user_agent
        WHERE push_subscriptions.user_id = excluded.user_id
          OR (push_subscriptions.p256dh = excluded.p256dh AND push_subscriptions.auth = excluded.auth)
      RETURNING id`
    return row ? int(row.id) : null
  }
  async usersWithDevices(tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT DISTINCT user_id AS u FROM push_subscriptions ORDER BY 1`
    return rows.map((r: { u: unknown }) => int(r.u))
  }
  async byUser(userId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT * FROM push_subscriptions WHERE user_id = ${userId} ORDER BY id`
    return rows.map(toRow)
  }
  async byEndpoint(endpoint: string, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM push_subscriptions WHERE endpoint = ${endpoint}`
    return row ? toRow(row) : null
  }
  async remove(userId: number, endpoint: string, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      DELETE FROM push_subscriptions WHERE user_id = ${userId} AND endpoint = ${endpoint} RETURNING id`
    return rows.length > 0
  }
  async removeId(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`DELETE FROM push_subscriptions WHERE id = ${id} RETURNING id`
    return rows.length > 0
  }
  async removeUser(userId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`DELETE FROM push_subscriptions WHERE user_id = ${userId} RETURNING id`
    return rows.length
  }
  async used(id: number, tx?: Tx) {
    await this.conn.on(tx)`UPDATE push_subscriptions SET last_used_at = ${Date.now()} WHERE id = ${id}`
  }
  async count(tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT COUNT(*) AS n FROM push_subscriptions`
    return int(row.n)
  }
  async prefs(userId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT kind, enabled FROM push_prefs WHERE user_id = ${userId} ORDER BY kind`
    return rows.map((r: { kind: PushKind; enabled: unknown }) => ({ kind: r.kind, enabled: int(r.enabled) === 1 }))
  }
  async enabled(userId: number, kind: PushKind, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT enabled FROM push_prefs WHERE user_id = ${userId} AND kind = ${kind}`
    return row ? int(row.enabled) === 1 : true
  }
  async setPref(userId: number, kind: PushKind, on: boolean, tx?: Tx) {
    await this.conn.on(tx)`
      INSERT INTO push_prefs (user_id, kind, enabled) VALUES (${userId}, ${kind}, ${on ? 1 : 0})
      ON CONFLICT (user_id, kind) DO UPDATE SET enabled = excluded.enabled`
  }
  async markReminded(roomId: number, lead: 'soon' | 'start', startsAt: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      INSERT INTO push_event_reminders (room_id, lead, starts_at, sent_at)
        VALUES (${roomId}, ${lead}, ${startsAt}, ${Date.now()})
      ON CONFLICT DO NOTHING RETURNING room_id`
    return rows.length === 1
  }
}
