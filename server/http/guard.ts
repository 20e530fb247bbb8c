// Origin check for state-changing requests and WebSocket upgrades, and the request size limit.
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
