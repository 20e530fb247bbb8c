import type { Database } from 'bun:sqlite'
import type { PushKind } from '../contracts'

export interface SubscriptionRow {
  id: number
  user_id: number
  endpoint: string
  p256dh: string
  auth: string
  user_agent: string
  created_at: number
  last_used_at: number | null
}

const statements = (db: Database) => ({
  upsert: db.prepare<{ id: number }, [number, string, string, string, string, number]>(
    `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT(endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
       user_agent = excluded.user_agent
     RETURNING id`,
  ),
  byUser: db.prepare<SubscriptionRow, [number]>('SELECT * FROM push_subscriptions WHERE user_id = ? ORDER BY id'),
  byEndpoint: db.prepare<SubscriptionRow, [string]>('SELECT * FROM push_subscriptions WHERE endpoint = ?'),
  deleteEndpoint: db.prepare<never, [number, string]>(
    'DELETE FROM push_subscriptions WHERE user_id = ? AND endpoint = ?',
  ),
  deleteId: db.prepare<never, [number]>('DELETE FROM push_subscriptions WHERE id = ?'),
  deleteUser: db.prepare<never, [number]>('DELETE FROM push_subscriptions WHERE user_id = ?'),
  used: db.prepare<never, [number, number]>('UPDATE push_subscriptions SET last_used_at = ? WHERE id = ?'),
  count: db.prepare<{ n: number }, []>('SELECT COUNT(*) AS n FROM push_subscriptions'),
  prefs: db.prepare<{ kind: PushKind; enabled: number }, [number]>(
    'SELECT kind, enabled FROM push_prefs WHERE user_id = ?',
  ),
  pref: db.prepare<{ enabled: number }, [number, string]>(
    'SELECT enabled FROM push_prefs WHERE user_id = ? AND kind = ?',
  ),
  setPref: db.prepare<never, [number, string, number]>(
    `INSERT INTO push_prefs (user_id, kind, enabled) VALUES (?, ?, ?)
       ON CONFLICT(user_id, kind) DO UPDATE SET enabled = excluded.enabled`,
  ),
  reminded: db.prepare<never, [number, string, number, number]>(
    'INSERT OR IGNORE INTO push_event_reminders (room_id, lead, starts_at, sent_at) VALUES (?, ?, ?, ?)',
  ),
})

/** Push subscriptions, per-member settings and sent reminders: prepared once. */
export class PushStore {
  private q: ReturnType<typeof statements>
  /**
   * Members who may have a device: everyone with one at start and everyone subscribed since (upsert is the only
   * insert); a member found with none leaves it. A notification to anyone else costs no query (a message's
   * recipients, most of whom have no device).
   */
  private withDevices: Set<number>
  constructor(readonly db: Database) {
    this.q = statements(db)
    this.withDevices = new Set(
      db
        .query<{ u: number }, []>('SELECT DISTINCT user_id AS u FROM push_subscriptions')
        .all()
        .map((r) => r.u),
    )
  }
  upsert(userId: number, endpoint: string, p256dh: string, auth: string, ua: string) {
    this.withDevices.add(userId)
    return this.q.upsert.get(userId, endpoint, p256dh, auth, ua, Date.now())!.id
  }
  /** False when the member certainly has no device; true when they may (byUser says). */
  mayHaveDevices(userId: number) {
    return this.withDevices.has(userId)
  }
  byUser(userId: number) {
    const rows = this.q.byUser.all(userId)
    if (!rows.length) this.withDevices.delete(userId)
    return rows
  }
  byEndpoint(endpoint: string) {
    return this.q.byEndpoint.get(endpoint)
  }
  remove(userId: number, endpoint: string) {
    return this.q.deleteEndpoint.run(userId, endpoint).changes > 0
  }
  removeId(id: number) {
    this.q.deleteId.run(id)
  }
  removeUser(userId: number) {
    this.q.deleteUser.run(userId)
  }
  used(id: number) {
    this.q.used.run(Date.now(), id)
  }
  count() {
    return this.q.count.get()!.n
  }
  prefs(userId: number) {
    return this.q.prefs.all(userId)
  }
  enabled(userId: number, kind: PushKind) {
    return (this.q.pref.get(userId, kind)?.enabled ?? 1) === 1
  }
  setPref(userId: number, kind: PushKind, on: boolean) {
    this.q.setPref.run(userId, kind, on ? 1 : 0)
  }
  /** Marks a room's reminder (`soon` or `start`, for this start time) as sent; true the first time only. */
  markReminded(roomId: number, lead: 'soon' | 'start', startsAt: number) {
    return this.q.reminded.run(roomId, lead, startsAt, Date.now()).changes > 0
  }
}
