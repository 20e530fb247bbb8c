// The invites store: its contract (InvitesStore, asynchronous, the pattern every store follows: docs/ARCHITECTURE.md,
// "Stores") and its SQLite implementation (synchronous bun:sqlite underneath, through the gate). The Postgres one is
// store-pg.ts; test/integration/store-invites.test.ts runs the same tests against both.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
import type { InviteRow } from './model'

export interface NewInvite {
  creatorId: number | null
  tokenHash: Uint8Array
  usesAllowed: number
  expiresAt: number | null
  note: string
}

/** Every method takes the transaction it belongs to, if any (`tx` from `transaction`). */
export interface InvitesStore extends Transactor {
  /** Stores a new invite (no use spent, not revoked); its id. */
  insert(invite: NewInvite, tx?: Tx): Promise<number>
  byHash(tokenHash: Uint8Array, tx?: Tx): Promise<InviteRow | null>
  byId(id: number, tx?: Tx): Promise<InviteRow | null>
  /** Spends one use if one is left (whatever else its state): false when it was used up. Atomic. */
  use(id: number, tx?: Tx): Promise<boolean>
  /** Marks it revoked now: false when it was already revoked (or does not exist). Atomic. */
  revoke(id: number, tx?: Tx): Promise<boolean>
  /** One creator's invites (null: everyone's), newest first, at most 1,000. */
  list(creatorId: number | null, tx?: Tx): Promise<InviteRow[]>
  /** Members' invites that can still be used at `now` (not revoked, used up or expired; CLI invites left out). */
  pending(now: number, tx?: Tx): Promise<{ id: number; creator_id: number }[]>
}

const statements = (gate: SqliteGate) => {
  const db = gate.db
  return {
    insert: db.prepare<{ id: number }, [number | null, Uint8Array, number, number | null, string, number]>(
      `INSERT INTO invites (creator_id, token_hash, uses_allowed, expires_at, note, created_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    byHash: db.prepare<InviteRow, [Uint8Array]>('SELECT * FROM invites WHERE token_hash = ?'),
    byId: db.prepare<InviteRow, [number]>('SELECT * FROM invites WHERE id = ?'),
    use: db.prepare<never, [number]>('UPDATE invites SET uses = uses + 1 WHERE id = ? AND uses < uses_allowed'),
    revoke: db.prepare<never, [number, number]>(
      'UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    ),
    list: db.prepare<InviteRow, [number | null, number | null]>(
      'SELECT * FROM invites WHERE (? IS NULL OR creator_id = ?) ORDER BY id DESC LIMIT 1000',
    ),
    pending: db.prepare<{ id: number; creator_id: number }, [number]>(
      `SELECT id, creator_id FROM invites
         WHERE creator_id IS NOT NULL AND revoked_at IS NULL AND uses < uses_allowed
           AND (expires_at IS NULL OR expires_at > ?)
         ORDER BY id`,
    ),
  }
}

export class SqliteInvitesStore implements InvitesStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  insert(i: NewInvite, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.insert.get(i.creatorId, i.tokenHash, i.usesAllowed, i.expiresAt, i.note, Date.now())!.id,
    )
  }
  byHash(h: Uint8Array, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byHash.get(h))
  }
  byId(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.byId.get(id))
  }
  use(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.use.run(id).changes === 1)
  }
  revoke(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.revoke.run(Date.now(), id).changes === 1)
  }
  list(creatorId: number | null, tx?: Tx) {
    return this.gate.run(tx, () => this.q.list.all(creatorId, creatorId))
  }
  pending(now: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.pending.all(now))
  }
}
