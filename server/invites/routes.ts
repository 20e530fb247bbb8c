import { Elysia } from 'elysia'
import type { Ctx } from '../context'
import { limit, requireAdmin, requireUser, sessionPlugin } from '../http/session'
import { CreateInviteBody, InviteIdParams, TokenParams } from './model'

export const invitesRoutes = (ctx: Ctx) => {
  const inv = ctx.invites
  return new Elysia({ prefix: '/api' })
    .use(sessionPlugin(ctx))
    .get('/invites/:token/check', ({ params, ip }) => {
      limit(ctx.limits.inviteLookup, ip)
      return { invite: inv.lookup(params.token) }
    }, { params: TokenParams, detail: { summary: 'Whether an invite link can be used, and who sent it' } })
    .get('/registration', () => ({ mode: inv.registrationMode(), setupNeeded: ctx.accounts.needsSetup() }), { detail: { summary: 'Registration mode' } })
    .post('/invites', ({ viewer, body, set }) => {
      const v = requireUser(viewer)
      const created = inv.create(v.user.id, { uses: body.uses, note: body.note, expiresInMs: body.expiresInHours ? body.expiresInHours * 3_600_000 : undefined })
      set.status = 201
      if (v.user.role === 'admin') ctx.audit?.({ actorId: v.user.id, action: 'invite.create', targetType: 'invite', targetId: created.id, details: { uses: body.uses ?? 1 } })
      return { invite: inv.list(v.user.id, v.user.role === 'admin').find((i) => i.id === created.id), url: created.url, token: created.token }
    }, { body: CreateInviteBody, detail: { summary: 'Create an invite link (members spend their quota)' } })
    .get('/invites', ({ viewer }) => {
      const v = requireUser(viewer)
      return { invites: inv.list(v.user.id, v.user.role === 'admin'), quota: v.user.role === 'admin' ? null : ctx.accounts.store.byId(v.user.id)!.invite_quota }
    }, { detail: { summary: 'My invites (admins: all invites) with their state' } })
    .delete('/invites/:id', ({ viewer, params }) => {
      const v = requireUser(viewer)
      const revoked = inv.revoke(params.id, v.user)
      if (revoked && v.user.role === 'admin') ctx.audit?.({ actorId: v.user.id, action: 'invite.revoke', targetType: 'invite', targetId: params.id })
      return { revoked }
    }, { params: InviteIdParams, detail: { summary: 'Revoke an invite' } })
    .get('/admin/invite-tree', ({ viewer }) => { requireAdmin(viewer); return { tree: inv.tree() } }, { detail: { summary: 'Who invited whom (admins)' } })
}
