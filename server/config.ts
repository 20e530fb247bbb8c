// One options table: every setting is an environment variable with a default, a parser and a description.
// Secrets may also be given as NAME_FILE (a path whose contents are the value). `townhall --help` prints it.
import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

type Parser<T> = (raw: string) => T

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`config: ${variable}: ${message}`)
  }
}

const int =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new Error(`expected an integer, got "${raw}"`)
    const n = Number(raw)
    if (n < min || n > max) throw new Error(`expected ${min}..${max}, got ${n}`)
    return n
  }
const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    if (!values.includes(raw as T)) throw new Error(`expected one of ${values.join(', ')}, got "${raw}"`)
    return raw as T
  }
const optionalInt =
  (min: number, max: number): Parser<number | null> =>
  (raw) =>
    raw.trim() === '' ? null : int(min, max)(raw)
const bool: Parser<boolean> = (raw) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new Error(`expected true or false, got "${raw}"`)
}
const str: Parser<string> = (raw) => raw
/** A period like 30m, 12h or 7d, in ms; `off` (or 0) is 0. */
const every: Parser<number> = (raw) => {
  if (/^(off|0)$/i.test(raw.trim())) return 0
  const m = /^(\d{1,5})([mhd])$/.exec(raw.trim())
  if (!m || Number(m[1]) === 0) throw new Error(`expected a period like 30m, 12h or 7d, or off; got "${raw}"`)
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd']
}
const url: Parser<string> = (raw) => {
  if (raw === '') return ''
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new Error(`expected an http(s) URL, got "${raw}"`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`expected an http(s) URL, got "${raw}"`)
  return u.origin + u.pathname.replace(/\/+$/, '')
}
/** A Redis (or Valkey) URL, or empty. */
const redisUrl: Parser<string> = (raw) => {
  if (raw.trim() === '') return ''
  let u: URL
  try {
    u = new URL(raw.trim())
  } catch {
    throw new Error('expected a redis:// or rediss:// URL')
  }
  if (!/^(redis|rediss|valkey|valkeys):$/.test(u.protocol)) throw new Error('expected a redis:// or rediss:// URL')
  return raw.trim()
}
/** A Postgres URL, or empty (SQLite in DATA_DIR). */
const databaseUrl: Parser<string> = (raw) => {
  if (raw.trim() === '') return ''
  let u: URL
  try {
    u = new URL(raw.trim())
  } catch {
    throw new Error('expected a postgres:// or postgresql:// URL')
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error('expected a postgres:// or postgresql:// URL')
  return raw.trim()
}
const list: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
const ip: Parser<string> = (raw) => {
  if (raw !== '' && !/^(\d{1,3}\.){3}\d{1,3}$/.test(raw) && !raw.includes(':'))
    throw new Error(`expected an IP address, got "${raw}"`)
  return raw
}

interface Option<T> {
  env: string
  default: string
  parse: Parser<T>
  secret?: boolean
  description: string
}
const opt = <T>(o: Option<T>) => o

export const OPTIONS = {
  port: opt({ env: 'PORT', default: '3000', parse: int(0, 65535), description: 'HTTP port (0 picks a free one)' }),
  host: opt({ env: 'HOST', default: '0.0.0.0', parse: str, description: 'Address to listen on' }),
  dataDir: opt({
    env: 'DATA_DIR',
    default: './data',
    parse: str,
    description: 'Folder for townhall.db (SQLite), uploads/, replays/ and backups/',
  }),
  databaseUrl: opt({
    env: 'DATABASE_URL',
    default: '',
    parse: databaseUrl,
    secret: true,
    description:
      'Postgres for the database (postgres://user:password@host:5432/db), migrated at start; files stay in ' +
      'DATA_DIR. Empty: SQLite in DATA_DIR',
  }),
  publicUrl: opt({
    env: 'PUBLIC_URL',
    default: '',
    parse: url,
    description:
      'Public address, e.g. https://town.example.org (links, cookies, Origin check); default http://localhost:PORT',
  }),
  registration: opt({
    env: 'REGISTRATION',
    default: 'invite',
    parse: oneOf('invite', 'open', 'closed'),
    description: 'Who may sign up: invite, open or closed (the admin can change it later)',
  }),
  inviteQuota: opt({
    env: 'INVITE_QUOTA',
    default: '5',
    parse: int(0, 1000),
    description: 'Invites a new member may create',
  }),
  sessionDays: opt({
    env: 'SESSION_DAYS',
    default: '30',
    parse: int(1, 3650),
    description: 'Days a session stays valid',
  }),
  trustProxy: opt({
    env: 'TRUST_PROXY',
    default: 'false',
    parse: bool,
    description: 'Behind one reverse proxy: take the client address from the last X-Forwarded-For entry',
  }),
  allowedOrigins: opt({
    env: 'ALLOWED_ORIGINS',
    default: '',
    parse: list,
    description: 'Extra origins allowed to make state-changing requests (comma-separated)',
  }),
  maxBodyKb: opt({
    env: 'MAX_BODY_KB',
    default: '12288',
    parse: int(16, 1048576),
    description: 'Largest request body in KiB (uploads included)',
  }),
  guests: opt({
    env: 'GUESTS',
    default: 'false',
    parse: bool,
    description: 'Let signed-out visitors listen to open rooms (default for the admin setting)',
  }),
  roomGraceMs: opt({
    env: 'ROOM_GRACE_MS',
    default: '20000',
    parse: int(100, 600000),
    description: 'How long a room keeps the seat of someone whose connection dropped (ms)',
  }),
  roomHostlessMs: opt({
    env: 'ROOM_HOSTLESS_MS',
    default: '60000',
    parse: int(100, 3600000),
    description: 'How long a room with listeners stays open after its last host left with nobody on stage (ms)',
  }),
  roomDrainMs: opt({
    env: 'ROOM_DRAIN_MS',
    default: '10000',
    parse: int(0, 600000),
    description:
      'Several nodes (REDIS_URL): on SIGTERM, how long the live rooms of the stopping node that no other node takes ' +
      'get to wind down, told so, before they end (ms)',
  }),
  roomHandover: opt({
    env: 'ROOM_HANDOVER',
    default: 'true',
    parse: bool,
    description:
      'Several nodes (REDIS_URL): on SIGTERM, the live rooms of the stopping node move to another node without ' +
      'ending (false: they end after ROOM_DRAIN_MS)',
  }),
  roomResumeMs: opt({
    env: 'ROOM_RESUME_MS',
    default: '120000',
    parse: int(1000, 3600000),
    description: 'After a restart, how long a live room waits for its participants to come back before it ends (ms)',
  }),
  backupEvery: opt({
    env: 'BACKUP_EVERY',
    default: '24h',
    parse: every,
    description: 'Scheduled backups into DATA_DIR/backups: a period like 12h or 7d, or off',
  }),
  backupKeep: opt({
    env: 'BACKUP_KEEP',
    default: '7',
    parse: int(1, 1000),
    description: 'How many backups the schedule keeps (older ones are deleted after each scheduled backup)',
  }),
  recordingMinFreeMb: opt({
    env: 'RECORDING_MIN_FREE_MB',
    default: '500',
    parse: int(0, 100_000_000),
    description: 'Recording pauses while the disk of DATA_DIR/recordings has less free space than this (MB)',
  }),
  publicIp: opt({
    env: 'PUBLIC_IP',
    default: '',
    parse: ip,
    description: 'Public IP announced to WebRTC peers (behind NAT)',
  }),
  rtcPort: opt({
    env: 'RTC_PORT',
    default: '',
    parse: optionalInt(0, 65535),
    description: 'UDP port for all audio (ICE-lite, one socket, bound to HOST); empty: the same number as PORT',
  }),
  iceTcp: opt({ env: 'ICE_TCP', default: 'false', parse: bool, description: 'Also offer ICE over TCP (RFC 6544)' }),
  rtcTcpPort: opt({
    env: 'RTC_TCP_PORT',
    default: '',
    parse: optionalInt(0, 65535),
    description: 'TCP port for ICE over TCP (with ICE_TCP); empty: RTC_PORT + 1 (the HTTP server owns TCP PORT)',
  }),
  turnUrls: opt({
    env: 'TURN_URLS',
    default: '',
    parse: list,
    description: 'TURN servers, comma-separated (turn:host:3478?transport=udp)',
  }),
  turnSecret: opt({
    env: 'TURN_SECRET',
    default: '',
    parse: str,
    secret: true,
    description: 'coturn static-auth-secret for short-lived TURN credentials',
  }),
  mediaMaxListeners: opt({
    env: 'MEDIA_MAX_LISTENERS',
    default: '2000',
    parse: int(0, 1000000),
    description:
      'Audio listeners the server takes in all rooms together; past it a new listener gets room_full (0: none)',
  }),
  mediaRoomMaxListeners: opt({
    env: 'MEDIA_ROOM_MAX_LISTENERS',
    default: '0',
    parse: int(0, 1000000),
    description: 'Audio listeners one room takes; past it a new listener gets room_full (0: no limit of its own)',
  }),
  mediaMaxPps: opt({
    env: 'MEDIA_MAX_PPS',
    default: '50000',
    parse: int(0, 100000000),
    description:
      'Forwarded audio packets per second the server sustains; while at it a new listener gets room_full (0: none)',
  }),
  mediaHandshakes: opt({
    env: 'MEDIA_HANDSHAKES',
    default: '64',
    parse: int(0, 10000),
    description: 'DTLS handshakes in flight at once; the others wait their turn in arrival order (0: no limit)',
  }),
  mediaMaxConnecting: opt({
    env: 'MEDIA_MAX_CONNECTING',
    default: '1000',
    parse: int(0, 1000000),
    description:
      'Audio peers connecting at once (offered, not yet connected); past it a new listener gets media_busy (0: none)',
  }),
  mediaWorkers: opt({
    env: 'MEDIA_WORKERS',
    default: 'auto',
    parse: (raw) => (/^auto$/i.test(raw.trim()) ? (availableParallelism() > 1 ? 1 : 0) : int(0, 16)(raw)),
    description:
      'Threads that forward audio, off the thread of HTTP and the WebSocket (0: that thread); auto: 1 with 2+ cores. ' +
      'Worker n takes UDP RTC_PORT + n (and TCP RTC_TCP_PORT + n)',
  }),
  mediaEdge: opt({
    env: 'MEDIA_EDGE',
    default: 'true',
    parse: bool,
    description:
      'With REDIS_URL: a listener in a room held by another node gets its audio from its own node, which the ' +
      'holder relays each speaker to once (false: every listener connects to the holder)',
  }),
  redisUrl: opt({
    env: 'REDIS_URL',
    default: '',
    parse: redisUrl,
    secret: true,
    description:
      'Redis for several nodes (redis://[:password@]host:6379): events, presence, shared rate limits, room leases. ' +
      'Empty: one node, all in process',
  }),
  pgDump: opt({
    env: 'PG_DUMP',
    default: 'auto',
    parse: (raw) => {
      const v = raw.trim()
      if (/^(auto|off)$/i.test(v)) return v.toLowerCase()
      if (!v.startsWith('/')) throw new Error(`expected auto, off or the absolute path of pg_dump; got "${raw}"`)
      return v
    },
    description:
      'Postgres backups: auto (pg_dump from PATH or /usr/lib/postgresql/*/bin, else a logical export), off (always ' +
      'the logical export), or the path of pg_dump',
  }),
  metricsToken: opt({
    env: 'METRICS_TOKEN',
    default: '',
    parse: str,
    secret: true,
    description: 'Bearer token for /metrics (empty: /metrics is off)',
  }),
  pushAllowHttp: opt({
    env: 'PUSH_ALLOW_HTTP',
    default: 'false',
    parse: bool,
    description:
      'Accept push endpoints over plain http and on private addresses (for tests; push services use public https)',
  }),
  vapidSubject: opt({
    env: 'VAPID_SUBJECT',
    default: 'mailto:admin@localhost',
    parse: str,
    description: 'Contact for Web Push services (mailto: or https:)',
  }),
  logLevel: opt({
    env: 'LOG_LEVEL',
    default: 'info',
    parse: oneOf('debug', 'info', 'warn', 'error'),
    description: 'Log verbosity (info includes one access-log line per HTTP request; warn drops them)',
  }),
  logFormat: opt({
    env: 'LOG_FORMAT',
    default: 'text',
    parse: oneOf('text', 'json'),
    description: 'Log lines as text (time LEVEL message {context}) or json (one object a line)',
  }),
} as const

type Options = typeof OPTIONS
export type Config = { -readonly [K in keyof Options]: ReturnType<Options[K]['parse']> }

/** Reads the table from an environment; throws ConfigError naming the variable on a bad value. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const out: Record<string, unknown> = {}
  for (const [key, o] of Object.entries(OPTIONS) as [string, Option<unknown>][]) {
    let raw = env[o.env]
    const file = env[`${o.env}_FILE`]
    if (raw === undefined && file !== undefined) {
      if (!o.secret) throw new ConfigError(`${o.env}_FILE`, 'only secrets may be read from a file')
      try {
        raw = readFileSync(file, 'utf8').trim()
      } catch (e) {
        throw new ConfigError(`${o.env}_FILE`, `cannot read ${file}: ${(e as Error).message}`)
      }
    }
    try {
      out[key] = o.parse(raw ?? o.default)
    } catch (e) {
      throw new ConfigError(o.env, (e as Error).message)
    }
  }
  const c = out as Config
  for (let w = 0; w < Math.max(1, c.mediaWorkers); w++) {
    const rtcTcp = rtcPorts(c, w).tcp
    if (rtcTcp !== null && rtcTcp !== 0 && rtcTcp === c.port)
      throw new ConfigError('RTC_TCP_PORT', `must differ from PORT (${c.port}): the HTTP server listens there`)
  }
  return c
}

/**
 * The media ports of media worker `worker` (0 for the first, or for the server's own thread): UDP RTC_PORT (default:
 * PORT's number) + worker, ICE-TCP RTC_TCP_PORT (default RTC_PORT + 1) + worker or null; 0 (any port) stays 0.
 */
export function rtcPorts(c: Pick<Config, 'port' | 'rtcPort' | 'rtcTcpPort' | 'iceTcp'>, worker = 0) {
  const next = (p: number) => (p === 0 ? 0 : p + worker)
  const udp = c.rtcPort ?? c.port
  return { udp: next(udp), tcp: c.iceTcp ? next(c.rtcTcpPort ?? (udp === 0 ? 0 : udp + 1)) : null }
}

export function helpTable(): string {
  const rows = Object.values(OPTIONS).map((o: Option<unknown>) => {
    const name = o.env + (o.secret ? ' (+_FILE)' : '')
    return `  ${name.padEnd(26)} ${JSON.stringify(o.default).padEnd(24)} ${o.description}`
  })
  return [
    'Environment variables (secrets may also be given as NAME_FILE):',
    `  ${'NAME'.padEnd(26)} ${'DEFAULT'.padEnd(24)} DESCRIPTION`,
    ...rows,
  ].join('\n')
}

/** The origin the app is served from, used for links, cookies and the Origin check. */
export function publicOrigin(c: Config, boundPort: number): string {
  return c.publicUrl ? new URL(c.publicUrl).origin : `http://localhost:${boundPort}`
}
