// The accounts domain: users, sessions, passwords, profiles, avatars, follows and blocks. Built first after the core
// (every other domain reads accounts through AccountsApi); it emits `sessionsEnded`, which the realtime side follows
// to close sockets. start(): the directory's load (the synchronous reads, directory.ts) and the other nodes' changes,
// then the sweep of expired sessions.
import type { Account, AccountsApi, AuditFn } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import type { PublicUser } from '../protocol'
import type { DirectoryLink } from './directory'
import { publicOf, toAccount } from './model'
import { accountsRoutes } from './routes'
import { AccountsService } from './service'
import { byDialect } from '../db/conn'
import { type AccountsStore, type MemberRow, SqliteAccountsStore } from './store'
import { PgAccountsStore } from './store-pg'

const SWEEP_EVERY_MS = 60_000
/** `followers()` gives the most recent ones, at most this many. */
const FOLLOWERS_MAX = 500

export interface AccountsDomain extends Domain<AccountsApi> {
  readonly service: AccountsService
  readonly routes: ReturnType<typeof accountsRoutes>
  /** Loads the directory without starting anything else (the CLI's commands that read accounts). */
  load(): Promise<void>
}

export function createAccounts(deps: {
  core: Core
  audit: AuditFn
  /** By default the dialect's own on core.conn. */
  store?: AccountsStore
  /** With several nodes: how their directories hear of each other's changes (directory.ts redisLink). */
  link?: DirectoryLink | null
}): AccountsDomain {
  const service = new AccountsService(
    deps.core,
    deps.store ??
      byDialect<AccountsStore>(
        deps.core.conn,
        (g) => new SqliteAccountsStore(g),
        (c) => new PgAccountsStore(c),
      ),
    deps.link ?? null,
  )
  const { store, directory } = service
  const record = (m: MemberRow) => ({ ...toAccount(m), inviter: m.inviter, lastSeenAt: m.last_seen })
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
    byId: (id) => directory.account(id),
    byName: (username) => directory.named(username),
    byIds: (ids) => {
      const out = new Map<number, Account>()
      for (const id of ids) {
        const a = directory.account(id)
        if (a) out.set(id, a)
      }
      return out
    },
    usernames: (ids) => {
      const out = new Map<number, string>()
      for (const id of ids) {
        const a = directory.account(id)
        if (a) out.set(id, a.username)
      }
      return out
    },
    publicUser: (id) => {
      const a = directory.account(id)
      return a && publicOf(a)
    },
    loadPublicUser: async (id) => {
      if (!directory.account(id)) await directory.reloadUser(id)
      const a = directory.account(id)
      return a && publicOf(a)
    },
    search: (viewerId, q, limit) => service.search(viewerId, q, limit),
    publicUsers: (ids) => {
      const out = new Map<number, PublicUser>()
      for (const id of ids) {
        const a = directory.account(id)
        if (a) out.set(id, publicOf(a))
      }
      return out
    },
    target: (viewerId, username) => service.target(viewerId, username),
    all: () => directory.all(),
    joinedWith: async (inviteIds) => {
      const out = new Map<number, string[]>()
      for (const r of await store.joinedWith([...inviteIds])) {
        let names = out.get(r.invite_id)
        if (!names) out.set(r.invite_id, (names = []))
        names.push(r.username)
      }
      return out
    },
    members: async (q, status, limit, offset) => (await store.members(q, status, limit, offset)).map(record),
    member: async (id) => {
      const m = await store.member(id)
      return m && record(m)
    },
    counts: (since) => directory.counts(since),
    followers: (userId) => {
      const out: Account[] = []
      for (const id of directory.followerIds(userId, FOLLOWERS_MAX)) {
        const a = directory.account(id)
        if (a) out.push(a)
      }
      return out
    },
    followingIds: (userId) => directory.followingIds(userId),
    isFollowing: (a, b) => directory.isFollowing(a, b),
    hasBlocked: (a, b) => directory.hasBlocked(a, b),
    blockedEither: (a, b) => directory.hasBlocked(a, b) || directory.hasBlocked(b, a),
    blockersOf: (id) => directory.blockersOf(id),
    setStatus: (userId, status) => service.setStatus(userId, status),
    setRole: (userId, role) => service.setRole(userId, role),
    addInviteQuota: (userId, delta, tx) => service.addInviteQuota(userId, delta, tx),
  }
  let sweep: ReturnType<typeof setInterval> | null = null
  const sweepExpired = () =>
    store.deleteExpiredSessions(Date.now()).catch((error: unknown) => {
      deps.core.log.error('accounts: unable to remove expired sessions', { error })
    })
  return {
    api,
    service,
    routes: accountsRoutes({ core: deps.core, accounts: api, audit: deps.audit }, service),
    load: () => directory.load(),
    async start() {
      await service.start()
      sweep = setInterval(sweepExpired, SWEEP_EVERY_MS)
    },
    stop() {
      if (sweep) clearInterval(sweep)
      sweep = null
    },
  }
}
