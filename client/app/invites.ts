// Invites over HTTP (server/invites/routes.ts): checking an invite link, the registration mode, and my invites
// (admins: every invite). Each function returns what its route returns.
import { del, get, post } from './api'
// The wire shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { InviteView } from '../../server/invites/service'
import type { Settings } from '../../server/settings'

export type { InviteView }
/** Who sent a usable invite link, how many uses it has left and until when. */
export interface InviteCheck {
  invitedBy: string | null
  usesLeft: number
  expiresAt: number | null
}
interface Registration {
  mode: Settings['registration']
  setupNeeded: boolean
}
/** My invites (admins: all) and how many I may still create (null for an admin: no limit). */
interface MyInvites {
  invites: InviteView[]
  quota: number | null
}
/** A new invite: its view (absent if it could not be listed), its link and its token. */
interface CreatedInvite {
  invite?: InviteView
  url: string
  token: string
}

export const checkInvite = (token: string) =>
  get<{ invite: InviteCheck }>(`/invites/${encodeURIComponent(token)}/check`).then((r) => r.invite)
/** Who may sign up (invite, open, closed), and whether the first-run setup is still open. */
export const registration = () => get<Registration>('/registration')
export const myInvites = () => get<MyInvites>('/invites')
export const createInvite = (opts: { uses?: number; expiresInHours?: number; note?: string }) =>
  post<CreatedInvite>('/invites', opts)
/** Revokes an invite; false when it was already revoked. */
export const revokeInvite = (id: number) => del<{ revoked: boolean }>(`/invites/${id}`).then((r) => r.revoked)
