import type { Database } from 'bun:sqlite'

export interface ReportRow {
  id: number
  reporter_id: number
  target_type: 'member' | 'room' | 'message'
  target_id: number
  reason: string
  status: 'open' | 'resolved' | 'dismissed'
  created_at: number
  handled_by: number | null
  handled_at: number | null
  note: string
}
interface ResetRow {
  id: number
  user_id: number
  token_hash: Uint8Array
  created_by: number | null
  created_at: number
  expires_at: number
  used_at: number | null
}

const statements = (db: Database) => ({
  report: db.prepare<{ id: number }, [number, string, number, string, number]>(
    'INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
  ),
  openReportBy: db.prepare<{ id: number }, [number, string, number]>(
    `SELECT id FROM reports WHERE reporter_id = ? AND target_type = ? AND target_id = ? AND status = 'open'`,
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
})

/** Reports and password resets: prepared once. (The audit log is audit.ts; members are the accounts domain's.) */
export class AdminStore {
  private q: ReturnType<typeof statements>
  constructor(readonly db: Database) {
    this.q = statements(db)
  }

  insertReport(reporterId: number, type: string, targetId: number, reason: string) {
    return this.q.report.get(reporterId, type, targetId, reason, Date.now())!.id
  }
  openReportBy(reporterId: number, type: string, targetId: number) {
    return this.q.openReportBy.get(reporterId, type, targetId)
  }
  reports(status: string, limit: number) {
    return this.q.reports.all(status, status, limit)
  }
  report(id: number) {
    return this.q.reportById.get(id)
  }
  handleReport(id: number, status: string, by: number, note: string) {
    this.q.handleReport.run(status, by, Date.now(), note, id)
  }
  openReports() {
    return this.q.openReports.get()!.n
  }

  insertReset(userId: number, hash: Uint8Array, by: number | null, expiresAt: number) {
    return this.q.insertReset.get(userId, hash, by, Date.now(), expiresAt)!.id
  }
  resetByHash(h: Uint8Array) {
    return this.q.resetByHash.get(h)
  }
  useReset(id: number) {
    return this.q.useReset.run(Date.now(), id).changes > 0
  }
  expireResets(userId: number) {
    this.q.expireResets.run(Date.now(), userId)
  }
}
