import { Elysia } from 'elysia'
import type { AccountsApi, AuditFn } from '../contracts'
import type { Core } from '../core'
import { RegisterBody } from '../accounts/model'
import { limit, requireAdmin, requireUser, sessionCookie, sessionPlugin } from '../http/session'
import { CreateInviteBody, InviteIdParams, TokenParams } from './model'
import type { InvitesService } from './service'

export const invitesRoutes = (deps: { core: Core; accounts: AccountsApi; audit: AuditFn }, inv: InvitesService) => {
  const { core, accounts, audit } = deps
  return (
    new Elysia({ prefix: '/api' })
      .use(sessionPlugin(deps))
      // Sign-up lives here, beside the invites it spends: the invites domain is built on accounts, not the other way.
      .post(
        '/auth/register',
        async ({ body, set, ip, request }) => {
          limit(core.limits.register, ip)
          // Redeeming an invite also counts against the invite-check limit,
          // so tokens cannot be guessed through sign-up.
          if (body.invite) limit(core.limits.inviteLookup, ip)
          const id = await inv.register(body)
          set.status = 201
          const s = await accounts.startSession(id, request.headers.get('user-agent') ?? '')
          set.headers['set-cookie'] = sessionCookie(core, s.token, s.expires)
          return { user: accounts.me(id) }
        },
        {
          body: RegisterBody,
          detail: { summary: 'Create an account (with an invite unless registration is open)', tags: ['accounts'] },
        },
      )
      .get(
        '/invites/:token/check',
        async ({ params, ip }) => {
          limit(core.limits.inviteLookup, ip)
          return { invite: await inv.lookup(params.token) }
        },
        { params: TokenParams, detail: { summary: 'Whether an invite link can be used, and who sent it' } },
      )
      .get('/registration', async () => ({ mode: inv.registrationMode(), setupNeeded: await accounts.needsSetup() }), {
        detail: { summary: 'Registration mode' },
      })
      .post(
        '/invites',
        async ({ viewer, body, set }) => {
          const v = requireUser(viewer)
          const created = await inv.create(v.user.id, {
            uses: body.uses,
            note: body.note,
            expiresInMs: body.expiresInHours ? body.expiresInHours * 3_600_000 : undefined,
          })
          set.status = 201
          if (v.user.role === 'admin')
            audit({
              actorId: v.user.id,
              action: 'invite.create',
              targetType: 'invite',
              targetId: created.id,
              details: { uses: body.uses ?? 1 },
            })
          return {
            invite: (await inv.list(v.user.id, v.user.role === 'admin')).find((i) => i.id === created.id),
            url: created.url,
            token: created.token,
          }
        },
        { body: CreateInviteBody, detail: { summary: 'Create an invite link (members spend their quota)' } },
      )
      .get(
        '/invites',
        async ({ viewer }) => {
          const v = requireUser(viewer)
          return {
            invites: await inv.list(v.user.id, v.user.role === 'admin'),
            quota: v.user.role === 'admin' ? null : accounts.byId(v.user.id)!.inviteQuota,
          }
        },
        { detail: { summary: 'My invites (admins: all invites) with their state' } },
      )
      .delete(
        '/invites/:id',
        async ({ viewer, params }) => {
          const v = requireUser(viewer)
          const revoked = await inv.revoke(params.id, v.user)
          if (revoked && v.user.role === 'admin')
            audit({ actorId: v.user.id, action: 'invite.revoke', targetType: 'invite', targetId: params.id })
          return { revoked }
        },
        { params: InviteIdParams, detail: { summary: 'Revoke an invite' } },
      )
      .get(
        '/admin/invite-tree',
        ({ viewer }) => {
          requireAdmin(viewer)
          return { tree: inv.tree() }
        },
        { detail: { summary: 'Who invited whom (admins)' } },
      )
  )
}
