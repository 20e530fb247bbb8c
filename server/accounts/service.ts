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
import { publicOf, publicUser, toAccount } from './model'
import { AccountsStore } from './store'

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
const AVATAR_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' }
// A real argon2id hash to verify against when the username does not exist, so timing does not reveal it.
let dummyHash: string | null = null

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
  readonly store: AccountsStore
  /** `sessionsEnded` after a session or a member's sessions end, so the gateway can close their sockets. */
  readonly events: Emitter<AccountsEvents>
  private setupToken: string | null = null

  readonly data: AccountData

  constructor(private core: Core) {
    this.store = new AccountsStore(core.db)
    this.data = new AccountData(core.db)
    this.events = new Emitter('accounts', core.log)
  }

  /** Checks a member's own password (deleting the account asks for it): `wrong_password` if it does not match. */
  async checkPassword(userId: number, password: string) {
    const user = this.store.byId(userId)
    if (!user || !(await Bun.password.verify(password, user.password_hash))) fail('wrong_password')
  }

  /** Erases the account (see member-data.ts), removes its avatar file and ends its sessions (sockets close). */
  async erase(userId: number) {
    const avatar = await this.data.erase(userId)
    if (avatar) this.removeAvatarFile(avatar)
    this.events.emit('sessionsEnded', { userId })
  }

  hashPassword(pw: string) {
    return Bun.password.hash(pw, { algorithm: 'argon2id' })
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
    // Hashed before the transaction: nothing slow inside one. The accounts' statements (still synchronous, on the
    // same connection) run inside it too.
    const id = await this.core.gate.transaction(async (tx) => {
      if (this.store.byName(input.username)) fail('username_taken')
      const invite = redeem ? await redeem(tx) : null
      inviter = invite?.invitedBy ?? null
      const id = this.store.insertUser({
        username: input.username,
        displayName: (input.displayName ?? '').trim(),
        passwordHash: hash,
        role,
        invitedBy: invite?.invitedBy ?? null,
        inviteId: invite?.inviteId ?? null,
        quota: role === 'admin' ? 0 : this.core.settings.get().inviteQuota,
      })
      // A new member follows whoever invited them (the inviter is told: the `followed` event).
      if (inviter !== null && this.store.byId(inviter)?.status === 'active') this.store.follow(id, inviter)
      else inviter = null
      return id
    })
    if (inviter !== null) this.events.emit('followed', { followerId: id, followeeId: inviter, invited: true })
    return id
  }

  needsSetup() {
    return this.store.adminCount() === 0
  }

  /** The one-time first-run token (printed by `serve` while there is no admin). */
  setupTokenFor(): string | null {
    if (!this.needsSetup()) return (this.setupToken = null)
    return (this.setupToken ??= newToken(24))
  }

  setupTokenValid(token: string) {
    return this.needsSetup() && !!this.setupToken && safeEqual(token, this.setupToken)
  }

  async setup(token: string, username: string, password: string) {
    if (!this.needsSetup()) fail('setup_done')
    if (!this.setupTokenValid(token)) fail('setup_token_invalid')
    const id = await this.createAdmin(username, password)
    this.setupToken = null
    return id
  }

  async createAdmin(username: string, password: string) {
    return this.insertUser({ username, password }, 'admin', null)
  }

  async login(username: string, password: string, userAgent: string) {
    const user = this.store.byName(username)
    if (!user) {
      dummyHash ??= await this.hashPassword('not-a-real-password')
      await Bun.password.verify(password, dummyHash)
      fail('bad_credentials')
    }
    if (!(await Bun.password.verify(password, user.password_hash))) fail('bad_credentials')
    if (user.status === 'banned') fail('account_banned')
    if (user.status !== 'active') fail('account_suspended')
    return { ...this.startSession(user.id, userAgent), user: toAccount(user) }
  }

  startSession(userId: number, userAgent: string) {
    const token = newToken()
    const expires = Date.now() + this.core.config.sessionDays * 86_400_000
    const sessionId = this.store.insertSession(userId, hashToken(token), userAgent.slice(0, 200), expires)
    return { token, sessionId, expires }
  }

  /** The session and member a token belongs to, if it is valid and the member is active. */
  resolve(token: string | undefined): Viewer | null {
    if (!token || token.length > 100) return null
    const session = this.store.sessionByHash(hashToken(token))
    if (!session) return null
    if (session.expires_at <= Date.now()) {
      this.store.deleteSession(session.id)
      return null
    }
    const user = this.store.byId(session.user_id)
    if (user?.status !== 'active') return null
    if (Date.now() - session.last_seen_at > 60_000) this.store.touchSession(session.id)
    return { session: { id: session.id }, user: toAccount(user) }
  }

  logout(sessionId: number, userId: number) {
    this.store.deleteSession(sessionId)
    this.events.emit('sessionsEnded', { userId, sessionId })
  }

  logoutEverywhere(userId: number, reason?: EndReason) {
    this.store.deleteUserSessions(userId)
    this.events.emit('sessionsEnded', reason ? { userId, reason } : { userId })
  }

  async changePassword(userId: number, sessionId: number, current: string, next: string) {
    const user = this.store.byId(userId)!
    if (!(await Bun.password.verify(current, user.password_hash))) fail('wrong_password')
    this.store.setPassword(userId, await this.hashPassword(next))
    this.store.deleteOtherSessions(userId, sessionId)
    this.events.emit('sessionsEnded', { userId, exceptSession: sessionId })
  }

  /** Sets a new password from an admin's reset link; all sessions end. */
  async resetPassword(userId: number, next: string) {
    this.store.setPassword(userId, await this.hashPassword(next))
    this.logoutEverywhere(userId)
  }

  /** A member's own view of their account. */
  me(a: Account): OwnAccount {
    return { ...publicOf(a), bio: a.bio, inviteQuota: a.inviteQuota, status: a.status, createdAt: a.createdAt }
  }

  /** The account of a known id (a signed-in member's). */
  account(userId: number) {
    return toAccount(this.store.byId(userId)!)
  }

  /** A profile as a viewer sees it; someone who blocked the viewer is not found. */
  profile(viewerId: number | null, username: string): Profile {
    const u = this.store.byName(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (viewerId && viewerId !== u.id && this.store.hasBlocked(u.id, viewerId)) fail('not_found')
    const by = u.invited_by ? this.store.byId(u.invited_by) : null
    const counts = this.store.counts(u.id)
    return {
      ...publicUser(u),
      bio: u.bio,
      createdAt: u.created_at,
      invitedBy: by?.username ?? null,
      ...counts,
      isFollowing: viewerId ? this.store.isFollowing(viewerId, u.id) : false,
      followsYou: viewerId ? this.store.isFollowing(u.id, viewerId) : false,
      blocked: viewerId ? this.store.hasBlocked(viewerId, u.id) : false,
      isSelf: viewerId === u.id,
    }
  }

  updateProfile(userId: number, patch: { displayName?: string; bio?: string }) {
    const user = this.store.byId(userId)!
    this.store.setProfile(user.id, (patch.displayName ?? user.display_name).trim(), (patch.bio ?? user.bio).trim())
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
    // The previous file is read after the upload, so two uploads at once each remove only what they replaced.
    const user = this.store.byId(userId)!
    this.store.setAvatar(userId, name)
    if (user.avatar) this.removeAvatarFile(user.avatar)
    return this.me(this.account(userId))
  }

  clearAvatar(userId: number) {
    const user = this.store.byId(userId)!
    this.store.setAvatar(user.id, null)
    if (user.avatar) this.removeAvatarFile(user.avatar)
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
  search(viewerId: number, q: string, limit = 20) {
    const following = this.store.followingIds(viewerId)
    const name = (u: { displayName: string; username: string }) => (u.displayName || u.username).toLowerCase()
    return this.store
      .search(q.trim(), SEARCH_POOL)
      .filter((u) => u.id === viewerId || !this.store.hasBlocked(u.id, viewerId))
      .map((u) => ({ ...publicUser(u), isFollowing: following.has(u.id) }))
      .sort((a, b) => Number(b.isFollowing) - Number(a.isFollowing) || name(a).localeCompare(name(b)))
      .slice(0, limit)
  }

  target(viewerId: number, username: string) {
    const u = this.store.byName(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (u.id === viewerId) fail('self_target')
    return u
  }

  follow(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    // Someone who blocked the viewer is not found for them (as with their profile);
    // one the viewer blocked is 'blocked'.
    if (this.store.hasBlocked(u.id, viewerId)) fail('not_found')
    if (this.store.hasBlocked(viewerId, u.id)) fail('unblock_first')
    if (this.store.follow(viewerId, u.id)) this.events.emit('followed', { followerId: viewerId, followeeId: u.id })
    return u
  }
  unfollow(viewerId: number, username: string) {
    this.store.unfollow(viewerId, this.target(viewerId, username).id)
  }
  /** Blocking also removes follows both ways. */
  block(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    this.store.db.transaction(() => {
      this.store.block(viewerId, u.id)
      this.store.unfollow(viewerId, u.id)
      this.store.unfollow(u.id, viewerId)
    })()
    return u
  }
  unblock(viewerId: number, username: string) {
    this.store.unblock(viewerId, this.target(viewerId, username).id)
  }
  blockedEither(a: number, b: number) {
    return this.store.blockedEither(a, b)
  }
  isFollowing(a: number, b: number) {
    return this.store.isFollowing(a, b)
  }
}
