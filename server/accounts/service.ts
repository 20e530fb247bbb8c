import { mkdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { fail } from '../errors'
import { sniffImage } from '../http/upload'
import { hashToken, newToken, safeEqual } from '../lib/crypto'
import type { InvitesService } from '../invites/service'
import type { SettingsService } from '../settings'
import type { PublicUser } from '../protocol'
import { publicUser, type UserRow } from './model'
import { AccountsStore, type SessionRow } from './store'

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
const AVATAR_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' }
// A real argon2id hash to verify against when the username does not exist, so timing does not reveal it.
let dummyHash: string | null = null

export interface Session { session: SessionRow; user: UserRow }
export interface Profile extends PublicUser {
  bio: string; createdAt: number; invitedBy: string | null; followers: number; following: number
  isFollowing: boolean; followsYou: boolean; blocked: boolean; isSelf: boolean
}

export class AccountsService {
  readonly store: AccountsStore
  invites!: InvitesService
  private setupToken: string | null = null
  /** Called after a session or a user's sessions end, so the gateway can close their sockets. */
  onSessionsEnded: (e: { userId: number; sessionId?: number; exceptSession?: number }) => void = () => {}

  constructor(db: AccountsStore['db'], private settings: SettingsService, private opts: { dataDir: string; sessionDays: number }) {
    this.store = new AccountsStore(db)
  }

  hashPassword(pw: string) { return Bun.password.hash(pw, { algorithm: 'argon2id' }) }

  /** Creates a user (no checks of who may sign up: see register and createAdmin). */
  private async insertUser(username: string, password: string, role: 'member' | 'admin', inviteToken: string | null, displayName = '') {
    const hash = await this.hashPassword(password)
    return this.store.db.transaction(() => {
      if (this.store.byName(username)) fail('username_taken')
      const invite = inviteToken ? this.invites.redeem(inviteToken) : null
      return this.store.insertUser({
        username, displayName: displayName.trim(), passwordHash: hash, role,
        invitedBy: invite?.creator_id ?? null, inviteId: invite?.id ?? null,
        quota: role === 'admin' ? 0 : this.settings.get().inviteQuota,
      })
    })()
  }

  /** Sign-up according to the registration mode. */
  async register(input: { username: string; password: string; invite?: string; displayName?: string }) {
    const mode = this.settings.get().registration
    if (mode === 'closed') fail('registration_closed')
    if (mode === 'invite' && !input.invite) fail('invite_required')
    // In open mode an invite is still honoured, so the invite tree stays right.
    return this.insertUser(input.username, input.password, 'member', input.invite ?? null, input.displayName)
  }

  needsSetup() { return this.store.adminCount() === 0 }

  /** The one-time first-run token (printed by `serve` while there is no admin). */
  setupTokenFor(): string | null {
    if (!this.needsSetup()) return (this.setupToken = null)
    return (this.setupToken ??= newToken(24))
  }

  setupTokenValid(token: string) { return this.needsSetup() && !!this.setupToken && safeEqual(token, this.setupToken) }

  async setup(token: string, username: string, password: string) {
    if (!this.needsSetup()) fail('setup_done')
    if (!this.setupTokenValid(token)) fail('setup_token_invalid')
    const id = await this.createAdmin(username, password)
    this.setupToken = null
    return id
  }

  async createAdmin(username: string, password: string) {
    return this.insertUser(username, password, 'admin', null)
  }

  async login(username: string, password: string, userAgent: string) {
    const user = this.store.byName(username)
    if (!user) {
      dummyHash ??= await this.hashPassword('not-a-real-password')
      await Bun.password.verify(password, dummyHash)
      fail('bad_credentials')
    }
    if (!(await Bun.password.verify(password, user.password_hash))) fail('bad_credentials')
    if (user.status !== 'active') fail('account_suspended')
    return this.startSession(user, userAgent)
  }

  startSession(user: UserRow, userAgent: string) {
    const token = newToken()
    const expires = Date.now() + this.opts.sessionDays * 86_400_000
    const sessionId = this.store.insertSession(user.id, hashToken(token), userAgent.slice(0, 200), expires)
    return { token, sessionId, user, expires }
  }

  /** The session and user a token belongs to, if it is valid and the user is active. */
  resolve(token: string | undefined): Session | null {
    if (!token || token.length > 100) return null
    const session = this.store.sessionByHash(hashToken(token))
    if (!session) return null
    if (session.expires_at <= Date.now()) { this.store.deleteSession(session.id); return null }
    const user = this.store.byId(session.user_id)
    if (!user || user.status !== 'active') return null
    if (Date.now() - session.last_seen_at > 60_000) this.store.touchSession(session.id)
    return { session, user }
  }

  logout(sessionId: number, userId: number) {
    this.store.deleteSession(sessionId)
    this.onSessionsEnded({ userId, sessionId })
  }

  logoutEverywhere(userId: number) {
    this.store.deleteUserSessions(userId)
    this.onSessionsEnded({ userId })
  }

  async changePassword(userId: number, sessionId: number, current: string, next: string) {
    const user = this.store.byId(userId)!
    if (!(await Bun.password.verify(current, user.password_hash))) fail('wrong_password')
    this.store.setPassword(userId, await this.hashPassword(next))
    this.store.deleteOtherSessions(userId, sessionId)
    this.onSessionsEnded({ userId, exceptSession: sessionId })
  }

  /** Sets a new password from an admin's reset link; all sessions end. */
  async resetPassword(userId: number, next: string) {
    this.store.setPassword(userId, await this.hashPassword(next))
    this.logoutEverywhere(userId)
  }

  me(user: UserRow) {
    return { ...publicUser(user), bio: user.bio, inviteQuota: user.invite_quota, status: user.status, createdAt: user.created_at }
  }

  /** A profile as a viewer sees it; someone who blocked the viewer is not found. */
  profile(viewerId: number | null, username: string): Profile {
    const u = this.store.byName(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (viewerId && viewerId !== u.id && this.store.hasBlocked(u.id, viewerId)) fail('not_found')
    const by = u.invited_by ? this.store.byId(u.invited_by) : null
    const counts = this.store.counts(u.id)
    return {
      ...publicUser(u), bio: u.bio, createdAt: u.created_at, invitedBy: by?.username ?? null, ...counts,
      isFollowing: viewerId ? this.store.isFollowing(viewerId, u.id) : false,
      followsYou: viewerId ? this.store.isFollowing(u.id, viewerId) : false,
      blocked: viewerId ? this.store.hasBlocked(viewerId, u.id) : false,
      isSelf: viewerId === u.id,
    }
  }

  updateProfile(user: UserRow, patch: { displayName?: string; bio?: string }) {
    this.store.setProfile(user.id, (patch.displayName ?? user.display_name).trim(), (patch.bio ?? user.bio).trim())
    return this.me(this.store.byId(user.id)!)
  }

  /** Stores an avatar after checking its bytes (not its name) are PNG, JPEG or WebP. */
  async setAvatar(user: UserRow, bytes: Uint8Array) {
    if (bytes.byteLength > AVATAR_MAX_BYTES) fail('payload_too_large', 'An avatar may be at most 2 MB.')
    const type = await sniffImage(bytes, AVATAR_TYPES, 'An avatar must be a PNG, JPEG or WebP image.')
    const dir = join(this.opts.dataDir, 'uploads', 'avatars')
    mkdirSync(dir, { recursive: true })
    const name = `${user.id}-${newToken(9)}.${type.ext}`
    await Bun.write(join(dir, name), bytes)
    this.store.setAvatar(user.id, name)
    if (user.avatar) this.removeAvatarFile(user.avatar)
    return this.me(this.store.byId(user.id)!)
  }

  clearAvatar(user: UserRow) {
    this.store.setAvatar(user.id, null)
    if (user.avatar) this.removeAvatarFile(user.avatar)
  }

  avatarPath(name: string) {
    if (!/^\d+-[A-Za-z0-9_-]+\.(png|jpg|webp)$/.test(name)) return null
    return join(this.opts.dataDir, 'uploads', 'avatars', name)
  }

  private removeAvatarFile(name: string) {
    const p = this.avatarPath(name)
    try { if (p) unlinkSync(p) } catch { /* already gone: nothing to free */ }
  }

  search(viewerId: number, q: string, limit = 20) {
    const following = this.store.followingIds(viewerId)
    return this.store.search(q.trim(), limit)
      .filter((u) => u.id === viewerId || !this.store.hasBlocked(u.id, viewerId))
      .map((u) => ({ ...publicUser(u), isFollowing: following.has(u.id) }))
  }

  target(viewerId: number, username: string) {
    const u = this.store.byName(username)
    if (!u || u.status === 'banned') fail('not_found')
    if (u.id === viewerId) fail('self_target')
    return u
  }

  follow(viewerId: number, username: string) {
    const u = this.target(viewerId, username)
    // Someone who blocked the viewer is not found for them (as with their profile); one the viewer blocked is 'blocked'.
    if (this.store.hasBlocked(u.id, viewerId)) fail('not_found')
    if (this.store.hasBlocked(viewerId, u.id)) fail('unblock_first')
    this.store.follow(viewerId, u.id)
    return u
  }
  unfollow(viewerId: number, username: string) { this.store.unfollow(viewerId, this.target(viewerId, username).id) }
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
  unblock(viewerId: number, username: string) { this.store.unblock(viewerId, this.target(viewerId, username).id) }
  blockedEither(a: number, b: number) { return this.store.blockedEither(a, b) }
  isFollowing(a: number, b: number) { return this.store.isFollowing(a, b) }
}
