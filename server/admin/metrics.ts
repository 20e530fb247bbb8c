// /metrics in the Prometheus text format: gauges of what is happening now, counters, and per-second rates
// computed from the counters over the last minute (so a dashboard without PromQL still reads them directly).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DB_FILE } from '../db/open'
import { PgConn } from '../db/postgres'
import { LATENCY_BUCKETS, type Traffic } from '../http/observe'
import type { AdminDeps, AdminService } from './service'

const WINDOW_MS = 60_000
const SAMPLE_EVERY_MS = 5_000

/** A counter's rate per second over the last minute, from samples taken every few seconds and at each scrape. */
export class RateMeter {
  private samples: [number, number][] = []
  sample(value: number, now = Date.now()) {
    this.samples.push([now, value])
    while (this.samples.length > 2 && this.samples[1]![0] <= now - WINDOW_MS) this.samples.shift()
  }
  rate(): number {
    if (this.samples.length < 2) return 0
    const [t0, v0] = this.samples[0]!,
      [t1, v1] = this.samples.at(-1)!
    return t1 > t0 ? Math.max(0, (v1 - v0) / ((t1 - t0) / 1000)) : 0
  }
}

export class Metrics {
  private packets = new RateMeter()
  private messages = new RateMeter()
  private wsIn = new RateMeter()
  private started = Date.now()
  private timer: ReturnType<typeof setInterval> | null = null

  constructor(
    private deps: AdminDeps,
    private admin: AdminService,
  ) {}

  /** Samples the counters every few seconds, so the rates cover the last minute between scrapes. */
  start() {
    this.started = Date.now()
    this.timer = setInterval(() => void this.sample(), SAMPLE_EVERY_MS)
    void this.sample()
  }

  stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private async counters() {
    return {
      packets: this.deps.media.stats().forwardedPackets,
      messages: (await this.deps.backchannel.stats()).messages,
      wsIn: this.deps.core.sockets.stats().messagesIn,
    }
  }

  private async sample() {
    try {
      const c = await this.counters()
      this.packets.sample(c.packets)
      this.messages.sample(c.messages)
      this.wsIn.sample(c.wsIn)
    } catch (e) {
      this.deps.core.log.error('metrics: sampling failed', { error: e })
    }
  }

  /** SQLite: the database file and its write-ahead log; Postgres: the database's size as Postgres counts it. */
  private async dbBytes() {
    const { conn } = this.deps.core
    if (conn instanceof PgConn) {
      const [row] = await conn.sql`SELECT pg_database_size(current_database())::bigint AS n`
      return Number(row?.n ?? 0)
    }
    let n = 0
    for (const f of [DB_FILE, `${DB_FILE}-wal`]) {
      try {
        n += statSync(join(this.deps.core.config.dataDir, f)).size
      } catch {
        /* no WAL yet */
      }
    }
    return n
  }

  async text(version: string): Promise<string> {
    // The store's figures first: the rest is read in one go after them.
    const push = await this.deps.push.stats()
    const openReports = await this.admin.store.openReports()
    await this.sample()
    const c = await this.counters()
    const rooms = this.deps.rooms.stats()
    const media = this.deps.media.stats()
    const sockets = this.deps.core.sockets.stats()
    const members = this.deps.accounts.counts(0)
    const out: string[] = []
    const metric = (name: string, type: 'gauge' | 'counter', help: string, values: [string, number][] | number) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of typeof values === 'number' ? [['', values] as [string, number]] : values)
        out.push(`${name}${labels} ${Number.isFinite(v) ? +v.toFixed(3) : 0}`)
    }
    metric('townhall_info', 'gauge', 'Townhall version.', [[`{version="${version.replace(/["\\\n]/g, '')}"}`, 1]])
    metric('townhall_live_rooms', 'gauge', 'Rooms that are live now.', rooms.liveRooms)
    metric('townhall_room_participants', 'gauge', 'People in live rooms now (members and guests).', rooms.participants)
    metric('townhall_media_peers', 'gauge', 'WebRTC peer connections on the SFU.', media.peers)
    metric('townhall_forwarded_packets_total', 'counter', 'RTP packets the SFU forwarded.', c.packets)
    metric(
      'townhall_forwarded_packets_per_second',
      'gauge',
      'RTP packets forwarded per second over the last minute.',
      this.packets.rate(),
    )
    metric('townhall_forwarded_bytes_total', 'counter', 'RTP bytes the SFU forwarded.', media.forwardedBytes)
    metric(
      'townhall_media_listeners',
      'gauge',
      'Audio listeners taken, counted against MEDIA_MAX_LISTENERS.',
      media.listeners,
    )
    // Origin → edge (M64–M66): what this node relayed to edges, and took (or refused) as an edge.
    metric('townhall_media_relay_sent_total', 'counter', 'Relay datagrams sent to edge nodes.', media.relaySent)
    metric(
      'townhall_media_relay_received_total',
      'counter',
      'Relay datagrams taken from origin nodes.',
      media.relayReceived,
    )
    metric(
      'townhall_media_relay_refused_total',
      'counter',
      'Relay datagrams refused (unknown relay, wrong tag, replayed).',
      media.relayRefused,
    )
    // Listener-side quality per room with audio, from the listeners' RTCP receiver reports of the last 15 s (M56).
    const quality = this.deps.media.quality()
    const perRoom = (f: (q: (typeof quality)[number]) => number): [string, number][] =>
      quality.filter((q) => q.reports > 0).map((q) => [`{room="${q.roomId}"}`, f(q)])
    metric(
      'townhall_room_rtcp_reports',
      'gauge',
      'Listener slots with a recent RTCP receiver report.',
      perRoom((q) => q.reports),
    )
    metric(
      'townhall_room_rtcp_loss_ratio',
      'gauge',
      'Mean fraction of audio packets the listeners lost (RTCP receiver reports).',
      perRoom((q) => q.lossRatio),
    )
    metric(
      'townhall_room_rtcp_jitter_seconds',
      'gauge',
      'Mean interarrival jitter the listeners measured (RTCP receiver reports).',
      perRoom((q) => q.jitterSeconds),
    )
    metric('townhall_websockets_open', 'gauge', 'Open WebSocket connections.', sockets.connections)
    metric('townhall_online_members', 'gauge', 'Members with at least one open WebSocket.', sockets.onlineMembers)
    metric('townhall_ws_messages_received_total', 'counter', 'WebSocket messages received.', c.wsIn)
    metric(
      'townhall_ws_messages_received_per_second',
      'gauge',
      'WebSocket messages received per second over the last minute.',
      this.wsIn.rate(),
    )
    metric('townhall_messages_total', 'counter', 'Backchannel messages sent.', c.messages)
    metric(
      'townhall_messages_per_second',
      'gauge',
      'Backchannel messages sent per second over the last minute.',
      this.messages.rate(),
    )
    metric(
      'townhall_database_bytes',
      'gauge',
      'Size of the database (SQLite: its file and write-ahead log; Postgres: pg_database_size).',
      await this.dbBytes(),
    )
    metric('townhall_members', 'gauge', 'Accounts by status.', [
      ['{status="active"}', members.active],
      ['{status="suspended"}', members.suspended],
      ['{status="banned"}', members.banned],
    ])
    metric('townhall_open_reports', 'gauge', 'Reports waiting for an admin.', openReports)
    metric('townhall_push_subscriptions', 'gauge', 'Devices subscribed to push notifications.', push.subscriptions)
    metric('townhall_push_sent_total', 'counter', 'Push messages accepted by push services.', push.sent)
    metric(
      'townhall_push_failed_total',
      'counter',
      'Push messages that failed (not counting expired subscriptions).',
      push.failed,
    )
    metric('process_uptime_seconds', 'gauge', 'Seconds since the server started.', (Date.now() - this.started) / 1000)
    out.push(...httpMetrics(this.deps.core.traffic))
    out.push(...trafficMetrics(sockets, (await this.deps.backchannel.stats()).sent))
    out.push(...processMetrics())
    return out.join('\n') + '\n'
  }
}

// ——— HTTP, WebSocket and Backchannel traffic, and the process (ops-run; the SFU's figures are above) ———

const esc = (v: string) => v.replace(/["\\\n]/g, '_')
const num = (v: number) => (Number.isFinite(v) ? String(+v.toFixed(6)) : '0')

/** HTTP requests by method, route and status, and a latency histogram by route (seconds). */
function httpMetrics(traffic: Traffic): string[] {
  const out = [
    '# HELP townhall_http_requests_total HTTP requests answered, by method, route pattern and status.',
    '# TYPE townhall_http_requests_total counter',
  ]
  for (const r of traffic.requests.values())
    out.push(`townhall_http_requests_total{method="${r.method}",route="${esc(r.route)}",status="${r.status}"} ${r.n}`)
  out.push(
    '# HELP townhall_http_request_duration_seconds Time to answer an HTTP request, by route pattern.',
    '# TYPE townhall_http_request_duration_seconds histogram',
  )
  for (const [route, l] of traffic.latency) {
    const r = esc(route)
    LATENCY_BUCKETS.forEach((le, i) => {
      out.push(`townhall_http_request_duration_seconds_bucket{route="${r}",le="${le}"} ${l.buckets[i]}`)
    })
    out.push(`townhall_http_request_duration_seconds_bucket{route="${r}",le="+Inf"} ${l.count}`)
    out.push(`townhall_http_request_duration_seconds_sum{route="${r}"} ${num(l.sum)}`)
    out.push(`townhall_http_request_duration_seconds_count{route="${r}"} ${l.count}`)
  }
  return out
}

/** WebSocket frames in and out, and Backchannel messages sent since the start. */
function trafficMetrics(sockets: { messagesIn: number; messagesOut: number }, bcSent: number): string[] {
  return [
    '# HELP townhall_ws_messages_total WebSocket frames, by direction (in: requests; out: replies and events).',
    '# TYPE townhall_ws_messages_total counter',
    `townhall_ws_messages_total{direction="in"} ${sockets.messagesIn}`,
    `townhall_ws_messages_total{direction="out"} ${sockets.messagesOut}`,
    '# HELP townhall_backchannel_messages_sent_total Backchannel messages sent (committed) since the start.',
    '# TYPE townhall_backchannel_messages_sent_total counter',
    `townhall_backchannel_messages_sent_total ${bcSent}`,
  ]
}

const START_SECONDS = Math.round(performance.timeOrigin) / 1000

/** The standard process metrics (Prometheus client conventions): memory, CPU, start time, file descriptors. */
function processMetrics(): string[] {
  const cpu = process.cpuUsage()
  const mem = process.memoryUsage()
  const out: string[] = []
  const m = (name: string, type: string, help: string, v: number) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${num(v)}`)
  m('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss)
  m('process_heap_bytes', 'gauge', 'JavaScript heap in use, in bytes.', mem.heapUsed)
  m(
    'process_cpu_seconds_total',
    'counter',
    'User and system CPU time spent, in seconds.',
    (cpu.user + cpu.system) / 1e6,
  )
  m('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', START_SECONDS)
  // Linux only (/proc); elsewhere these two are left out.
  try {
    m('process_open_fds', 'gauge', 'Open file descriptors.', readdirSync('/proc/self/fd').length)
    const max = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (max) m('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', Number(max[1]))
  } catch {
    /* no /proc */
  }
  return out
}
