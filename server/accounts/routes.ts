import { Elysia, t } from 'elysia'
import type { AccountsApi, AuditFn } from '../contracts'
import type { Core } from '../core'
import { AppError, fail } from '../errors'
import { clearCookie, limit, requireUser, sessionCookie, sessionPlugin } from '../http/session'
import { rawBody } from '../http/upload'
import { AVATAR_MAX_BYTES, type AccountsService } from './service'
import { LoginBody, PasswordBody, ProfileBody, SearchQuery, SetupBody, UsernameParams } from './model'
import { publicUser } from './model'

/** A profile's followers or following: the most recent this many. */
const LIST_MAX = 500
/** One's own blocks: all of them (any realistic number). */
const BLOCKS_MAX = 10_000

export const accountsRoutes = (deps: { core: Core; accounts: AccountsApi; audit: AuditFn }, a: AccountsService) => {
  const { core, audit } = deps
  return (
    new Elysia({ prefix: '/api', tags: ['accounts'] } as any)
      .use(sessionPlugin(deps))
      .post(
        '/auth/login',
        async ({ body, set, ip, request }) => {
          limit(core.limits.login, ip)
          let s: Awaited<ReturnType<typeof a.login>>
          try {
            s = await a.login(body.username, body.password, request.headers.get('user-agent') ?? '')
          } catch (e) {
            // One line per failed sign-in, with the client's address first: what fail2ban's filter reads
            // (docs/deploy/fail2ban/townhall.conf).
            if (e instanceof AppError)
              core.log.warn(`auth: failed sign-in from ${ip}`, {
                ip,
                username: body.username.slice(0, 20),
                reason: e.code,
              })
            throw e
          }
          audit({
            actorId: s.user.id,
            action: 'auth.login',
            targetType: 'member',
            targetId: s.user.id,
            details: { ip },
          })
          set.headers['set-cookie'] = sessionCookie(core, s.token, s.expires)
          return { user: a.me(s.user) }
        },
        { body: LoginBody, detail: { summary: 'Sign in; sets the session cookie' } },
      )
      .post(
        '/auth/logout',
        async ({ viewer, set }) => {
          if (viewer) await a.logout(viewer.session.id, viewer.user.id)
          set.headers['set-cookie'] = clearCookie(core)
          return { ok: true }
        },
        { detail: { summary: 'Sign out of this device' } },
      )
      .post(
        '/auth/logout-all',
        async ({ viewer, set }) => {
          const v = requireUser(viewer)
          await a.logoutEverywhere(v.user.id)
          set.headers['set-cookie'] = clearCookie(core)
          return { ok: true }
        },
        { detail: { summary: 'Sign out of every device' } },
      )
      .post(
        '/auth/password',
        async ({ viewer, body }) => {
          const v = requireUser(viewer)
          // The current password is checked like a sign-in: limited (per member), so a stolen session cannot guess it.
          limit(core.limits.login, `password:${v.user.id}`)
          await a.changePassword(v.user.id, v.session.id, body.current, body.next)
          return { ok: true }
        },
        { body: PasswordBody, detail: { summary: 'Change password; other sessions end' } },
      )
      .get('/setup', async () => ({ needed: await a.needsSetup() }), {
        detail: { summary: 'Whether the first-run admin setup is open' },
      })
      .get(
        '/setup/:token',
        async ({ params, ip }) => {
          limit(core.limits.inviteLookup, ip)
          return { needed: await a.needsSetup(), valid: await a.setupTokenValid(params.token) }
        },
        {
          params: t.Object({ token: t.String({ minLength: 1, maxLength: 128 }) }),
          detail: { summary: 'Whether a setup link can still be used' },
        },
      )
      .post(
        '/setup',
        async ({ body, set, ip, request }) => {
          limit(core.limits.login, ip)
          const id = await a.setup(body.token, body.username, body.password)
          audit({
            actorId: id,
            action: 'server.setup',
            targetType: 'member',
            targetId: id,
            details: { username: body.username },
          })
          set.status = 201
          const s = await a.startSession(id, request.headers.get('user-agent') ?? '')
          set.headers['set-cookie'] = sessionCookie(core, s.token, s.expires)
          return { user: a.me(a.account(id)) }
        },
        { body: SetupBody, detail: { summary: 'Create the first admin with the one-time setup token' } },
      )
      // The app's one who-am-I at start (index.html preloads it): 200 either way, so a signed-out visit logs no error.
      .get('/session', ({ viewer }) => ({ user: viewer ? a.me(viewer.user) : null }), {
        detail: { summary: 'Who is signed in: the member, or null when signed out (never a 401)' },
      })
      .get('/me', ({ viewer }) => ({ user: a.me(requireUser(viewer).user) }), {
        detail: { summary: 'The signed-in member' },
      })
      .patch('/me', async ({ viewer, body }) => ({ user: await a.updateProfile(requireUser(viewer).user.id, body) }), {
        body: ProfileBody,
      })
      .put(
        '/me/avatar',
        async ({ viewer, request }) => {
          const v = requireUser(viewer)
          const bytes = await rawBody(request, AVATAR_MAX_BYTES, 'An avatar may be at most 2 MB.')
          if (bytes.byteLength === 0) fail('validation', 'body: an image is required')
          return { user: await a.setAvatar(v.user.id, bytes) }
        },
        { parse: 'none', detail: { summary: 'Upload an avatar (raw PNG, JPEG or WebP bytes, ≤2 MB)' } } as any,
      )
      .delete('/me/avatar', async ({ viewer }) => {
        await a.clearAvatar(requireUser(viewer).user.id)
        return { ok: true }
      })
      .get(
        '/avatars/:file',
        ({ params, set }) => {
          const p = a.avatarPath(params.file)
          if (!p) fail('not_found')
          const f = Bun.file(p)
          set.headers['cache-control'] = 'public, max-age=31536000, immutable'
          set.headers['x-content-type-options'] = 'nosniff'
          return f.exists().then((ok) => (ok ? f : fail('not_found')))
        },
        { params: t.Object({ file: t.String({ maxLength: 80 }) }) },
      )
      .get(
        '/users',
        async ({ viewer, query }) => ({
          users: await a.search(requireUser(viewer).user.id, query.q, query.limit ?? 20),
        }),
        { query: SearchQuery, detail: { summary: 'Search people by username or name' } },
      )
      .get(
        '/users/:username',
        ({ viewer, params }) => ({ profile: a.profile(requireUser(viewer).user.id, params.username) }),
        { params: UsernameParams },
      )
      .get(
        '/users/:username/followers',
        async ({ viewer, params }) => {
          const v = requireUser(viewer)
          const p = a.profile(v.user.id, params.username)
          // Someone who blocked the viewer is not found for them, in lists too (A5).
          return { users: a.visibleTo(v.user.id, await a.store.followers(p.id, LIST_MAX)) }
        },
        { params: UsernameParams },
      )
      .get(
        '/users/:username/following',
        async ({ viewer, params }) => {
          const v = requireUser(viewer)
          const p = a.profile(v.user.id, params.username)
          return { users: a.visibleTo(v.user.id, await a.store.following(p.id, LIST_MAX)) }
        },
        { params: UsernameParams },
      )
      .put(
        '/users/:username/follow',
        async ({ viewer, params }) => {
          await a.follow(requireUser(viewer).user.id, params.username)
          return { following: true }
        },
        { params: UsernameParams },
      )
      .delete(
        '/users/:username/follow',
        async ({ viewer, params }) => {
          await a.unfollow(requireUser(viewer).user.id, params.username)
          return { following: false }
        },
        { params: UsernameParams },
      )
      .put(
        '/users/:username/block',
        async ({ viewer, params }) => {
          await a.block(requireUser(viewer).user.id, params.username)
          return { blocked: true }
        },
        { params: UsernameParams },
      )
      .delete(
        '/users/:username/block',
        async ({ viewer, params }) => {
          await a.unblock(requireUser(viewer).user.id, params.username)
          return { blocked: false }
        },
        { params: UsernameParams },
      )
      .get('/me/blocks', async ({ viewer }) => ({
        users: (await a.store.blocking(requireUser(viewer).user.id, BLOCKS_MAX)).map((u) => publicUser(u)),
      }))
  )
}
