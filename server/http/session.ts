// Who is asking: the session cookie resolved once per request, the client address, and the guards routes use.
import { Elysia } from 'elysia'
import { fail } from '../errors'
import type { AccountsApi, Viewer } from '../contracts'
import type { Core } from '../core'
import { rehosted } from './guard'

function cookieName(core: Pick<Core, 'secure'>) {
  return core.secure ? '__Host-th_session' : 'th_session'
}

function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) {
      // A value that is not valid percent-encoding is no token (decodeURIComponent would throw: a 500).
      try {
        return decodeURIComponent(part.slice(i + 1).trim())
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

export function sessionCookie(core: Pick<Core, 'secure'>, token: string, expires: number) {
  const secure = core.secure ? '; Secure' : ''
  const expiry = new Date(expires).toUTCString()
  return `${cookieName(core)}=${token}; Path=/; HttpOnly; SameSite=Lax${secure}; Expires=${expiry}`
}
export function clearCookie(core: Pick<Core, 'secure'>) {
  return `${cookieName(core)}=; Path=/; HttpOnly; SameSite=Lax${core.secure ? '; Secure' : ''}; Max-Age=0`
}

/** The client's address: with TRUST_PROXY the last X-Forwarded-For entry, else the socket's peer. */
export function clientAddress(
  core: Pick<Core, 'config'>,
  request: Request,
  server: { requestIP(r: Request): { address: string } | null } | null,
): string {
  if (core.config.trustProxy) {
    // The proxy appends the address it saw; anything left of it came from the client and could be forged.
    const fwd = request.headers.get('x-forwarded-for')
    const last = fwd
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .at(-1)
    if (last) return last
  }
  return rehosted.get(request) ?? server?.requestIP(request)?.address ?? 'unknown'
}

export function requireUser(s: Viewer | null): Viewer {
  if (!s) fail('unauthorized')
  return s
}
export function requireAdmin(s: Viewer | null): Viewer {
  const v = requireUser(s)
  if (v.user.role !== 'admin') fail('forbidden')
  return v
}

/** Derives `viewer` (the session, or null) and `ip` for every route; one instance per server (named, seeded). */
export const sessionPlugin = (deps: { core: Core; accounts: Pick<AccountsApi, 'resolve'> }) =>
  new Elysia({ name: 'townhall.session', seed: deps.core.id }).derive(
    { as: 'global' },
    async ({ request, server }) => ({
      // The session is the store's (asynchronous); the member is the directory's.
      viewer: await deps.accounts.resolve(readCookie(request.headers.get('cookie'), cookieName(deps.core))),
      ip: clientAddress(deps.core, request, server),
    }),
  )

/** Applies a rate limit keyed by `key`; throws 429 with Retry-After when exceeded. */
export function limit(l: { take(k: string): number }, key: string) {
  const wait = l.take(key)
  if (wait) fail('rate_limited', `Too many attempts. Try again in ${wait} s.`, wait)
}
