// The push store: its contract (PushStore, asynchronous: docs/ARCHITECTURE.md, "Stores") and its SQLite
// implementation through the gate. The Postgres one is store-pg.ts; test/integration/store-push.test.ts runs the same
// tests against both. Devices (subscriptions), each member's choice per kind, and the reminders sent.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
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

export interface NewSubscription {
  userId: number
  endpoint: string
  p256dh: string
  auth: string
  userAgent: string
}

/** Every method takes the transaction it belongs to, if any. */
export interface PushStore extends Transactor {
  /**
   * Stores a device; its id. An endpoint already stored is updated (and becomes this member's) only when it is this
   * member's or has the same keys (the same browser): null otherwise, and nothing changes. Atomic.
   */
  upsert(s: NewSubscription, tx?: Tx): Promise<number | null>
  /** Members with at least one device. */
  usersWithDevices(tx?: Tx): Promise<number[]>
  /** A member's devices, oldest first. */
  byUser(userId: number, tx?: Tx): Promise<SubscriptionRow[]>
  byEndpoint(endpoint: string, tx?: Tx): Promise<SubscriptionRow | null>
  /** Removes a member's device by its endpoint: false when they had none there. */
  remove(userId: number, endpoint: string, tx?: Tx): Promise<boolean>
  /** Removes a device: false when it was gone already. */
  removeId(id: number, tx?: Tx): Promise<boolean>
  /** Removes every device of a member; how many. */
  removeUser(userId: number, tx?: Tx): Promise<number>
  /** Notes a device's last successful send. */
  used(id: number, tx?: Tx): Promise<void>
  /** Devices of every member. */
  count(tx?: Tx): Promise<number>
  /** The kinds a member chose (missing: on). */
  prefs(userId: number, tx?: Tx): Promise<{ kind: PushKind; enabled: boolean }[]>
  /** Whether a member gets this kind (on unless they turned it off). */
  enabled(userId: number, kind: PushKind, tx?: Tx): Promise<boolean>
  setPref(userId: number, kind: PushKind, on: boolean, tx?: Tx): Promise<void>
  /**
   * Marks a room's reminder (`soon` or `start`, for this start time) as sent: true for the one call that marked it,
   * whichever node it runs on. Atomic.
   */
  markReminded(roomId: number, lead: 'soon' | 'start', startsAt: number, tx?: Tx): Promise<boolean>
}

const statements = (gate: SqliteGate) => {
  const db = gate.db
  return {
    upsert: db.prepare<{ id: number }, [number, string, string, string, string, number]>(
      `INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent, created_at)
         VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
         user_agent = excluded.user_agent
         WHERE push_subscriptions.user_id = excluded.user_id
           OR (push_subscriptions.p256dh = excluded.p256dh AND push_subscriptions.auth = excluded.auth)
       RETURNING id`,
    ),
    users: db.prepare<{ u: number }, []>('SELECT DISTINCT user_id AS u FROM push_subscriptions ORDER BY 1'),
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
      'SELECT kind, enabled FROM push_prefs WHERE user_id = ? ORDER BY kind',
    ),
    pref: db.prepare<{ enabled: number }, [number, string]>(
      'SELECT enabled FROM push_prefs WHERE user_id = ? AND kind = ?',
    ),
    setPref: db.prepare<never, [number, string, number]>(
      `INSERT INTO push_prefs (user_id, kind, enabled) VALUES (?, ?, ?)
         ON CONFLICT(user_id, kind) DO UPDATE SET enabled = excluded.enabled`,
    ),
    reminded: db.prepare<never, [number, string, number, number]>(
      `INSERT INTO push_event_reminders (room_id, lead, starts_at, sent_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
    ),
  }
}

export class SqlitePushStore implements PushStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  upsert(s: NewSubscription, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.upsert.get(s.userId, s.endpoint, s.p256dh, s.auth, s.userAgent, Date.now())?.id ?? null,
    )
  }
  usersWithDevices(tx?: Tx) {
    return this.gate.run(tx, () => this.q.users.all().map((r) => r.u))
  }
  byUser(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byUser.all(userId))
  }
  byEndpoint(endpoint: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byEndpoint.get(endpoint) ?? null)
  }
  remove(userId: number, endpoint: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.deleteEndpoint.run(userId, endpoint).changes > 0)
  }
  removeId(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.deleteId.run(id).changes > 0)
  }
  removeUser(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.deleteUser.run(userId).changes)
  }
  used(id: number, tx?: Tx) {
    return this.gate.run(tx, () => {
      this.q.used.run(Date.now(), id)
    })
  }
  count(tx?: Tx) {
    return this.gate.run(tx, () => this.q.count.get()!.n)
  }
  prefs(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.prefs.all(userId).map((p) => ({ kind: p.kind, enabled: p.enabled === 1 })))
  }
  enabled(userId: number, kind: PushKind, tx?: Tx) {
    return this.gate.run(tx, () => (this.q.pref.get(userId, kind)?.enabled ?? 1) === 1)
  }
  setPref(userId: number, kind: PushKind, on: boolean, tx?: Tx) {
    return this.gate.run(tx, () => {
      this.q.setPref.run(userId, kind, on ? 1 : 0)
    })
  }
  markReminded(roomId: number, lead: 'soon' | 'start', startsAt: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.reminded.run(roomId, lead, startsAt, Date.now()).changes > 0)
  }
}
