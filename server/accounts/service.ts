import { mkdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Account, AccountsEvents, EndReason, OwnAccount, Viewer } from '../contracts'
import type { Core } from '../core'
import type { Tx } from '../db/store'
import { fail } from '../errors'
import { cleanImage } from '../http/upload'
import { AccountData } from './member-data'
import { hashToken, newToken, safeEqual } from '../lib/crypto'
import { Emitter } from '../lib/events'
import type { PublicUser } from '../protocol'
import { Directory, type DirectoryChange, type DirectoryLink } from './directory'
import { publicOf, publicUser, toAccount, type AccountRow } from './model'
import type { AccountsStore } from './store'

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
const AVATAR_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' }

export interface Profile extends PublicUser {
  bio: string
  createdAt: number
  invitedBy: string | null
  followers: number
  following: number
  isFollowing: boolean
  followsYou: boolean
  blocked: boolean
  isSelf: boolean
}

/** How many matches a people search orders before it keeps the first page. */
const SEARCH_POOL = 500

export class AccountsService {
  /** The node's copy of every account, follow and block: the synchronous reads (directory.ts). */
  readonly directory: Directory
  /** `sessionsEnded` after a session or a member's sessions end, so the gateway can close their sockets. */
  readonly events: Emitter<AccountsEvents>
  readonly data: AccountData

  constructor(
    private core: Core,
    readonly store: AccountsStore,
    private link: DirectoryLink | null = null,
  ) {
    this.directory = new Directory(store)
    this.data = new AccountData(store)
    this.events = new Emitter('accounts', core.log)
  }

  /** Loads the directory and follows the other nodes' changes (the accounts' start). */
  async start() {
    await this.directory.load()
    await this.link?.start(
      (c) => {
        this.directory.apply(c).catch((error: unknown) => {
          this.core.log.error('accounts: unable to apply a change from another node', { change: c, error })
        })
      },
      () => {
        this.directory.load().catch((error: unknown) => {
          this.core.log.error('accounts: unable to reload the directory', { error })
        })
      },
    )
  }

  /**
   * After a write commits (at once without `tx`, else when `tx` commits): the directory reloads what changed from the
   * store, then the other nodes are told to do the same.
   */
  private async changed(change: DirectoryChange, tx?: Tx) {
    const apply = async () => {
      await this.directory.apply(change)
      this.link?.publish(change)
    }
    if (tx) tx.afterCommit(apply)
    else await apply()
  }

  /** Checks a member's own password (deleting the account asks for it): `wrong_password` if it does not match. */
  async checkPassword(userId: number, password: string) {
    const user = await this.store.byId(userId)
    if (!user || !(await Bun.password.verify(password, user.password_hash))) fail('wrong_password')
  }

  /** Erases the account (see member-data.ts), removes its avatar file and ends its sessions (sockets close). */
  async erase(userId: number) {
    const avatar = await this.data.erase(userId)
    await this.changed({ user: userId, edges: true })
    if (avatar) this.removeAvatarFile(avatar)
    this.events.emit('sessionsEnded', { userId })
  }

  /** A real argon2id hash to verify against when the username does not exist, so timing does not reveal it. */
  private dummyHash: string | null = null

  hashPassword(pw: string) {
    return Bun.password.hash(pw, { algorithm: 'argon2id', ...this.core.passwordCost })
  }

  /**
   * Creates a user (no checks of who may sign up: the invites domain's register and createAdmin decide): the password
   * is hashed, then one transaction checks the name, runs `redeem` (spends an invite, or throws) and writes the row.
   */
  async insertUser(
    input: { username: string; password: string; displayName?: string },
    role: 'member' | 'admin',
    redeem: ((tx: Tx) => Promise<{ inviteId: number; invitedBy: number | null } | null>) | null,
  ) {
    const hash = await this.hashPassword(input.password)
    let inviter: number | null = null
    // Hashed before the transaction: nothing slow inside one.
    const id = await this.store.transaction(async (tx) => {
      // Checked first so that a taken name says so before the invite is looked at; the insert checks again (a
      // sign-up with the same name on another node at once).
      if (await this.store.byName(input.username, tx)) fail('username_taken')
      const invite = redeem ? await redeem(tx) : null
      const id = await this.store.insertUser(
        {
          username: input.username,
          displayName: (input.displayName ?? '').trim(),
          passwordHash: hash,
          role,
          invitedBy: invite?.invitedBy ?? null,
          inviteId: invite?.inviteId ?? null,
          quota: role === 'admin' ? 0 : this.core.settings.get().inviteQuota,
        },
        tx,
      )
      if (id === null) fail('username_taken')
      // A new member follows whoever invited them (the inviter is told: the `followed` event).
      inviter = invite?.invitedBy ?? null
      if (inviter !== null && (await this.store.byId(inviter, tx))?.status === 'active') {
        await this.store.follow(id, inviter, tx)
        await this.changed({ pair: [id, inviter] }, tx)
      } else inviter = null
      await this.changed({ user: id }, tx)
      return id
    })
    if (inviter !== null) this.events.emit('followed', { followerId: id, followeeId: inviter, invited: true })
    return id
  }

  /** No admin yet: asked of the store (the CLI's `admin create` may have made one while the server runs). */
  async needsSetup() {
    return (await this.store.adminCount()) === 0
  }

  /** The one-time first-run token (printed by `serve`, after the start, while there is no admin). It is kept in the
   * database, so every node of a cluster prints the same one and accepts it (A35): the first node to ask stores it. */
  async setupTokenFor(): Promise<string | null> {
    if (!(await this.needsSetup())) return null
    return this.store.setupToken(newToken(24), Date.now())
  }

  async setupTokenValid(token: string) {
    if (!(await this.needsSetup())) return false
    const stored = await this.store.storedSetupToken()
    return stored !== null && safeEqual(token, stored)
  }

  async setup(token: string, username: string, password: string) {
    if (!(await this.needsSetup())) fail('setup_done')
    if (!(await this.setupTokenValid(token))) fail('setup_token_invalid')
    // Checked again inside the transaction that writes the admin: the token is deleted there, so of two setups at once
    // (on one node or on two) only the one that deleted it makes an admin.
    return this.insertUser({ username, password }, 'admin', async (tx) => {
      if ((await this.store.adminCount(tx)) > 0) fail('setup_done')
      if (!(await this.store.takeSetupToken(token, tx))) fail('setup_done')
      return null
    })
  }

  async createAdmin(username: string, password: string) {
    return this.insertUser({ username, password }, 'admin', null)
  }

  async login(username: string, password: string, userAgent: string) {
    const user = await this.store.byName(username)
    if (!user) {
      this.dummyHash ??= await this.hashPassword('not-a-real-password')
      await Bun.password.verify(password, this.dummyHash)
      fail('bad_credentials')
    }
    if (!(await Bun.password.verify(password, user.password_hash))) fail('bad_credentials')
    if (user.status === 'banned') fail('account_banned')
    if (user.status !== 'active') fail('account_suspended')
    // The directory takes the row as read now: an account made by the CLI while the server runs is known from here.
    await this.directory.reloadUser(user.id)
    return { ...(await this.startSession(user.id, userAgent)), user: toAccount(user) }
  }

  async startSession(userId: number, userAgent: string) {
    const token = newToken()
    const expires = Date.now() + this.core.config.sessionDays * 86_400_000
    const sessionId = await this.store.insertSession(userId, hashToken(token), userAgent.slice(0, 200), expires)
    return { token, sessionId, expires }
  }

  /** The session and member a token belongs to, if it is valid and the member is active. */
  async resolve(token: string | undefined): Promise<Viewer | null> {
    if (!token || token.length > 100) return null
    const session = await this.store.sessionByHash(hashToken(token))
    if (!session) return null
    if (session.expires_at <= Date.now()) {
      await this.store.deleteSession(session.id)
      return null
    }
    let user = this.directory.account(session.user_id)
    if (!user) {
      // Not known here yet (made on another node or by the CLI a moment ago): read it once.
      await this.directory.reloadUser(session.user_id)
      user = this.directory.account(session.user_id)
    }
    if (user?.status !== 'active') return null
    if (Date.now() - session.last_seen_at > 60_000) await this.store.touchSession(session.id)
    return { session: { id: session.id }, user }
  }

  async logout(sessionId: number, userId: number) {
    await this.store.deleteSession(sessionId)
    this.events.emit('sessionsEnded', { userId, sessionId })
  }

  async logoutEverywhere(userId: number, reason?: EndReason) {
    await this.store.deleteUserSessions(userId)
    this.events.emit('sessionsEnded', reason ? { userId, reason } : { userId })
  }

  async changePassword(userId: number, sessionId: number, current: string, next: string) {
    const user = (await this.store.byId(userId))!
    if (!(await Bun.password.verify(current, user.password_hash))) fail('wrong_password')
    await this.store.setPassword(userId, await this.hashPassword(next))
    await this.store.deleteUserSessions(userId, sessionId)
    this.events.emit('sessionsEnded', { userId, exceptSession: sessionId })
  }

  /** Sets a new password from an admin's reset link; all sessions end. */
  async resetPassword(userId: number, next: string) {
    await this.store.setPassword(userId, await this.hashPassword(next))
    await this.logoutEverywhere(userId)
  }

  /** A member's own view of their account. */
  me(a: Account): OwnAccount {
    return { ...publicOf(a), bio: a.bio, inviteQuota: a.inviteQuota, status: a.status, createdAt: a.createdAt }
  }

  /** The account of a known id (a signed-in member's). */
  account(userId: number) {
    return this.directory.account(userId)!
  }

  /** A profile as a viewer sees it; someone who blocked the viewer is not found. */
  profile(viewerId: number | null, username: string): Profile {
    const d = this.directory
    const u = d.named(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (viewerId && viewerId !== u.id && d.hasBlocked(u.id, viewerId)) fail('not_found')
    const by = u.invitedBy ? d.account(u.invitedBy) : null
    return {
      ...publicOf(u),
      bio: u.bio,
      createdAt: u.createdAt,
      invitedBy: by?.username ?? null,
      ...d.followCounts(u.id),
      isFollowing: viewerId ? d.isFollowing(viewerId, u.id) : false,
      followsYou: viewerId ? d.isFollowing(u.id, viewerId) : false,
      blocked: viewerId ? d.hasBlocked(viewerId, u.id) : false,
      isSelf: viewerId === u.id,
    }
  }

  async updateProfile(userId: number, patch: { displayName?: string; bio?: string }) {
    const user = (await this.store.byId(userId))!
    await this.store.setProfile(
      user.id,
      (patch.displayName ?? user.display_name).trim(),
      (patch.bio ?? user.bio).trim(),
    )
    await this.changed({ user: userId })
    return this.me(this.account(user.id))
  }

  /** Stores an avatar after checking its bytes (not its name) are PNG, JPEG or WebP. */
  async setAvatar(userId: number, bytes: Uint8Array) {
    if (bytes.byteLength > AVATAR_MAX_BYTES) fail('payload_too_large', 'An avatar may be at most 2 MB.')
    const type = await cleanImage(bytes, AVATAR_TYPES, 'An avatar must be a PNG, JPEG or WebP image.')
    const dir = join(this.core.config.dataDir, 'uploads', 'avatars')
    mkdirSync(dir, { recursive: true })
    const name = `${userId}-${newToken(9)}.${type.ext}`
    await Bun.write(join(dir, name), type.bytes)
    // The previous file is read after the upload, in the transaction that replaces it, so two uploads at once each
    // remove only what they replaced.
    const previous = await this.replaceAvatar(userId, name)
    if (previous) this.removeAvatarFile(previous)
    return this.me(this.account(userId))
  }

  async clearAvatar(userId: number) {
    const previous = await this.replaceAvatar(userId, null)
    if (previous) this.removeAvatarFile(previous)
  }

  private async replaceAvatar(userId: number, file: string | null) {
    return this.store.transaction(async (tx) => {
      const previous = (await this.store.byId(userId, tx))?.avatar ?? null
      await this.store.setAvatar(userId, file, tx)
      await this.changed({ user: userId }, tx)
      return previous
    })
  }

  avatarPath(name: string) {
    if (!/^\d+-[A-Za-z0-9_-]+\.(png|jpg|webp)$/.test(name)) return null
    return join(this.core.config.dataDir, 'uploads', 'avatars', name)
  }

  private removeAvatarFile(name: string) {
    const p = this.avatarPath(name)
    try {
      if (p) unlinkSync(p)
    } catch {
      /* already gone: nothing to free */
    }
  }

  /** People by name: those I follow first, then by name (display name, else username), ignoring case. */
  async search(viewerId: number, q: string, limit = 20) {
    const d = this.directory
    const name = (u: { displayName: string; username: string }) => (u.displayName || u.username).toLowerCase()
    return (await this.store.search(q.trim(), SEARCH_POOL))
      .filter((u) => u.id === viewerId || !d.hasBlocked(u.id, viewerId))
      .map((u) => ({ ...publicUser(u), isFollowing: d.isFollowing(viewerId, u.id) }))
      .sort((a, b) => Number(b.isFollowing) - Number(a.isFollowing) || name(a).localeCompare(name(b)))
      .slice(0, limit)
  }

  /** A list of the profile's (followers, following) as the viewer may see it: not banned, not blocking them (A5). */
  visibleTo(viewerId: number, rows: AccountRow[]) {
    return rows
      .filter((u) => u.status !== 'banned' && !this.directory.hasBlocked(u.id, viewerId))
      .map((u) => publicUser(u))
  }

  target(viewerId: number, username: string) {
    const u = this.directory.named(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (u.id === viewerId) fail('self_target')
    return u
  }

  async follow(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    // Someone who blocked the viewer is not found for them (as with their profile);
    // one the viewer blocked is 'blocked'.
    if (this.directory.hasBlocked(u.id, viewerId)) fail('not_found')
    if (this.directory.hasBlocked(viewerId, u.id)) fail('unblock_first')
    // Only the call that wrote the row tells (two at once, or on two nodes: one event).
    const added = await this.store.follow(viewerId, u.id)
    await this.changed({ pair: [viewerId, u.id] })
    if (added) this.events.emit('followed', { followerId: viewerId, followeeId: u.id })
    return u
  }
  async unfollow(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    await this.store.unfollow(viewerId, u.id)
    await this.changed({ pair: [viewerId, u.id] })
  }
  /** Blocking also removes follows both ways. */
  async block(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    await this.store.transaction(async (tx) => {
      await this.store.block(viewerId, u.id, tx)
      await this.store.unfollow(viewerId, u.id, tx)
      await this.store.unfollow(u.id, viewerId, tx)
      await this.changed({ pair: [viewerId, u.id] }, tx)
    })
    return u
  }
  async unblock(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    await this.store.unblock(viewerId, u.id)
    await this.changed({ pair: [viewerId, u.id] })
  }

  // ---- the admin's levers and the invites' quota: written, then the directory reloads the account

  async setStatus(userId: number, status: Account['status']) {
    await this.store.setStatus(userId, status)
    await this.changed({ user: userId })
  }
  async setRole(userId: number, role: Account['role']) {
    await this.store.setRole(userId, role)
    await this.changed({ user: userId })
  }
  async addInviteQuota(userId: number, delta: number, tx?: Tx) {
    const done = await this.store.addQuota(userId, delta, tx)
    if (done) await this.changed({ user: userId }, tx)
    return done
  }
}
