// The audit log: every admin and moderator action is recorded. It depends on the core only, so it is built before the
// domains that record (accounts' first-run setup, invites, rooms, backchannel) and handed to them as an AuditFn.
import type { AuditEntry, AuditFn } from '../contracts'
import type { Core } from '../core'
import type { Database } from 'bun:sqlite'

interface AuditRow {
  id: number
  actor_id: number | null
  action: string
  target_type: string | null
  target_id: string | null
  details: string
  created_at: number
}

const statements = (db: Database) => ({
  insert: db.prepare<never, [number | null, string, string | null, string | null, string, number]>(
    'INSERT INTO audit_log (actor_id, action, target_type, target_id, details, created_at) VALUES (?, ?, ?, ?, ?, ?)',
  ),
  list: db.prepare<AuditRow, [number, string, string, number]>(
    `SELECT * FROM audit_log WHERE id < ? AND (? = '' OR action LIKE ? ESCAPE '\\') ORDER BY id DESC LIMIT ?`,
  ),
})

export class AuditLog {
  private q: ReturnType<typeof statements>
  constructor(private core: Core) {
    this.q = statements(core.db)
  }

  /** Records an admin or moderator action. Never throws into the caller. */
  readonly record: AuditFn = (e: AuditEntry) => {
    try {
      this.q.insert.run(
        e.actorId,
        e.action.slice(0, 64),
        e.targetType ?? null,
        e.targetId === undefined ? null : String(e.targetId),
        JSON.stringify(e.details ?? {}),
        Date.now(),
      )
    } catch (err) {
      this.core.log.error('audit: write failed', { action: e.action, error: err })
    }
  }

  /** Entries before an id, newest first; `action` filters by prefix. */
  list(before: number, action: string, limit: number) {
    const like = action ? action.replace(/[\\%_]/g, (c) => '\\' + c) + '%' : ''
    return this.q.list.all(before, like, like, limit)
  }
}
