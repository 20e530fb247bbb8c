// The accounts domain: users, sessions, passwords, profiles, avatars, follows and blocks. Built first after the core
// (every other domain reads accounts through AccountsApi); it emits `sessionsEnded`, which the realtime side follows
// to close sockets. start(): the sweep of expired sessions.
import type { AccountsApi, AuditFn } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { publicOf, toAccount } from './model'
import { accountsRoutes } from './routes'
import { AccountsService } from './service'

const SWEEP_EVERY_MS = 60_000

export interface AccountsDomain extends Domain<AccountsApi> {
  readonly service: AccountsService
  readonly routes: ReturnType<typeof accountsRoutes>
}

export function createAccounts(deps: { core: Core; audit: AuditFn }): AccountsDomain {
  const service = new AccountsService(deps.core)
  const store = service.store
  const found = <T>(row: T | null | undefined) => row ?? null
  const api: AccountsApi = {
    on: (event, fn) => service.events.on(event, fn),
    resolve: (token) => service.resolve(token),
    startSession: (userId, userAgent) => service.startSession(userId, userAgent),
    me: (userId) => service.me(service.account(userId)),
    logoutEverywhere: (userId, reason) => service.logoutEverywhere(userId, reason),
    resetPassword: (userId, password) => service.resetPassword(userId, password),
    checkPassword: (userId, password) => service.checkPassword(userId, password),
    exportOf: (userId) => service.data.exportOf(userId),
    erase: (userId) => service.erase(userId),
    avatarFile: (name) => service.avatarPath(name),
    createMember: (input, redeem) => service.insertUser(input, 'member', redeem),
    needsSetup: () => service.needsSetup(),
    byId: (id) => {
      const u = found(store.byId(id))
      return u && toAccount(u)
    },
    byName: (username) => {
      const u = found(store.byName(username))
      return u && toAccount(u)
    },
    byIds: (ids) => new Map(store.byIds(ids).map((u) => [u.id, toAccount(u)])),
    usernames: (ids) => new Map(store.usernames(ids).map((u) => [u.id, u.username])),
    publicUser: (id) => {
      const u = found(store.byId(id))
      return u && publicOf(toAccount(u))
    },
    search: (viewerId, q, limit) => service.search(viewerId, q, limit),
    publicUsers: (ids) => new Map(store.byIds(ids).map((u) => [u.id, publicOf(toAccount(u))])),
    target: (viewerId, username) => toAccount(service.target(viewerId, username)),
    all: () => store.all().map(toAccount),
    joinedWith: (inviteIds) => {
      const out = new Map<number, string[]>()
      for (const r of store.joinedWith(inviteIds)) {
        let names = out.get(r.invite_id)
        if (!names) out.set(r.invite_id, (names = []))
        names.push(r.username)
      }
      return out
    },
    members: (q, status, limit, offset) =>
      store
        .members(q, status, limit, offset)
        .map((m) => ({ ...toAccount(m), inviter: m.inviter, lastSeenAt: m.last_seen })),
    member: (id) => {
      const m = found(store.member(id))
      return m && { ...toAccount(m), inviter: m.inviter, lastSeenAt: m.last_seen }
    },
    counts: (since) => {
      const c = store.userCounts(since)
      return {
        members: c.members,
        active: c.active ?? 0,
        suspended: c.suspended ?? 0,
        banned: c.banned ?? 0,
        admins: c.admins ?? 0,
        joinedToday: c.joinedToday ?? 0,
      }
    },
    followers: (userId) => store.followers(userId).map(toAccount),
    followingIds: (userId) => store.followingIds(userId),
    isFollowing: (a, b) => store.isFollowing(a, b),
    hasBlocked: (a, b) => store.hasBlocked(a, b),
    blockedEither: (a, b) => store.blockedEither(a, b),
    blockersOf: (id) => store.blockersOf(id),
    setStatus: (userId, status) => store.setStatus(userId, status),
    setRole: (userId, role) => store.setRole(userId, role),
    addInviteQuota: (userId, delta) => store.addQuota(userId, delta),
  }
  let sweep: ReturnType<typeof setInterval> | null = null
  return {
    api,
    service,
    routes: accountsRoutes({ core: deps.core, accounts: api, audit: deps.audit }, service),
    start() {
      sweep = setInterval(() => store.deleteExpiredSessions(), SWEEP_EVERY_MS)
    },
    stop() {
      if (sweep) clearInterval(sweep)
      sweep = null
    },
  }
}
