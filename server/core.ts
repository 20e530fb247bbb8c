// The shared parts every domain is built with: no domain service lives here, only what has no dependencies of its
// own (config, the database, the log, the settings table, the bus, the rate limiters). Built first, in app.ts.
import type { Database } from 'bun:sqlite'
import type { Config } from './config'
import type { Conn } from './db/conn'
import type { SqliteGate } from './db/sqlite-gate'
import type { Traffic } from './http/observe'
import type { Logger } from './lib/log'
import { RateLimiter, SharedRateLimiter, type RedisCommands } from './lib/ratelimit'
import type { Bus, RoomRegistry, Sockets } from './realtime/bus'
import type { SettingsService } from './settings'

export interface Core {
  /** Unique per built server (Elysia plugin seeds). */
  readonly id: string
  readonly config: Config
  /**
   * The database every store is built on (server/db/conn.ts): SQLite's gate, or the Postgres pool with DATABASE_URL.
   * Its transactions (`conn.transaction`) are what a service opens for other domains' calls that must hold together.
   */
  readonly conn: Conn
  /** SQLite only: the bun:sqlite connection (Backchannel's store, tests). On Postgres, reading it throws. */
  readonly db: Database
  /** SQLite only: `conn` as the SQLite gate. On Postgres, reading it throws. */
  readonly gate: SqliteGate
  readonly log: Logger
  readonly settings: SettingsService
  /** The one way out for events: to a topic, to users, to one connection. */
  readonly bus: Bus
  /** The open connections' lifecycle (open/close hooks, this node's counts, disconnecting on every node). */
  readonly sockets: Sockets
  /** Which node holds each live room, and every node's hallway cards (one node: this one holds every room). */
  readonly registry: RoomRegistry
  /** The origin the app is reached at (PUBLIC_URL, or http://localhost:PORT once bound). */
  origin(): string
  readonly secure: boolean
  readonly limits: Limits
  /**
   * A domain's own rate limiter (token buckets by key): shared by the nodes of a cluster on Redis, or in process.
   * `name` keys it in Redis.
   */
  limiter(name: string, burst: number, perSecond: number): RateLimiter
  /** HTTP requests by route and status, and their latencies (the access log's figures, for /metrics). */
  readonly traffic: Traffic
  /** argon2id's cost for new password hashes; unset (always, but in tests), Bun's own: 64 MiB, 2 passes. */
  readonly passwordCost?: PasswordCost
}

/** argon2id's memory (KiB) and passes. */
export interface PasswordCost {
  memoryCost: number
  timeCost: number
}

export interface LimitSettings {
  login: [number, number]
  register: [number, number]
  inviteLookup: [number, number]
}
/** Burst and refill per second for each limited action. */
export const DEFAULT_LIMITS: LimitSettings = {
  login: [10, 10 / 60],
  register: [10, 10 / 3600],
  inviteLookup: [30, 30 / 60],
}

export type Limits = { [K in keyof LimitSettings]: RateLimiter }
type LimiterRedis = { cmd: RedisCommands; prefix: string; failed(what: string, e: unknown): void }
/** A limiter, shared by the nodes of a cluster when given Redis (keys `<prefix>rl:<name>:<key>`). */
export const makeLimiter = (name: string, burst: number, rate: number, redis?: LimiterRedis): RateLimiter =>
  redis
    ? new SharedRateLimiter(burst, rate, redis.cmd, `${redis.prefix}rl:${name}:`, (e) => redis.failed('rate limit', e))
    : new RateLimiter(burst, rate)
export const makeLimits = (s: LimitSettings, redis?: LimiterRedis): Limits =>
  Object.fromEntries(Object.entries(s).map(([k, [burst, rate]]) => [k, makeLimiter(k, burst, rate, redis)])) as Limits
