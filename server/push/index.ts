// The push domain: VAPID keys, members' devices and settings, and sending (PushApi.notify). Built on accounts, before
// the domains that notify. start(): the VAPID keys and who has a device, from the store. The scheduled rooms'
// reminders (reminders.ts) are built after the rooms they read.
import type { AccountsApi, PushApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { Reminders, type ReminderRooms } from './reminders'
import { pushRoutes } from './routes'
import { PushService } from './service'
import { byDialect } from '../db/conn'
import { type PushStore, SqlitePushStore } from './store'
import { PgPushStore } from './store-pg'

export interface PushDomain extends Domain<PushApi> {
  readonly service: PushService
  readonly routes: ReturnType<typeof pushRoutes>
}

export function createPush(deps: { core: Core; accounts: AccountsApi }): PushDomain {
  const service = new PushService(
    deps.core,
    deps.accounts,
    byDialect<PushStore>(
      deps.core.conn,
      (g) => new SqlitePushStore(g),
      (c) => new PgPushStore(c),
    ),
  )
  return { api: service, service, routes: pushRoutes(deps, service), start: () => service.start() }
}

export interface RemindersDomain extends Domain<null> {
  readonly service: Reminders
}

/** The scheduled rooms' reminders: a part of push built after the rooms it reads (RoomsApi). */
export function createReminders(deps: {
  core: Core
  accounts: AccountsApi
  push: PushDomain
  rooms: ReminderRooms
}): RemindersDomain {
  const service = new Reminders({ ...deps, push: deps.push.api, store: deps.push.service.store })
  return { api: null, service, start: () => service.start(), stop: () => service.stop() }
}
