// What every HTTP request leaves behind: a request id (X-Request-Id, echoed), one access-log line (method, path
// without its query string or tokens, status, milliseconds, member, client address, request id) and its figures
// for /metrics (requests by route and status, a latency histogram by route).
import type { Logger } from '../lib/log'

/** Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const

interface Latency {
  buckets: number[]
  sum: number
  count: number
}

/** HTTP requests counted by method, route and status, and their latencies by route (read by /metrics). */
export class Traffic {
  readonly requests = new Map<string, { method: string; route: string; status: number; n: number }>()
  readonly latency = new Map<string, Latency>()

  record(method: string, route: string, status: number, seconds: number) {
    const key = `${method} ${route} ${status}`
    const c = this.requests.get(key)
    if (c) c.n++
    else this.requests.set(key, { method, route, status, n: 1 })
    let l = this.latency.get(route)
    if (!l) {
      l = { buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 }
      this.latency.set(route, l)
    }
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]!) l.buckets[i]!++
    l.sum += seconds
    l.count++
  }
}

/** A request id a proxy sent (nginx's $request_id) is kept when it looks like one; otherwise we make one. */
const GOOD_ID = /^[A-Za-z0-9._:-]{8,64}$/

interface Timing {
  start: number
  id: string
}
const timings = new WeakMap<Request, Timing>()

/** Starts a request's timing and names it; returns the id to echo in X-Request-Id. */
export function beginRequest(request: Request): string {
  const sent = request.headers.get('x-request-id')
  const id = sent && GOOD_ID.test(sent) ? sent : crypto.randomUUID().replaceAll('-', '').slice(0, 16)
  timings.set(request, { start: performance.now(), id })
  return id
}

/** The path as logged: no query string (it may hold secrets), and the token of a setup, invite or reset link hidden. */
function loggedPath(path: string): string {
  return path.replace(/^((?:\/api)?\/(?:setup|invite|invites|reset))\/[^/]+/, '$1/:token').slice(0, 200)
}

/**
 * Ends a request: its access-log line and its figures. `route` is the matched route pattern (bounded: the route
 * table), or "unmatched" for requests answered before routing (413, 411, 403 bad origin).
 */
export function endRequest(
  log: Logger,
  traffic: Traffic,
  r: { request: Request; path: string; route: string | undefined; status: number; userId: number | null; ip: string },
) {
  const t = timings.get(r.request)
  if (!t) return
  timings.delete(r.request)
  const ms = performance.now() - t.start
  const route = r.route || 'unmatched'
  traffic.record(r.request.method, route, r.status, ms / 1000)
  const path = loggedPath(r.path)
  log.info(`http: ${r.request.method} ${path} ${r.status} ${ms.toFixed(1)}ms`, {
    method: r.request.method,
    path,
    status: r.status,
    ms: +ms.toFixed(1),
    userId: r.userId,
    ip: r.ip,
    requestId: t.id,
  })
}
