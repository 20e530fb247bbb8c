// transitional: removed when media takes its deps
// The context media is still built with: the core's parts under their old names, and the contracts of the domains
// built before it. app.ts builds it once, after the rooms; no field is optional and none is assigned after construction.
import type { Database } from 'bun:sqlite'
import type { Config } from './config'
import type { Core } from './core'
import type { Logger } from './lib/log'
import type { Hub } from './realtime/hub'
import type { SettingsService } from './settings'
import type { AccountsService } from './accounts/service'
import type { AuditFn, PushApi, RoomsApi } from './contracts'

export interface Ctx {
  readonly core: Core
  readonly config: Config
  readonly db: Database
  readonly log: Logger
  readonly hub: Hub
  readonly settings: SettingsService
  /** The service itself (its store, its target()) until media switches to AccountsApi. */
  readonly accounts: AccountsService
  readonly origin: () => string
  readonly push: PushApi
  readonly audit: AuditFn
  /** Functions run when the server stops (timers, peers, sockets), in reverse order. */
  readonly cleanup: (() => void | Promise<void>)[]
}

/** What media is built with: the context and the rooms' api (RoomsDomain.api). */
export interface RoomsCtx extends Ctx { readonly rooms: RoomsApi }
