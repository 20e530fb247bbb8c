import type { Database } from 'bun:sqlite'
import type { UserRow } from '../accounts/model'

export interface AuditRow { id: number; actor_id: number | null; actor: string | null; action: string; target_type: string | null; target_id: string | null; details: string; created_at: number }
export interface ReportRow {
  id: number; reporter_id: number; reporter: string | null; target_type: 'member' | 'room' | 'message'; target_id: number; reason: string
  status: 'open' | 'resolved' | 'dismissed'; created_at: number; handled_by: number | null; handler: string | null; handled_at: number | null; note: string
}
export interface ResetRow { id: number; user_id: number; token_hash: Uint8Array; created_by: number | null; created_at: number; expires_at: number; used_at: number | null }
export interface MemberRow extends UserRow { inviter: string | null; last_seen: number | null }

const statements = (db: Database) => ({
  audit: db.prepare<never, [number | null, string, string | null, string | null, string, number]>(
    'INSERT INTO audit_log (actor_id, action, target_type, target_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
  auditList: db.prepare<AuditRow, [number, string, string, number]>(
    `SELECT a.*, u.username AS actor FROM audit_log a LEFT JOIN users u ON u.id = a.actor_id
     WHERE a.id < ? AND (? = '' OR a.action LIKE ? ESCAPE '\\') ORDER BY a.id DESC LIMIT ?`),
  report: db.prepare<{ id: number }, [number, string, number, string, number]>(
    'INSERT INTO reports (reporter_id, target_type, target_id, reason, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id'),
  openReportBy: db.prepare<{ id: number }, [number, string, number]>(
    `SELECT id FROM reports WHERE reporter_id = ? AND target_type = ? AND target_id = ? AND status = 'open'`),
  reports: db.prepare<ReportRow, [string, string, number]>(
    `SELECT r.*, a.username AS reporter, h.username AS handler FROM reports r
     LEFT JOIN users a ON a.id = r.reporter_id LEFT JOIN users h ON h.id = r.handled_by
     WHERE (? = 'all' OR r.status = ?) ORDER BY r.id DESC LIMIT ?`),
  reportById: db.prepare<ReportRow, [number]>(
    `SELECT r.*, a.username AS reporter, h.username AS handler FROM reports r
     LEFT JOIN users a ON a.id = r.reporter_id LEFT JOIN users h ON h.id = r.handled_by WHERE r.id = ?`),
  handleReport: db.prepare<never, [string, number, number, string, number]>(
    'UPDATE reports SET status = ?, handled_by = ?, handled_at = ?, note = ? WHERE id = ?'),
  openReports: db.prepare<{ n: number }, []>(`SELECT COUNT(*) AS n FROM reports WHERE status = 'open'`),
  members: db.prepare<MemberRow, [string, string, number, number]>(
    `SELECT u.*, i.username AS inviter, (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
     FROM users u LEFT JOIN users i ON i.id = u.invited_by
     WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.display_name LIKE ?1 ESCAPE '\\') AND (?2 = 'all' OR u.status = ?2 OR (?2 = 'admin' AND u.role = 'admin'))
     ORDER BY u.id DESC LIMIT ?3 OFFSET ?4`),
  member: db.prepare<MemberRow, [number]>(
    `SELECT u.*, i.username AS inviter, (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
     FROM users u LEFT JOIN users i ON i.id = u.invited_by WHERE u.id = ?`),
  counts: db.prepare<{ members: number; active: number; suspended: number; banned: number; admins: number; joinedToday: number }, [number]>(
    `SELECT COUNT(*) AS members, SUM(status = 'active') AS active, SUM(status = 'suspended') AS suspended, SUM(status = 'banned') AS banned,
            SUM(role = 'admin') AS admins, SUM(created_at >= ?) AS joinedToday FROM users`),
  setStatus: db.prepare<never, [string, number]>('UPDATE users SET status = ? WHERE id = ?'),
  setRole: db.prepare<never, [string, number]>('UPDATE users SET role = ? WHERE id = ?'),
  insertReset: db.prepare<{ id: number }, [number, Uint8Array, number | null, number, number]>(
    'INSERT INTO password_resets (user_id, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id'),
  resetByHash: db.prepare<ResetRow, [Uint8Array]>('SELECT * FROM password_resets WHERE token_hash = ?'),
  useReset: db.prepare<never, [number, number]>('UPDATE password_resets SET used_at = ? WHERE id = ? AND used_at IS NULL'),
  expireResets: db.prepare<never, [number, number]>('UPDATE password_resets SET used_at = ? WHERE user_id = ? AND used_at IS NULL'),
})

/** Audit log, reports, password resets and the member queries of the console: prepared once. */
export class AdminStore {
  private q: ReturnType<typeof statements>
  constructor(readonly db: Database) { this.q = statements(db) }

  audit(actorId: number | null, action: string, targetType: string | null, targetId: string | null, details: string) {
    this.q.audit.run(actorId, action, targetType, targetId, details, Date.now())
  }
  auditList(before: number, action: string, limit: number) {
    const like = action ? action.replace(/[\\%_]/g, (c) => '\\' + c) + '%' : ''
    return this.q.auditList.all(before, like, like, limit)
  }

  insertReport(reporterId: number, type: string, targetId: number, reason: string) {
    return this.q.report.get(reporterId, type, targetId, reason, Date.now())!.id
  }
  openReportBy(reporterId: number, type: string, targetId: number) { return this.q.openReportBy.get(reporterId, type, targetId) }
  reports(status: string, limit: number) { return this.q.reports.all(status, status, limit) }
  report(id: number) { return this.q.reportById.get(id) }
  handleReport(id: number, status: string, by: number, note: string) { this.q.handleReport.run(status, by, Date.now(), note, id) }
  openReports() { return this.q.openReports.get()!.n }

  members(q: string, status: string, limit: number, offset: number) {
    const like = '%' + q.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
    return this.q.members.all(like, status, limit, offset)
  }
  member(id: number) { return this.q.member.get(id) }
  counts(since: number) { return this.q.counts.get(since)! }
  setStatus(id: number, status: string) { this.q.setStatus.run(status, id) }
  setRole(id: number, role: string) { this.q.setRole.run(role, id) }

  insertReset(userId: number, hash: Uint8Array, by: number | null, expiresAt: number) {
    return this.q.insertReset.get(userId, hash, by, Date.now(), expiresAt)!.id
  }
  resetByHash(h: Uint8Array) { return this.q.resetByHash.get(h) }
  useReset(id: number) { return this.q.useReset.run(Date.now(), id).changes > 0 }
  expireResets(userId: number) { this.q.expireResets.run(Date.now(), userId) }
}
