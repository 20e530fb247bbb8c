// Where a push may go: only to a public unicast address (ipaddr.js's ranges), checked for every address a name
// resolves to, and the POST pinned to the address that was checked (no second lookup a rebinding DNS server could
// answer differently). PUSH_ALLOW_HTTP (tests) turns the checks off.
import { lookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/** IPv6 global unicast (2000::/3); ipaddr.js calls everything it has no name for "unicast", e.g. ::7f00:1. */
const GLOBAL_V6 = ipaddr.IPv6.parseCIDR('2000::/3')

/**
 * Whether an IP address is public: ipaddr.js's range `unicast` and nothing else (not loopback, private, link-local,
 * carrier-grade NAT, benchmarking 198.18/15, multicast, reserved, IPv4-mapped, NAT64 64:ff9b::/96, 6to4, Teredo,
 * unique-local…); an IPv6 address also inside 2000::/3.
 */
export function isPublicAddress(address: string): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6
  try {
    ip = ipaddr.parse(address.replace(/^\[|\]$/g, ''))
  } catch {
    return false
  }
  if (ip.range() !== 'unicast') return false
  return ip.kind() === 'ipv4' || (ip as ipaddr.IPv6).match(GLOBAL_V6)
}

/** Names that are never a push service: localhost and the local and internal zones, a trailing dot (FQDN tricks). */
function isLocalName(name: string): boolean {
  const h = name.toLowerCase()
  return (
    h.endsWith('.') ||
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h.endsWith('.local') ||
    h.endsWith('.internal') ||
    !h.includes('.')
  )
}

export type Resolver = (name: string) => Promise<{ address: string; family: number }[]>
const systemResolver: Resolver = (name) => lookup(name, { all: true, verbatim: true })

export type Checked = { ok: true; address: string; family: 4 | 6 } | { ok: false; why: 'not_public' | 'unresolved' }

/**
 * The address to send to for a host (an IP literal or a name): every address the name resolves to must be public,
 * and the first is the one to connect to.
 */
export async function checkHost(host: string, resolve: Resolver = systemResolver): Promise<Checked> {
  const bare = host.replace(/^\[|\]$/g, '')
  if (ipaddr.isValid(bare)) {
    if (!isPublicAddress(bare)) return { ok: false, why: 'not_public' }
    return { ok: true, address: bare, family: ipaddr.parse(bare).kind() === 'ipv4' ? 4 : 6 }
  }
  // Numbers that are not dotted quads ("2130706433", "0x7f.1") are addresses to some resolvers: never a name.
  if (isLocalName(bare) || /^[\d.]+$/.test(bare) || /^0x/i.test(bare)) return { ok: false, why: 'not_public' }
  let all: { address: string; family: number }[]
  try {
    all = await resolve(bare)
  } catch {
    return { ok: false, why: 'unresolved' }
  }
  if (!all.length) return { ok: false, why: 'unresolved' }
  if (!all.every((a) => isPublicAddress(a.address))) return { ok: false, why: 'not_public' }
  return { ok: true, address: all[0]!.address, family: all[0]!.family === 6 ? 6 : 4 }
}

/**
 * One POST with node's http(s): when `pinned` is given, the connection goes to that address (the name still
 * in the Host header and the TLS server name), so the address checked is the address used. Redirects are not
 * followed. Resolves with the status.
 */
export function pinnedPost(
  url: string,
  opts: { headers: Record<string, string>; body?: Uint8Array; timeoutMs: number; pinned?: Checked & { ok: true } },
): Promise<number> {
  const u = new URL(url)
  const pinned = opts.pinned
  const lookupPinned: LookupFunction | undefined = pinned
    ? (_host, o, cb) => {
        if ((o as { all?: boolean }).all) (cb as any)(null, [{ address: pinned.address, family: pinned.family }])
        else cb(null, pinned.address, pinned.family)
      }
    : undefined
  const mod = u.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const headers = { ...opts.headers, 'content-length': String(opts.body?.byteLength ?? 0) }
    // No agent: a pooled connection to the same name could have been made to another address.
    const o = { method: 'POST', headers, lookup: lookupPinned, timeout: opts.timeoutMs, agent: false as const }
    const req = mod.request(u, o, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end(opts.body ? Buffer.from(opts.body) : undefined)
  })
}
