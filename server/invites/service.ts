import { fail } from '../errors'
import { hashToken, newToken } from '../lib/crypto'
import type { SettingsService } from '../settings'
import type { AccountsStore } from '../accounts/store'
import { inviteState, type InviteRow } from './model'
import { InvitesStore, type TreeRow } from './store'

export interface InviteView {
  id: number; createdBy: string | null; uses: number; usesAllowed: number; expiresAt: number | null
  revokedAt: number | null; note: string; createdAt: number; state: ReturnType<typeof inviteState>; usedBy: string[]
}
export interface TreeNode { id: number; username: string; displayName: string; status: string; role: string; joinedAt: number; children: TreeNode[] }

const view = (r: InviteRow & { creator_username: string | null; used_by: string | null }): InviteView => ({
  id: r.id, createdBy: r.creator_username, uses: r.uses, usesAllowed: r.uses_allowed, expiresAt: r.expires_at,
  revokedAt: r.revoked_at, note: r.note, createdAt: r.created_at, state: inviteState(r), usedBy: r.used_by ? r.used_by.split(', ') : [],
})

export class InvitesService {
  readonly store: InvitesStore
  constructor(private accounts: AccountsStore, private settings: SettingsService, private origin: () => string) {
    this.store = new InvitesStore(accounts.db)
  }

  url(token: string) { return `${this.origin()}/invite/${token}` }

  /** Creates an invite. Admins (and the CLI, creator null) are unlimited; members spend their quota. */
  create(creatorId: number | null, opts: { uses?: number; expiresInMs?: number; note?: string }) {
    const creator = creatorId === null ? null : this.accounts.byId(creatorId)
    if (creatorId !== null && !creator) fail('not_found')
    const uses = opts.uses ?? 1
    const token = newToken()
    const id = this.accounts.db.transaction(() => {
      if (creator && creator.role !== 'admin') {
        const fresh = this.accounts.byId(creator.id)!
        if (fresh.invite_quota < uses) fail('invite_quota', `You have ${fresh.invite_quota} invite${fresh.invite_quota === 1 ? '' : 's'} left.`)
        this.store.addQuota(creator.id, -uses)
      }
      const expiresAt = opts.expiresInMs ? Date.now() + opts.expiresInMs : null
      return this.store.insert(creatorId, hashToken(token), uses, expiresAt, opts.note ?? '')
    })()
    return { id, token, url: this.url(token) }
  }

  /** What the register page shows about an invite link, or the reason it cannot be used. */
  lookup(token: string) {
    const inv = this.store.byHash(hashToken(token))
    if (!inv) fail('invite_invalid')
    this.assertUsable(inv)
    const by = inv.creator_id ? this.accounts.byId(inv.creator_id) : null
    return { invitedBy: by ? by.username : null, usesLeft: inv.uses_allowed - inv.uses, expiresAt: inv.expires_at }
  }

  /** Spends one use of an invite (call inside the registration's transaction). */
  redeem(token: string): InviteRow {
    const inv = this.store.byHash(hashToken(token))
    if (!inv) fail('invite_invalid')
    this.assertUsable(inv)
    this.store.use(inv.id)
    return inv
  }

  private assertUsable(inv: InviteRow) {
    const state = inviteState(inv)
    if (state === 'revoked') fail('invite_revoked')
    // A suspended or banned member's invites stop working at once (and work again if they are restored).
    if (inv.creator_id !== null && this.accounts.byId(inv.creator_id)?.status !== 'active') fail('invite_revoked')
    if (state === 'used_up') fail('invite_used_up')
    if (state === 'expired') fail('invite_expired')
  }

  /** Admins see every invite; members see their own. */
  list(viewerId: number, isAdmin: boolean): InviteView[] {
    return this.store.list(isAdmin ? null : viewerId).map(view)
  }

  /** Revokes an invite; a member may revoke their own and gets its unused uses back. Returns false if it was already revoked. */
  revoke(id: number, by: { id: number; role: string }) {
    const inv = this.store.byId(id)
    if (!inv || (by.role !== 'admin' && inv.creator_id !== by.id)) fail('not_found')
    if (inv.revoked_at) return false
    this.accounts.db.transaction(() => {
      this.store.revoke(id)
      if (inv.creator_id !== null) {
        const creator = this.accounts.byId(inv.creator_id)
        if (creator && creator.role !== 'admin') this.store.addQuota(creator.id, Math.max(0, inv.uses_allowed - inv.uses))
      }
    })()
    return true
  }

  /** Members' invites that can still be used, with who made them. */
  pending() { return this.store.pending() }

  /** The whole invite tree: roots are the people nobody invited (the first admin, CLI invites). */
  tree(): TreeNode[] {
    const rows = this.store.tree()
    const nodes = new Map<number, TreeNode>()
    for (const r of rows) nodes.set(r.id, { id: r.id, username: r.username, displayName: r.display_name || r.username, status: r.status, role: r.role, joinedAt: r.created_at, children: [] })
    const roots: TreeNode[] = []
    for (const r of rows as TreeRow[]) {
      const parent = r.invited_by !== null ? nodes.get(r.invited_by) : undefined
      ;(parent ? parent.children : roots).push(nodes.get(r.id)!)
    }
    return roots
  }

  registrationMode() { return this.settings.get().registration }
}
