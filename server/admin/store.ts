// The admin store: its contract (AdminStore, asynchronous: docs/ARCHITECTURE.md, "Stores") and its SQLite
// implementation through the gate. The Postgres one is store-pg.ts; test/integration/store-admin.test.ts runs the same
// tests against both. Reports, password-reset links and the audit log (members are the accounts domain's).
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'

export type ReportStatus = 'open' | 'resolved' | 'dismissed'
export type ReportTarget = 'member' | 'room' | 'message'

export interface ReportRow {
  id: number
  reporter_id: number
  target_type: ReportTarget
  target_id: number
  reason: string
  status: ReportStatus
  created_at: number
  handled_by: number | null
  handled_at: number | null
  note: string
}
export interface ResetRow {
  id: number
  user_id: number
  token_hash: Uint8Array
  created_by: number | null
  created_at: number
  expires_at: number
  used_at: number | null
}
export interface AuditRow {
  id: number
  actor_id: number | null
  action: string
  target_type: string | null
  target_id: string | null
  /** JSON. */
  details: string
  created_at: number
}

export interface NewReport {
  reporterId: number
  targetType: ReportTarget
  targetId: number
  reason: string
}
export interface NewReset {
  userId: number
  tokenHash: Uint8Array
  createdBy: number | null
  expiresAt: number
}
export interface NewAuditEntry {
  actorId: number | null
  action: string
  targetType: string | null
  targetId: string | null
  /** JSON. */
  details: string
}

/** Every method takes the transaction it belongs to, if any. */
export interface AdminStore extends Transactor {
  /** Files a report; its id, or null when this reporter has an open report of this target already. Atomic. */
  insertReport(r: NewReport, tx?: Tx): Promise<number | null>
  /** Reports in one status (or all), newest first. */
  reports(status: ReportStatus | 'all', limit: number, tx?: Tx): Promise<ReportRow[]>
  report(id: number, tx?: Tx): Promise<ReportRow | null>
  /**
   * Sets a report's status, handler and note; the row as it was just before (null: no such report). Atomic: of two
   * admins handling it at once, the second sees the first one's status as the one before.
   */
  handleReport(id: number, status: ReportStatus, by: number, note: string, tx?: Tx): Promise<ReportRow | null>
  /** How many reports are open. */
  openReports(tx?: Tx): Promise<number>

  /** Stores a reset link (unused); its id. */
  insertReset(r: NewReset, tx?: Tx): Promise<number>
  resetByHash(tokenHash: Uint8Array, tx?: Tx): Promise<ResetRow | null>
  /** Marks a link used: true for the one call that used it, false when it was used already. Atomic. */
  useReset(id: number, tx?: Tx): Promise<boolean>
  /** Marks every unused link of a member used; how many. */
  expireResets(userId: number, tx?: Tx): Promise<number>

  /** Appends to the audit log; the entry's id. */
  insertAudit(e: NewAuditEntry, tx?: Tx): Promise<number>
  /** Entries with an id below `before`, newest first; `action` (when not empty) is a prefix, case ignored. */
  audit(before: number, action: string, limit: number, tx?: Tx): Promise<AuditRow[]>
}

/** A LIKE pattern for a prefix (`\` escapes): '' for none. */
export const likePrefix = (prefix: string) => (prefix ? prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%' : '')

const statements = (gate: SqliteGate) => {
  const db = gate.db
  return {
    report: db.prepare<{ id: number }, [number, string, number, string, number]>(
      `INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING id`,
    ),
    reports: db.prepare<ReportRow, [string, string, number]>(
      `SELECT * FROM reports WHERE (? = 'all' OR status = ?) ORDER BY id DESC LIMIT ?`,
    ),
    reportById: db.prepare<ReportRow, [number]>('SELECT * FROM reports WHERE id = ?'),
    handleReport: db.prepare<never, [string, number, number, string, number]>(
      'UPDATE reports SET status = ?, handled_by = ?, handled_at = ?, note = ? WHERE id = ?',
    ),
    openReports: db.prepare<{ n: number }, []>(`SELECT COUNT(*) AS n FROM reports WHERE status = 'open'`),
    insertReset: db.prepare<{ id: number }, [number, Uint8Array, number | null, number, number]>(
      `INSERT INTO password_resets (user_id, token_hash, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id`,
    ),
    resetByHash: db.prepare<ResetRow, [Uint8Array]>('SELECT * FROM password_resets WHERE token_hash = ?'),
    useReset: db.prepare<never, [number, number]>(
      'UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL',
    ),
    expireResets: db.prepare<never, [number, number]>(
      'UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL',
    ),
    insertAudit: db.prepare<{ id: number }, [number | null, string, string | null, string | null, string, number]>(
      `INSERT INTO audit_log (actor_id, action, target_type, target_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?)
         RETURNING id`,
    ),
    audit: db.prepare<AuditRow, [number, string, string, number]>(
      `SELECT * FROM audit_log WHERE id < ? AND (? = '' OR action LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT ?`,
    ),
  }
}

export class SqliteAdminStore implements AdminStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  insertReport(r: NewReport, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.report.get(r.reporterId, r.targetType, r.targetId, r.reason, Date.now())?.id ?? null,
    )
  }
  reports(status: ReportStatus | 'all', limit: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.reports.all(status, status, limit))
  }
  report(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.reportById.get(id) ?? null)
  }
  handleReport(id: number, status: ReportStatus, by: number, note: string, tx?: Tx) {
    // Read and written in one transaction (a savepoint inside `tx`): no other connection writes in between.
    return this.gate.run(tx, () =>
      this.gate.db.transaction(() => {
        const before = this.q.reportById.get(id)
        if (before) this.q.handleReport.run(status, by, Date.now(), note, id)
        return before ?? null
      })(),
    )
  }
  openReports(tx?: Tx) {
    return this.gate.run(tx, () => this.q.openReports.get()!.n)
  }
  insertReset(r: NewReset, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.insertReset.get(r.userId, r.tokenHash, r.createdBy, Date.now(), r.expiresAt)!.id,
    )
  }
  resetByHash(h: Uint8Array, tx?: Tx) {
    return this.gate.run(tx, () => this.q.resetByHash.get(h) ?? null)
  }
  useReset(id: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.useReset.run(Date.now(), id).changes === 1)
  }
  expireResets(userId: number, tx?: Tx) {
    return this.gate.run(tx, () => this.q.expireResets.run(Date.now(), userId).changes)
  }
  insertAudit(e: NewAuditEntry, tx?: Tx) {
    return this.gate.run(
      tx,
      () => this.q.insertAudit.get(e.actorId, e.action, e.targetType, e.targetId, e.details, Date.now())!.id,
    )
  }
  audit(before: number, action: string, limit: number, tx?: Tx) {
    const like = likePrefix(action)
    return this.gate.run(tx, () => this.q.audit.all(before, like, like, limit))
  }
}
