// ICE settings of the server's peers and the ICE servers handed to browsers: which host addresses are announced
// (PUBLIC_IP first) as candidates on the one media port, and coturn's shared-secret TURN credentials
// (RFC-less "TURN REST API": username `<expiry>:<id>`, password = base64(HMAC-SHA1(secret, username))).
import { createHmac } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import type { Config } from '../config'

export interface IceServer {
  urls: string[]
  username?: string
  credential?: string
}

/** How long TURN credentials handed to a browser stay valid. */
const TURN_TTL_SECONDS = 12 * 3600

export function turnCredentials(secret: string, id: string, now = Date.now(), ttl = TURN_TTL_SECONDS) {
  const username = `${Math.floor(now / 1000) + ttl}:${id}`
  const credential = createHmac('sha1', secret).update(username).digest('base64')
  return { username, credential }
}

/** The ICE servers for a browser: STUN URLs as given, TURN URLs with fresh credentials (only with TURN_SECRET). */
export function iceServersFor(
  config: Pick<Config, 'turnUrls' | 'turnSecret'>,
  id: string,
  now = Date.now(),
): IceServer[] {
  const stun = config.turnUrls.filter((u) => /^stuns?:/i.test(u))
  const turn = config.turnUrls.filter((u) => /^turns?:/i.test(u))
  const out: IceServer[] = []
  if (stun.length) out.push({ urls: stun })
  if (turn.length && config.turnSecret) out.push({ urls: turn, ...turnCredentials(config.turnSecret, id, now) })
  return out
}

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1'

/**
 * The addresses announced as host candidates, PUBLIC_IP first. A server listening on loopback only announces
 * 127.0.0.1 (it is reachable from this machine only); one bound to a specific address announces that one.
 */
export function hostAddresses(config: Pick<Config, 'publicIp' | 'host'>): string[] {
  if (isLoopback(config.host)) return ['127.0.0.1']
  const specific = /^(\d{1,3}\.){3}\d{1,3}$/.test(config.host) && config.host !== '0.0.0.0'
  if (specific)
    return config.publicIp && config.publicIp !== config.host ? [config.publicIp, config.host] : [config.host]
  const lan: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) lan.push(a.address)
  }
  const out = config.publicIp ? [config.publicIp, ...lan] : lan
  const unique = [...new Set(out)]
  return unique.length ? unique.slice(0, config.publicIp ? 2 : 1) : ['127.0.0.1']
}

/**
 * werift falls back to Google's public STUN server when none is configured and asks it for every peer during
 * gathering (a DNS lookup and a request to a third party, up to 5 s when DNS hangs). The server announces
 * PUBLIC_IP instead, so it must not: call after the transceivers are added, before setLocalDescription.
 */
export function withoutDefaultStun(pc: { iceTransports: { connection: { stunServer?: unknown } }[] }) {
  for (const t of pc.iceTransports) t.connection.stunServer = undefined
}
