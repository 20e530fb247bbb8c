import type { Database } from 'bun:sqlite'
import type { Config } from './config'
import type { Logger } from './lib/log'
import { RateLimiter } from './lib/ratelimit'
import type { Hub } from './realtime/hub'
import type { SettingsService } from './settings'
import type { AccountsService } from './accounts/service'
import type { InvitesService } from './invites/service'
import type { AuditFn, BackchannelApi, MediaApi, PushApi, RoomsApi } from './contracts'

/** Everything a domain needs, built once in app.ts and passed down. Domains add their services here. */
export interface Ctx {
  id: string
  config: Config
  db: Database
  log: Logger
  hub: Hub
  settings: SettingsService
  accounts: AccountsService
  invites: InvitesService
  /** The origin the app is reached at (PUBLIC_URL, or http://localhost:PORT once bound). */
  origin: () => string
  secure: boolean
  limits: Limits
  /** Functions run when the server stops (timers, peers, sockets). */
  cleanup: (() => void | Promise<void>)[]
  // The other domains (see contracts.ts); set in app.ts when built.
  rooms?: RoomsApi
  media?: MediaApi
  backchannel?: BackchannelApi
  push?: PushApi
  audit?: AuditFn
  setPort: (port: number) => void
}

export interface LimitSettings { login: [number, number]; register: [number, number]; inviteLookup: [number, number] }
/** Burst and refill per second for each limited action. */
export const DEFAULT_LIMITS: LimitSettings = { login: [10, 10 / 60], register: [10, 10 / 3600], inviteLookup: [30, 30 / 60] }

export type Limits = { [K in keyof LimitSettings]: RateLimiter }
export const makeLimits = (s: LimitSettings): Limits =>
  Object.fromEntries(Object.entries(s).map(([k, [burst, rate]]) => [k, new RateLimiter(burst, rate)])) as Limits
