// The admin domain. createAudit() builds the audit log right after the core (it depends on nothing else), so every
// domain can record into it; createAdmin() is built last, on every other domain's contract: the console's API
// (/api/admin/*, reports, reset links) and /metrics. start(): the metrics' sampling timer and the backup schedule.
import { Elysia, type AnyElysia } from 'elysia'
import type { AuditFn } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { BackupSchedule } from '../db/backup'
import { AuditLog } from './audit'
import { Metrics } from './metrics'
import { adminRoutes, metricsRoutes } from './routes'
import { AdminService, type AdminDeps } from './service'
import { byDialect } from '../db/conn'
import { type AdminStore, SqliteAdminStore } from './store'
import { PgAdminStore } from './store-pg'

export interface AuditDomain extends Domain<AuditFn> {
  readonly service: AuditLog
}

export function createAudit(deps: { core: Core }): AuditDomain {
  const service = new AuditLog(
    deps.core,
    byDialect<AdminStore>(
      deps.core.conn,
      (g) => new SqliteAdminStore(g),
      (c) => new PgAdminStore(c),
    ),
  )
  return { api: service.record, service }
}

export interface AdminDomain extends Domain<null> {
  readonly service: AdminService
  readonly metrics: Metrics
  readonly schedule: BackupSchedule
  readonly routes: AnyElysia
}

export function createAdmin(deps: AdminDeps & { version: string }): AdminDomain {
  const service = new AdminService(deps)
  const metrics = new Metrics(deps, service)
  const routes = new Elysia({ name: 'townhall.admin', seed: deps.core.id })
    .use(adminRoutes(deps, service))
    .use(metricsRoutes(deps.core, metrics, deps.version))
  const { core } = deps
  // Scheduled backups (BACKUP_EVERY, BACKUP_KEEP), each audited like one made from the console.
  const schedule = new BackupSchedule({
    db: core.conn,
    pgDump: core.config.pgDump,
    dataDir: core.config.dataDir,
    everyMs: core.config.backupEvery,
    keep: core.config.backupKeep,
    log: core.log,
    done: (r, pruned) =>
      deps.audit.record({
        actorId: null,
        action: 'backup.create',
        targetType: 'backup',
        targetId: r.name,
        details: { integrity: r.integrity, bytes: r.size, files: r.files, scheduled: true, pruned },
      }),
  })
  return {
    api: null,
    service,
    metrics,
    schedule,
    routes,
    start: () => {
      metrics.start()
      schedule.start()
    },
    stop: async () => {
      metrics.stop()
      service.stopBackup()
      await schedule.stop()
    },
  }
}
