import { Elysia, t } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { limit, requireAdmin, requireUser, sessionPlugin } from '../http/session'
import { Password } from '../accounts/model'
import { safeEqual } from '../lib/crypto'
import type { AdminService } from './service'
import type { Metrics } from './metrics'
import { IdParams, Int, Page } from '../http/params'

const TokenParams = t.Object({ token: t.String({ minLength: 1, maxLength: 128 }) })
const Reason = t.Optional(t.Object({ reason: t.Optional(t.String({ maxLength: 500 })) }))
const ReportBody = t.Object({
  targetType: t.Union([t.Literal('member'), t.Literal('room'), t.Literal('message')]),
  targetId: t.Integer({ minimum: 1 }),
  reason: t.String({ minLength: 3, maxLength: 1000 }),
})
const SettingsBody = t.Object(
  {
    registration: t.Optional(t.Union([t.Literal('invite'), t.Literal('open'), t.Literal('closed')])),
    inviteQuota: t.Optional(t.Integer({ minimum: 0, maximum: 1000 })),
    guests: t.Optional(t.Boolean()),
    maxVideoMb: t.Optional(t.Integer({ minimum: 1, maximum: 2048 })),
    recording: t.Optional(t.Boolean()),
    turnUrls: t.Optional(
      t.Array(t.String({ minLength: 6, maxLength: 300, pattern: '^turns?:[^\\s]+$' }), { maxItems: 10 }),
    ),
  },
  { minProperties: 1, additionalProperties: false },
)

export const adminRoutes = (deps: { core: Core; accounts: AccountsApi }, admin: AdminService) =>
  new Elysia({ prefix: '/api', tags: ['admin'] } as any)
    .use(sessionPlugin(deps))
    // members
    .post(
      '/reports',
      async ({ viewer, body, set }) => {
        const v = requireUser(viewer)
        const report = await admin.report(v.user, body.targetType, body.targetId, body.reason)
        set.status = 201
        return { report }
      },
      { body: ReportBody, detail: { summary: 'Report a member, a room or a message to the admins' } },
    )
    .get(
      '/reset/:token',
      async ({ params, ip }) => {
        limit(deps.core.limits.inviteLookup, ip)
        return { reset: await admin.checkReset(params.token) }
      },
      { params: TokenParams, detail: { summary: 'Whether a password-reset link can be used, and for whom' } },
    )
    .post(
      '/reset/:token',
      async ({ params, body, ip }) => {
        limit(deps.core.limits.login, ip)
        return { reset: await admin.useReset(params.token, body.password) }
      },
      {
        params: TokenParams,
        body: t.Object({ password: Password }),
        detail: { summary: 'Set a new password with a one-time reset link' },
      },
    )
    // admins
    .group('/admin', (g) =>
      g
        .onBeforeHandle(({ viewer }) => {
          requireAdmin(viewer)
        })
        .get('/stats', async () => ({ stats: await admin.stats() }), {
          detail: { summary: 'Dashboard: members, live rooms, people in rooms, messages today' },
        })
        .get(
          '/members',
          async ({ query }) => ({
            members: await admin.members(query.q ?? '', query.status ?? 'all', query.limit ?? 50, query.offset ?? 0),
          }),
          {
            query: t.Object({
              q: t.Optional(t.String({ maxLength: 50 })),
              status: t.Optional(t.Union(['all', 'active', 'suspended', 'banned', 'admin'].map((s) => t.Literal(s)))),
              ...Page(200),
            }),
            detail: { summary: 'Search members' },
          },
        )
        .post(
          '/members/:id/suspend',
          async ({ viewer, params, body }) => ({
            member: await admin.setStatus(viewer!.user, params.id, 'suspended', body?.reason),
          }),
          { params: IdParams, body: Reason },
        )
        .post(
          '/members/:id/unsuspend',
          async ({ viewer, params }) => ({ member: await admin.setStatus(viewer!.user, params.id, 'active') }),
          { params: IdParams },
        )
        .post(
          '/members/:id/ban',
          async ({ viewer, params, body }) => ({
            member: await admin.setStatus(viewer!.user, params.id, 'banned', body?.reason),
          }),
          { params: IdParams, body: Reason },
        )
        .post(
          '/members/:id/unban',
          async ({ viewer, params }) => ({ member: await admin.setStatus(viewer!.user, params.id, 'active') }),
          { params: IdParams },
        )
        .put(
          '/members/:id/role',
          async ({ viewer, params, body }) => ({ member: await admin.setRole(viewer!.user, params.id, body.role) }),
          {
            params: IdParams,
            body: t.Object({ role: t.Union([t.Literal('member'), t.Literal('admin')]) }),
          },
        )
        .post(
          '/members/:id/reset-link',
          async ({ viewer, params, set }) => {
            const link = await admin.resetLink(viewer!.user, params.id)
            set.status = 201
            return link
          },
          { params: IdParams, detail: { summary: 'A one-time password-reset link (24 h)' } },
        )
        .get('/tree', async () => ({ tree: await admin.tree() }), {
          detail: { summary: "The invite tree with each member's unused invites" },
        })
        .post(
          '/tree/:id/revoke',
          ({ viewer, params, body }) => admin.revokeBranch(viewer!.user, params.id, body.suspend ?? false),
          {
            params: IdParams,
            body: t.Object({ suspend: t.Optional(t.Boolean()) }),
            detail: {
              summary: 'Revoke the unused invites of a member and everyone below; optionally suspend those below',
            },
          },
        )
        .get('/reports', async ({ query }) => ({ reports: await admin.reports(query.status ?? 'open') }), {
          query: t.Object({
            status: t.Optional(t.Union(['open', 'resolved', 'dismissed', 'all'].map((s) => t.Literal(s)))),
          }),
        })
        .patch(
          '/reports/:id',
          async ({ viewer, params, body }) => ({
            report: await admin.handleReport(viewer!.user, params.id, body.status, body.note),
          }),
          {
            params: IdParams,
            body: t.Object({
              status: t.Union([t.Literal('open'), t.Literal('resolved'), t.Literal('dismissed')]),
              note: t.Optional(t.String({ maxLength: 500 })),
            }),
          },
        )
        .get('/settings', () => ({ settings: deps.core.settings.get() }))
        .patch(
          '/settings',
          async ({ viewer, body }) => ({ settings: await admin.updateSettings(viewer!.user, body) }),
          {
            body: SettingsBody,
          },
        )
        .get('/backups', () => ({ backups: admin.backups() }))
        .post(
          '/backups',
          async ({ viewer, set }) => {
            const backup = await admin.createBackup(viewer!.user)
            set.status = 201
            return { backup }
          },
          {
            detail: {
              summary:
                'Write a backup now: a database snapshot (VACUUM INTO; Postgres: pg_dump or an export) and the files',
            },
          },
        )
        .get(
          '/backups/:name',
          ({ viewer, params, set }) => {
            const p = admin.backupPath(viewer!.user, params.name)
            set.headers['content-type'] = p.endsWith('.tar') ? 'application/x-tar' : 'application/vnd.sqlite3'
            set.headers['content-disposition'] = `attachment; filename="${params.name}"`
            set.headers['cache-control'] = 'no-store'
            return Bun.file(p)
          },
          { params: t.Object({ name: t.String({ maxLength: 80 }) }) },
        )
        .delete(
          '/backups/:name',
          ({ viewer, params }) => {
            admin.deleteBackup(viewer!.user, params.name)
            return { ok: true }
          },
          { params: t.Object({ name: t.String({ maxLength: 80 }) }) },
        )
        .get(
          '/audit',
          async ({ query }) => ({
            entries: await admin.auditLog({ before: query.before, action: query.action, limit: query.limit ?? 50 }),
          }),
          {
            query: t.Object({
              before: t.Optional(Int(1)),
              action: t.Optional(t.String({ maxLength: 64 })),
              limit: t.Optional(Int(1, 200)),
            }),
          },
        ),
    )

/** GET /metrics with `Authorization: Bearer METRICS_TOKEN`; not found while the token is empty. */
export const metricsRoutes = (core: Core, metrics: Metrics, version: string) =>
  new Elysia().get(
    '/metrics',
    async ({ request, set }) => {
      const token = core.config.metricsToken
      if (!token) fail('not_found')
      const auth = request.headers.get('authorization') ?? ''
      const given = auth.startsWith('Bearer ') ? auth.slice(7).trim() : ''
      if (!given || !safeEqual(given, token)) {
        set.headers['www-authenticate'] = 'Bearer realm="metrics"'
        fail('metrics_token')
      }
      return new Response(await metrics.text(version), {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
      })
    },
    { detail: { hide: true } } as any,
  )
