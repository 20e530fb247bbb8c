// The invites domain: invite links, members' quotas, sign-up (it spends an invite in the transaction that creates the
// account, through AccountsApi.createMember), the invite tree and the registration mode. Built on accounts.
import type { AccountsApi, AuditFn, InvitesApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { invitesRoutes } from './routes'
import { byDialect } from '../db/conn'
import { InvitesService } from './service'
import { type InvitesStore, SqliteInvitesStore } from './store'
import { PgInvitesStore } from './store-pg'

export interface InvitesDomain extends Domain<InvitesApi> {
  readonly service: InvitesService
  readonly routes: ReturnType<typeof invitesRoutes>
}

export function createInvites(deps: { core: Core; accounts: AccountsApi; audit: AuditFn }): InvitesDomain {
  const service = new InvitesService(
    deps.core,
    deps.accounts,
    byDialect<InvitesStore>(
      deps.core.conn,
      (g) => new SqliteInvitesStore(g),
      (c) => new PgInvitesStore(c),
    ),
  )
  return { api: service, service, routes: invitesRoutes(deps, service) }
}
