import type { Database } from 'bun:sqlite'
import type { InviteRow } from './model'

const statements = (db: Database) => ({
  insert: db.prepare<{ id: number }, [number | null, Uint8Array, number, number | null, string, number]>(
    `INSERT INTO invites (creator_id, token_hash, uses_allowed, expires_at, note, created_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  byHash: db.prepare<InviteRow, [Uint8Array]>('SELECT * FROM invites WHERE token_hash = ?'),
  byId: db.prepare<InviteRow, [number]>('SELECT * FROM invites WHERE id = ?'),
  use: db.prepare<never, [number]>('UPDATE invites SET uses = uses + 1 WHERE id = ?'),
  revoke: db.prepare<never, [number, number]>('UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
  list: db.prepare<InviteRow, [number | null, number | null]>(
    'SELECT * FROM invites WHERE (? IS NULL OR creator_id = ?) ORDER BY id DESC LIMIT 1000',
  ),
  pending: db.prepare<{ id: number; creator_id: number }, [number]>(
    `SELECT id, creator_id FROM invites
       WHERE creator_id IS NOT NULL AND revoked_at IS NULL AND uses < uses_allowed
         AND (expires_at IS NULL OR expires_at > ?)`,
  ),
})

export class InvitesStore {
  private q: ReturnType<typeof statements>
  constructor(readonly db: Database) {
    this.q = statements(db)
  }
  insert(creatorId: number | null, hash: Uint8Array, uses: number, expiresAt: number | null, note: string) {
    return this.q.insert.get(creatorId, hash, uses, expiresAt, note, Date.now())!.id
  }
  byHash(h: Uint8Array) {
    return this.q.byHash.get(h)
  }
  byId(id: number) {
    return this.q.byId.get(id)
  }
  use(id: number) {
    this.q.use.run(id)
  }
  revoke(id: number) {
    this.q.revoke.run(Date.now(), id)
  }
  list(creatorId: number | null) {
    return this.q.list.all(creatorId, creatorId)
  }
  /** Members' invites that can still be used (not revoked, used up or expired). */
  pending() {
    return this.q.pending.all(Date.now())
  }
}
