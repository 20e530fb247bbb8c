// The invites store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-invites.test.ts). Rows come back in the SQLite shape (numbers, Uint8Array).
import { bytes, int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { InviteRow } from './model'
import type { InvitesStore, NewInvite } from './store'

type PgInviteRow = { [K in keyof InviteRow]: unknown }

const toRow = (r: PgInviteRow): InviteRow => ({
  id: int(r.id),
  creator_id: intOrNull(r.creator_id),
  token_hash: bytes(r.token_hash as Uint8Array),
  uses_allowed: int(r.uses_allowed),
  uses: int(r.uses),
  expires_at: intOrNull(r.expires_at),
  revoked_at: intOrNull(r.revoked_at),
  note: r.note as string,
  created_at: int(r.created_at),
})

export class PgInvitesStore implements InvitesStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  async insert(i: NewInvite, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO invites (creator_id, token_hash, uses_allowed, expires_at, note, created_at)
      VALUES (${i.creatorId}, ${i.tokenHash}, ${i.usesAllowed}, ${i.expiresAt}, ${i.note}, ${Date.now()})
      RETURNING id`
    return int(row.id)
  }
  async byHash(h: Uint8Array, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM invites WHERE token_hash = ${h}`
    return row ? toRow(row) : null
  }
  async byId(id: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM invites WHERE id = ${id}`
    return row ? toRow(row) : null
  }
  async use(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE invites SET uses = uses + 1 WHERE id = ${id} AND uses < uses_allowed RETURNING id`
    return rows.length === 1
  }
  async revoke(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE invites SET revoked_at = ${Date.now()} WHERE id = ${id} AND revoked_at IS NULL RETURNING id`
    return rows.length === 1
  }
  async list(creatorId: number | null, tx?: Tx) {
    const sql = this.conn.on(tx)
    const rows =
      creatorId === null
        ? await sql`SELECT * FROM invites ORDER BY id DESC LIMIT 1000`
        : await sql`SELECT * FROM invites WHERE creator_id = ${creatorId} ORDER BY id DESC LIMIT 1000`
    return rows.map(toRow)
  }
  async pending(now: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT id, creator_id FROM invites
        WHERE creator_id IS NOT NULL AND revoked_at IS NULL AND uses < uses_allowed
          AND (expires_at IS NULL OR expires_at > ${now})
        ORDER BY id`
    return rows.map((r: { id: unknown; creator_id: unknown }) => ({ id: int(r.id), creator_id: int(r.creator_id) }))
  }
}
