// Origin check for state-changing requests and WebSocket upgrades, and a safe default for a malformed Host header.
import type { Core } from '../core'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * A browser request is allowed when its Origin is ours: PUBLIC_URL's origin, an ALLOWED_ORIGINS entry, or the
 * origin of the Host it was sent to. Requests without an Origin (CLI tools, bots) carry no ambient browser
 * credentials from another site, so they pass; a browser that says the request is cross-site does not.
 */
export function originAllowed(core: Pick<Core, 'origin' | 'config'>, request: Request): boolean {
  const origin = request.headers.get('origin')
  if (!origin) return request.headers.get('sec-fetch-site') !== 'cross-site'
  if (origin === core.origin() || core.config.allowedOrigins.includes(origin)) return true
  try {
    return new URL(origin).host === request.headers.get('host')
  } catch {
    return false
  }
}

export const needsOriginCheck = (method: string) => !SAFE.has(method)

/**
 * A request's path, read without parsing its URL: Bun builds `request.url` from the Host header, and a malformed
 * one ("exa mple", "[::1", "a:b:c", an empty Host) makes `new URL(request.url)` throw.
 */
export function requestPath(request: Request): string {
  const url = request.url
  // With an empty Host, Bun's request.url is the bare request target ("/rooms?x=1").
  const start = url.startsWith('/') ? 0 : url.indexOf('/', url.indexOf('://') + 3)
  if (start < 0) return '/'
  const q = url.indexOf('?', start)
  return q < 0 ? url.slice(start) : url.slice(start, q)
}

/** A Host header we route by: a name or an IPv4 address, or an IPv6 address in brackets, and an optional port. */
const SANE_HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

export function hostIsSane(host: string | null): boolean {
  // Shorter than 4 characters, the router's reading of the path out of "http://<host>/…" goes wrong.
  if (!host || host.length < 4 || !SANE_HOST.test(host)) return false
  try {
    new URL(`http://${host}/`)
    return true
  } catch {
    return false
  }
}

/** Requests re-sent under our own Host (an empty or malformed one replaced), with the original's client address. */
export const rehosted = new WeakMap<Request, string>()

/**
 * The same request addressed to our own origin (PUBLIC_URL's host, or localhost:PORT): the safe default for an
 * empty or malformed Host header, which would otherwise make `new URL(request.url)` throw or the router misread the
 * path. The client address is kept (session.ts reads it from `rehosted`).
 */
export function withOurHost(core: Pick<Core, 'origin'>, request: Request, clientAddress: string): Request {
  const ours = new URL(core.origin())
  const url = request.url
  // Bun makes request.url from "http://", the Host header as sent, and the request target (which starts with "/").
  // (With an empty Host, request.url is the bare target.)
  const from = url.startsWith('/') ? 0 : url.indexOf('://') + 3 + (request.headers.get('host') ?? '').length
  const target = url.slice(from).startsWith('/') ? url.slice(from) : requestPath(request)
  const headers = new Headers(request.headers)
  headers.set('host', ours.host)
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD'
  const again = new Request(`${ours.protocol}//${ours.host}${target}`, {
    method: request.method,
    headers,
    body: hasBody ? request.body : undefined,
    redirect: 'manual',
  })
  rehosted.set(again, clientAddress)
  return again
}
