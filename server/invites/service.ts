import type { AccountsApi, InviteTreeNode, InvitesApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { hashToken, newToken } from '../lib/crypto'
import type { Tx } from '../db/store'
import { inviteState, type InviteRow } from './model'
import type { InvitesStore } from './store'

export interface InviteView {
  id: number
  createdBy: string | null
  uses: number
  usesAllowed: number
  expiresAt: number | null
  revokedAt: number | null
  note: string
  createdAt: number
  state: ReturnType<typeof inviteState>
  usedBy: string[]
}

export class InvitesService implements InvitesApi {
  constructor(
    private core: Core,
    private accounts: AccountsApi,
    readonly store: InvitesStore,
  ) {}

  url(token: string) {
    return `${this.core.origin()}/invite/${token}`
  }

  /** Sign-up according to the registration mode; an invite is spent in the transaction that creates the account. */
  async register(input: { username: string; password: string; invite?: string; displayName?: string }) {
    const mode = this.core.settings.get().registration
    if (mode === 'closed') fail('registration_closed')
    if (mode === 'invite' && !input.invite) fail('invite_required')
    // In open mode an invite is still honoured, so the invite tree stays right.
    const token = input.invite
    return this.accounts.createMember(
      input,
      token
        ? async (tx) => {
            const inv = await this.redeem(token, tx)
            return { inviteId: inv.id, invitedBy: inv.creator_id }
          }
        : null,
    )
  }

  /** Creates an invite. Admins (and the CLI, creator null) are unlimited; members spend their quota. */
  async create(creatorId: number | null, opts: { uses?: number; expiresInMs?: number; note?: string }) {
    const creator = creatorId === null ? null : this.accounts.byId(creatorId)
    if (creatorId !== null && !creator) fail('not_found')
    const uses = opts.uses ?? 1
    const token = newToken()
    const id = await this.store.transaction(async (tx) => {
      // Spent only if enough is left when it writes (two at once, or on two nodes, cannot both take the last one).
      if (creator && creator.role !== 'admin' && !(await this.accounts.addInviteQuota(creator.id, -uses, tx))) {
        const left = this.accounts.byId(creator.id)?.inviteQuota ?? 0
        fail('invite_quota', `You have ${left} invite${left === 1 ? '' : 's'} left.`)
      }
      const expiresAt = opts.expiresInMs ? Date.now() + opts.expiresInMs : null
      const invite = { creatorId, tokenHash: hashToken(token), usesAllowed: uses, expiresAt, note: opts.note ?? '' }
      return this.store.insert(invite, tx)
    })
    return { id, token, url: this.url(token) }
  }

  /** What the register page shows about an invite link, or the reason it cannot be used. */
  async lookup(token: string) {
    const inv = await this.store.byHash(hashToken(token))
    if (!inv) fail('invite_invalid')
    this.assertUsable(inv)
    const by = inv.creator_id ? this.accounts.byId(inv.creator_id) : null
    return { invitedBy: by ? by.username : null, usesLeft: inv.uses_allowed - inv.uses, expiresAt: inv.expires_at }
  }

  /** Spends one use of an invite, inside the registration's transaction `tx`. */
  private async redeem(token: string, tx: Tx): Promise<InviteRow> {
    const inv = await this.store.byHash(hashToken(token), tx)
    if (!inv) fail('invite_invalid')
    this.assertUsable(inv)
    // The check above read the row; `use` spends only if a use is still left when it writes (another node's sign-up
    // may have taken the last one meanwhile).
    if (!(await this.store.use(inv.id, tx))) fail('invite_used_up')
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
  async list(viewerId: number, isAdmin: boolean): Promise<InviteView[]> {
    const rows = await this.store.list(isAdmin ? null : viewerId)
    const creators = this.accounts.usernames(
      new Set(rows.flatMap((r) => (r.creator_id === null ? [] : [r.creator_id]))),
    )
    const joined = await this.accounts.joinedWith(rows.map((r) => r.id))
    return rows.map((r) => ({
      id: r.id,
      createdBy: r.creator_id === null ? null : (creators.get(r.creator_id) ?? null),
      uses: r.uses,
      usesAllowed: r.uses_allowed,
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at,
      note: r.note,
      createdAt: r.created_at,
      state: inviteState(r),
      usedBy: joined.get(r.id) ?? [],
    }))
  }

  /** Revokes an invite (false if already revoked); a member may revoke their own and gets its unused uses back. */
  async revoke(id: number, by: { id: number; role: string }) {
    const inv = await this.store.byId(id)
    if (!inv || (by.role !== 'admin' && inv.creator_id !== by.id)) fail('not_found')
    if (inv.revoked_at) return false
    return this.store.transaction(async (tx) => {
      // Only the revoke that wrote gives the uses back, however many ran at once.
      if (!(await this.store.revoke(id, tx))) return false
      const fresh = (await this.store.byId(id, tx))!
      if (fresh.creator_id !== null) {
        const creator = this.accounts.byId(fresh.creator_id)
        if (creator && creator.role !== 'admin')
          await this.accounts.addInviteQuota(creator.id, Math.max(0, fresh.uses_allowed - fresh.uses), tx)
      }
      return true
    })
  }

  /** Members' invites that can still be used, with who made them. */
  async pending() {
    return (await this.store.pending(Date.now())).map((r) => ({ id: r.id, creatorId: r.creator_id }))
  }

  /** The whole invite tree: roots are the people nobody invited (the first admin, CLI invites). */
  tree(): InviteTreeNode[] {
    const accounts = this.accounts.all()
    const nodes = new Map<number, InviteTreeNode>()
    for (const a of accounts)
      nodes.set(a.id, {
        id: a.id,
        username: a.username,
        displayName: a.displayName,
        status: a.status,
        role: a.role,
        joinedAt: a.createdAt,
        children: [],
      })
    const roots: InviteTreeNode[] = []
    for (const a of accounts) {
      const parent = a.invitedBy !== null ? nodes.get(a.invitedBy) : undefined
      ;(parent ? parent.children : roots).push(nodes.get(a.id)!)
    }
    return roots
  }

  registrationMode() {
    return this.core.settings.get().registration
  }
}
