// Who is asking: the session cookie resolved once per request, the client address, and the guards routes use.
import { Elysia } from 'elysia'
import { fail } from '../errors'
import type { Ctx } from '../context'
import type { Session } from '../accounts/service'

export function cookieName(ctx: Ctx) { return ctx.secure ? '__Host-th_session' : 'th_session' }

export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) {
      // A value that is not valid percent-encoding is no token (decodeURIComponent would throw: a 500).
      try { return decodeURIComponent(part.slice(i + 1).trim()) } catch { return undefined }
    }
  }
  return undefined
}

export function sessionCookie(ctx: Ctx, token: string, expires: number) {
  const secure = ctx.secure ? '; Secure' : ''
  return `${cookieName(ctx)}=${token}; Path=/; HttpOnly; SameSite=Lax${secure}; Expires=${new Date(expires).toUTCString()}`
}
export function clearCookie(ctx: Ctx) {
  return `${cookieName(ctx)}=; Path=/; HttpOnly; SameSite=Lax${ctx.secure ? '; Secure' : ''}; Max-Age=0`
}

export function clientIp(ctx: Ctx, request: Request, server: { requestIP(r: Request): { address: string } | null } | null): string {
  if (ctx.config.trustProxy) {
    // The proxy appends the address it saw; anything left of it came from the client and could be forged.
    const fwd = request.headers.get('x-forwarded-for')
    const last = fwd?.split(',').map((s) => s.trim()).filter(Boolean).at(-1)
    if (last) return last
  }
  return server?.requestIP(request)?.address ?? 'unknown'
}

export function requireUser(s: Session | null): Session {
  if (!s) fail('unauthorized')
  return s
}
export function requireAdmin(s: Session | null): Session {
  const v = requireUser(s)
  if (v.user.role !== 'admin') fail('forbidden')
  return v
}

/** Derives `viewer` (the session, or null) and `ip` for every route. */
export const sessionPlugin = (ctx: Ctx) =>
  new Elysia({ name: 'townhall.session', seed: ctx.id }).derive({ as: 'global' }, ({ request, server }) => ({
    viewer: ctx.accounts.resolve(readCookie(request.headers.get('cookie'), cookieName(ctx))),
    ip: clientIp(ctx, request, server),
  }))

/** Applies a rate limit keyed by `key`; throws 429 with Retry-After when exceeded. */
export function limit(l: { take(k: string): number }, key: string) {
  const wait = l.take(key)
  if (wait) fail('rate_limited', `Too many attempts. Try again in ${wait} s.`, wait)
}
