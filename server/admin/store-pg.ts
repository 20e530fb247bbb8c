// The admin store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-admin.test.ts). Rows come back in the SQLite shape (numbers, Uint8Array).
import { bytes, int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import {
  likePrefix,
  type AdminStore,
  type AuditRow,
  type NewAuditEntry,
  type NewReport,
  type NewReset,
  type ReportRow,
  type ReportStatus,
  type ResetRow,
} from './store'

type Raw<T> = { [K in keyof T]: unknown }

const toReport = (r: Raw<ReportRow>): ReportRow => ({
  id: int(r.id),
  reporter_id: int(r.reporter_id),
  target_type: r.target_type as ReportRow['target_type'],
  target_id: int(r.target_id),
  reason: r.reason as string,
  status: r.status as ReportStatus,
  created_at: int(r.created_at),
  handled_by: intOrNull(r.handled_by),
  handled_at: intOrNull(r.handled_at),
  note: r.note as string,
})
const toReset = (r: Raw<ResetRow>): ResetRow => ({
  id: int(r.id),
  user_id: int(r.user_id),
  token_hash: bytes(r.token_hash as Uint8Array),
  created_by: intOrNull(r.created_by),
  created_at: int(r.created_at),
  expires_at: int(r.expires_at),
  used_at: intOrNull(r.used_at),
})
const toAudit = (r: Raw<AuditRow>): AuditRow => ({
  id: int(r.id),
  actor_id: intOrNull(r.actor_id),
  action: r.action as string,
  target_type: (r.target_type as string | null) ?? null,
  target_id: (r.target_id as string | null) ?? null,
  details: r.details as string,
  created_at: int(r.created_at),
})

export class PgAdminStore implements AdminStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  async insertReport(r: NewReport, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at)
        VALUES (${r.reporterId}, ${r.targetType}, ${r.targetId}, ${r.reason}, ${Date.now()})
      ON CONFLICT DO NOTHING RETURNING id`
    return row ? int(row.id) : null
  }
  async reports(status: ReportStatus | 'all', limit: number, tx?: Tx) {
    const sql = this.conn.on(tx)
    const rows =
      status === 'all'
        ? await sql`SELECT * FROM reports ORDER BY id DESC LIMIT ${limit}`
        : await sql`SELECT * FROM reports WHERE status = ${status} ORDER BY id DESC LIMIT ${limit}`
    return rows.map(toReport)
  }
  async report(id: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM reports WHERE id = ${id}`
    return row ? toReport(row) : null
  }
  async handleReport(id: number, status: ReportStatus, by: number, note: string, tx?: Tx) {
    // The row locked and read as it was before the update (a second admin waits, then reads the first one's).
    const [row] = await this.conn.on(tx)`
      WITH before AS (SELECT * FROM reports WHERE id = ${id} FOR UPDATE)
      UPDATE reports r SET status = ${status}, handled_by = ${by}, handled_at = ${Date.now()}, note = ${note}
        FROM before WHERE r.id = before.id
      RETURNING before.*`
    return row ? toReport(row) : null
  }
  async openReports(tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT COUNT(*) AS n FROM reports WHERE status = 'open'`
    return int(row.n)
  }
  async insertReset(r: NewReset, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO password_resets (user_id, token_hash, created_by, created_at, expires_at)
        VALUES (${r.userId}, ${r.tokenHash}, ${r.createdBy}, ${Date.now()}, ${r.expiresAt})
      RETURNING id`
    return int(row.id)
  }
  async resetByHash(h: Uint8Array, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM password_resets WHERE token_hash = ${h}`
    return row ? toReset(row) : null
  }
  async useReset(id: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE password_resets SET used_at = ${Date.now()} WHERE id = ${id} AND used_at IS NULL RETURNING id`
    return rows.length === 1
  }
  async expireResets(userId: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      UPDATE password_resets SET used_at = ${Date.now()} WHERE user_id = ${userId} AND used_at IS NULL RETURNING id`
    return rows.length
  }
  async insertAudit(e: NewAuditEntry, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      INSERT INTO audit_log (actor_id, action, target_type, target_id, details, created_at)
        VALUES (${e.actorId}, ${e.action}, ${e.targetType}, ${e.targetId}, ${e.details}, ${Date.now()})
      RETURNING id`
    return int(row.id)
  }
  async audit(before: number, action: string, limit: number, tx?: Tx) {
    const sql = this.conn.on(tx)
    // ILIKE: SQLite's LIKE ignores the case of ASCII letters.
    const rows = action
      ? await sql`SELECT * FROM audit_log WHERE id < ${before} AND action ILIKE ${likePrefix(action)} ESCAPE '\\'
                   ORDER BY id DESC LIMIT ${limit}`
      : await sql`SELECT * FROM audit_log WHERE id < ${before} ORDER BY id DESC LIMIT ${limit}`
    return rows.map(toAudit)
  }
}
