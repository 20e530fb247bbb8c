// The admin and push domains on the Ctx: installAdmin() (from createContext) builds the services and sets ctx.push and
// ctx.audit; adminPlugin() (from createApp) mounts their routes and /metrics and starts the reminder timer.
import { Elysia } from 'elysia'
import type { Ctx } from '../context'
import { PushService } from '../push/service'
import { pushRoutes } from '../push/routes'
import { AdminService } from './service'
import { Metrics } from './metrics'
import { adminRoutes, metricsRoutes } from './routes'

interface AdminDomain { push: PushService; admin: AdminService }
const installed = new WeakMap<Ctx, AdminDomain>()

export function installAdmin(ctx: Ctx): AdminDomain {
  let d = installed.get(ctx)
  if (d) return d
  const push = new PushService(ctx)
  const admin = new AdminService(ctx, push)
  ctx.push = push
  ctx.audit = admin.audit
  installed.set(ctx, (d = { push, admin }))
  return d
}

/** The service instances of a context (tests reach push.runReminders and the stores through it). */
export const adminDomain = (ctx: Ctx) => installAdmin(ctx)

export function adminPlugin(ctx: Ctx, version: string) {
  const { push, admin } = installAdmin(ctx)
  push.start()
  const metrics = new Metrics(ctx, admin, push)
  return new Elysia({ name: 'townhall.admin', seed: ctx.id })
    .use(pushRoutes(ctx, push))
    .use(adminRoutes(ctx, admin))
    .use(metricsRoutes(ctx, metrics, version))
}
