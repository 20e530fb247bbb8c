// The audit log: every admin and moderator action is recorded. It depends on the core only, so it is built before the
// domains that record (accounts' first-run setup, invites, rooms, backchannel) and handed to them as an AuditFn. Its
// rows are the admin store's (store.ts), which createAudit builds and the admin console shares.
import type { AuditEntry, AuditFn } from '../contracts'
import type { Core } from '../core'
import type { AdminStore } from './store'

export class AuditLog {
  constructor(
    private core: Core,
    readonly store: AdminStore,
  ) {}

  /**
   * Records an admin or moderator action. Never throws into the caller, and does not wait for the write (a failed one
   * is logged): callers stay synchronous. Not inside a store transaction (the entry would not be part of it).
   */
  readonly record: AuditFn = (e: AuditEntry) => {
    const failed = (err: unknown) => this.core.log.error('audit: write failed', { action: e.action, error: err })
    try {
      this.store
        .insertAudit({
          actorId: e.actorId,
          action: e.action.slice(0, 64),
          targetType: e.targetType ?? null,
          targetId: e.targetId === undefined ? null : String(e.targetId),
          details: JSON.stringify(e.details ?? {}),
        })
        .catch(failed)
    } catch (err) {
      failed(err)
    }
  }

  /** Entries before an id, newest first; `action` filters by prefix. */
  list(before: number, action: string, limit: number) {
    return this.store.audit(before, action, limit)
  }
}
