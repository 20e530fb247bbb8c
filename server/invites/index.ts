// The invites domain: invite links, members' quotas, sign-up (it spends an invite in the transaction that creates the
// account, through AccountsApi.createMember), the invite tree and the registration mode. Built on accounts.
import type { AccountsApi, AuditFn, InvitesApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { invitesRoutes } from './routes'
import { InvitesService } from './service'

export interface InvitesDomain extends Domain<InvitesApi> {
  readonly service: InvitesService
  readonly routes: ReturnType<typeof invitesRoutes>
}

export function createInvites(deps: { core: Core; accounts: AccountsApi; audit: AuditFn }): InvitesDomain {
  const service = new InvitesService(deps.core, deps.accounts)
  return { api: service, service, routes: invitesRoutes(deps, service) }
}
