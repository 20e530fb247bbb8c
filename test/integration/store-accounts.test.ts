// The accounts store contract (server/accounts/store.ts), one suite run twice: on SQLite (a real database file,
// migrated as the server does, through the gate) always, and on Postgres (a throwaway cluster,
// test/helpers/postgres.ts, migrated by migratePg) when it can start. Both must behave the same: rows in one shape,
// usernames unique ignoring case, sessions by their hash, follows and blocks whose racing writes have one winner,
// searches where `%` and `_` are plain characters, a quota that two spends cannot take below 0. Then the directory
// (server/accounts/directory.ts): two services on one database, each with its own directory, linked as two nodes
// are; a write on one is seen by the other once it is told.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DirectoryChange, DirectoryLink } from '../../server/accounts/directory'
import { AccountsService } from '../../server/accounts/service'
import { SqliteAccountsStore, type AccountsStore, type NewUser } from '../../server/accounts/store'
import { PgAccountsStore } from '../../server/accounts/store-pg'
import type { Core } from '../../server/core'
import { openDatabase } from '../../server/db/open'
import { migratePg, PgConn } from '../../server/db/postgres'
import { SqliteGate } from '../../server/db/sqlite-gate'
import { hashToken, newToken } from '../../server/lib/crypto'
import { createLogger } from '../../server/lib/log'
import { TEST_LIMIT, until } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

interface Backend {
  store: AccountsStore
  /** A second store on the same database (another node's, or another connection to the same SQLite file). */
  second(): AccountsStore
  /** An invite row for `joinedWith` (the invites table is the invites domain's: written here as a fixture). */
  addInvite(creatorId: number | null): Promise<number>
  dir: string
  close(): Promise<void>
}

const dirs: string[] = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-store-acc-'))
  dirs.push(dir)
  return dir
}

async function sqliteBackend(): Promise<Backend> {
  const dir = tempDir()
  const db = openDatabase(dir)
  const others: { close(): void }[] = []
  return {
    store: new SqliteAccountsStore(new SqliteGate(db)),
    second: () => {
      const other = openDatabase(dir)
      others.push(other)
      return new SqliteAccountsStore(new SqliteGate(other))
    },
    addInvite: async (creatorId) =>
      db
        .query<{ id: number }, [number | null, Uint8Array, number]>(
          'INSERT INTO invites (creator_id, token_hash, uses_allowed, created_at) VALUES (?, ?, 5, ?) RETURNING id',
        )
        .get(creatorId, hashToken(newToken()), Date.now())!.id,
    dir,
    close: async () => {
      for (const o of others) o.close()
      db.close()
    },
  }
}

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

let pgDatabases = 0
async function pgBackend(): Promise<Backend> {
  const url = await pg!.database(`store_accounts_${++pgDatabases}`)
  const conn = new PgConn(url)
  await migratePg(conn.sql)
  const others: PgConn[] = []
  return {
    store: new PgAccountsStore(conn),
    second: () => {
      const other = new PgConn(url)
      others.push(other)
      return new PgAccountsStore(other)
    },
    addInvite: async (creatorId) => {
      const [r] = await conn.sql`
        INSERT INTO invites (creator_id, token_hash, uses_allowed, created_at)
        VALUES (${creatorId}, ${hashToken(newToken())}, 5, ${Date.now()}) RETURNING id`
      return Number(r.id)
    },
    dir: tempDir(),
    close: async () => {
      for (const o of others) await o.close()
      await conn.close()
    },
  }
}

const user = (username: string, over: Partial<NewUser> = {}): NewUser => ({
  username,
  displayName: '',
  passwordHash: 'hash',
  role: 'member',
  invitedBy: null,
  inviteId: null,
  quota: 0,
  ...over,
})

/** Links between services in one process, as Redis links nodes: a change published by one reaches the others. */
function links() {
  const nodes: ((c: DirectoryChange) => void)[] = []
  return (): DirectoryLink => {
    let mine: ((c: DirectoryChange) => void) | null = null
    return {
      publish: (c) => {
        const wire = JSON.stringify(c)
        for (const n of nodes) if (n !== mine) queueMicrotask(() => n(JSON.parse(wire)))
      },
      start: async (apply) => {
        mine = apply
        nodes.push(apply)
      },
    }
  }
}

/** What AccountsService reads of the core (the store is given: nothing else of the database is used). */
const coreFor = (dataDir: string) =>
  ({
    config: { sessionDays: 30, dataDir },
    settings: { get: () => ({ inviteQuota: 2 }) },
    log: createLogger('error', () => {}),
  }) as unknown as Core

function contract(name: 'sqlite' | 'postgres', make: () => Promise<Backend>) {
  describe(`accounts store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] an account reads back whole by id and by name ignoring case, in one shape', async () => {
      const { store } = await fresh()
      const before = Date.now()
      const ann = (await store.insertUser(user('Ann', { displayName: 'Ann A', quota: 3 })))!
      expect(Number.isInteger(ann)).toBe(true)
      const row = await store.byId(ann)
      expect(row).toEqual({
        id: ann,
        username: 'Ann',
        display_name: 'Ann A',
        bio: '',
        avatar: null,
        password_hash: 'hash',
        role: 'member',
        status: 'active',
        invited_by: null,
        invite_id: null,
        invite_quota: 3,
        created_at: expect.any(Number),
      })
      expect(row!.created_at).toBeGreaterThanOrEqual(before)
      expect(await store.byName('ann')).toEqual(row)
      expect(await store.byName('ANN')).toEqual(row)
      expect(await store.byName('an')).toBeNull()
      expect(await store.byId(ann + 1000)).toBeNull()
      const { password_hash: _, ...account } = row!
      expect(await store.accounts()).toEqual([account])
    })

    test('[H70][A1] usernames are unique ignoring case: a second is null; of many at once one wins', async () => {
      const { store } = await fresh()
      expect(await store.insertUser(user('bob'))).not.toBeNull()
      expect(await store.insertUser(user('BOB'))).toBeNull()
      expect(await store.insertUser(user('Bob'))).toBeNull()
      const names = ['cat', 'Cat', 'CAT', 'cAt', 'caT', 'CaT']
      const ids = await Promise.all(names.map((n) => store.transaction((tx) => store.insertUser(user(n), tx))))
      expect(ids.filter((id) => id !== null)).toHaveLength(1)
      expect((await store.accounts()).map((a) => a.username.toLowerCase())).toEqual(['bob', 'cat'])
    })

    test('[H70][A2] sessions: by the token’s hash, touched, ended one, all but one, all, when expired', async () => {
      const { store } = await fresh()
      const dan = (await store.insertUser(user('dan')))!
      const hashes = [0, 1, 2].map(() => hashToken(newToken()))
      const now = Date.now()
      const ids = []
      for (const h of hashes) ids.push(await store.insertSession(dan, h, 'agent', now + 60_000))
      const s = await store.sessionByHash(hashes[0]!)
      expect(s).toEqual({
        id: ids[0]!,
        user_id: dan,
        token_hash: hashes[0]!,
        created_at: expect.any(Number),
        last_seen_at: expect.any(Number),
        expires_at: now + 60_000,
        user_agent: 'agent',
      })
      expect(s!.token_hash).toBeInstanceOf(Uint8Array)
      expect(await store.sessionByHash(hashToken('nobody has this'))).toBeNull()
      await store.touchSession(ids[0]!)
      expect((await store.sessionByHash(hashes[0]!))!.last_seen_at).toBeGreaterThanOrEqual(s!.last_seen_at)
      expect(await Promise.all([store.deleteSession(ids[2]!), store.deleteSession(ids[2]!)])).toContain(false)
      expect(await store.sessionByHash(hashes[2]!)).toBeNull()
      expect(await store.deleteUserSessions(dan, ids[0]!)).toBe(1)
      expect(await store.sessionByHash(hashes[0]!)).not.toBeNull()
      expect(await store.sessionByHash(hashes[1]!)).toBeNull()
      const old = await store.insertSession(dan, hashToken(newToken()), '', now - 1)
      expect(await store.deleteExpiredSessions(now)).toBe(1)
      expect(await store.deleteUserSessions(dan)).toBe(1)
      expect(old).toBeGreaterThan(0)
    })

    test('[H70][A5] follow, unfollow, block and unblock: of many at once exactly one says it wrote', async () => {
      const { store } = await fresh()
      const eve = (await store.insertUser(user('eve')))!
      const fay = (await store.insertUser(user('fay')))!
      const many = <T>(f: () => Promise<T>) => Promise.all(Array.from({ length: 8 }, f))
      expect((await many(() => store.follow(eve, fay))).filter(Boolean)).toHaveLength(1)
      expect(await store.isFollowing(eve, fay)).toBe(true)
      expect(await store.isFollowing(fay, eve)).toBe(false)
      expect((await many(() => store.unfollow(eve, fay))).filter(Boolean)).toHaveLength(1)
      expect(await store.isFollowing(eve, fay)).toBe(false)
      expect((await many(() => store.block(fay, eve))).filter(Boolean)).toHaveLength(1)
      expect(await store.hasBlocked(fay, eve)).toBe(true)
      expect(await store.hasBlocked(eve, fay)).toBe(false)
      expect((await many(() => store.unblock(fay, eve))).filter(Boolean)).toHaveLength(1)
      expect(await store.hasBlocked(fay, eve)).toBe(false)
    })

    test('[H70] follows and blocks: newest first, limited; every edge of a member; dropped both ways', async () => {
      const { store } = await fresh()
      const [gus, a, c, d] = await Promise.all(
        ['gus', 'a1', 'c1', 'd1'].map(async (n) => (await store.insertUser(user(n)))!),
      )
      for (const x of [a, c, d]) {
        await store.follow(x!, gus!)
        await Bun.sleep(2) // distinct created_at, so "newest first" has one answer
      }
      await store.follow(gus!, a!)
      await store.block(gus!, d!)
      const followers = await store.followers(gus!, 10)
      expect(followers.map((r) => r.username)).toEqual(['d1', 'c1', 'a1'])
      expect(followers[0]).not.toHaveProperty('password_hash')
      expect(typeof followers[0]!.since).toBe('number')
      expect((await store.followers(gus!, 2)).map((r) => r.username)).toEqual(['d1', 'c1'])
      expect((await store.following(gus!, 10)).map((r) => r.username)).toEqual(['a1'])
      expect((await store.blocking(gus!, 10)).map((r) => r.username)).toEqual(['d1'])
      const all = await store.edges('follows')
      expect(all.map((e) => [e.from_id, e.to_id])).toEqual([
        [a, gus],
        [c, gus],
        [d, gus],
        [gus, a],
      ])
      expect((await store.edges('blocks')).map((e) => [e.from_id, e.to_id])).toEqual([[gus, d]])
      const mine = await store.edgesOf(gus!)
      expect(mine.follows).toHaveLength(4)
      expect(mine.blocks).toHaveLength(1)
      expect((await store.edgesOf(c!)).follows.map((e) => [e.from_id, e.to_id])).toEqual([[c, gus]])
      expect(await store.dropEdges(gus!)).toBe(5)
      expect(await store.edges('follows')).toEqual([])
      expect(await store.edges('blocks')).toEqual([])
    })

    test('[H70] search and the member list: `%` and `_` are plain characters; case is ignored', async () => {
      const { store } = await fresh()
      await store.insertUser(user('a_b'))
      await store.insertUser(user('axb'))
      await store.insertUser(user('pct', { displayName: '100% Sure' }))
      await store.insertUser(user('pcx', { displayName: '100x Sure' }))
      await store.insertUser(user('Zed', { displayName: 'zed' }))
      const off = (await store.insertUser(user('a_c')))!
      await store.setStatus(off, 'suspended')
      const names = (rows: { username: string }[]) => rows.map((r) => r.username)
      expect(names(await store.search('a_', 10))).toEqual(['a_b'])
      expect(names(await store.search('a', 10))).toEqual(['a_b', 'axb'])
      expect(names(await store.search('100%', 10))).toEqual(['pct'])
      expect(names(await store.search('100', 10))).toEqual(['pct', 'pcx'])
      expect(names(await store.search('zE', 10))).toEqual(['Zed'])
      expect(names(await store.search('%', 10))).toEqual([])
      expect(names(await store.search('\\', 10))).toEqual([])
      expect(names(await store.search('', 2))).toHaveLength(2)
      // The admin's list: anywhere in the name, newest first, any status unless filtered.
      expect(names(await store.members('_', 'all', 10, 0))).toEqual(['a_c', 'a_b'])
      expect(names(await store.members('0% s', 'all', 10, 0))).toEqual(['pct'])
      expect(names(await store.members('A_', 'suspended', 10, 0))).toEqual(['a_c'])
      expect(names(await store.members('', 'all', 2, 1))).toEqual(['Zed', 'pcx'])
    })

    test('[H70] [A35] the setup token: the first stored is everyone’s; of two takes at once, one wins', async () => {
      const { store } = await fresh()
      expect(await store.storedSetupToken()).toBeNull()
      const tokens = await Promise.all(['first', 'second'].map((t) => store.setupToken(t, 1)))
      expect(new Set(tokens).size).toBe(1)
      const kept = tokens[0]!
      expect(await store.setupToken('third', 2)).toBe(kept)
      expect(await store.storedSetupToken()).toBe(kept)
      expect(await store.takeSetupToken('other')).toBe(false)
      const takes = await Promise.all([0, 1].map(() => store.transaction((tx) => store.takeSetupToken(kept, tx))))
      expect(takes.filter(Boolean)).toHaveLength(1)
      expect(await store.storedSetupToken()).toBeNull()
      expect(await store.takeSetupToken(kept)).toBe(false)
    })

    test('[H70] the admin’s levers; a quota spend that would go below 0 is refused, one of two wins', async () => {
      const { store, addInvite } = await fresh()
      const root = (await store.insertUser(user('root', { role: 'admin' })))!
      expect(await store.adminCount()).toBe(1)
      const inv = await addInvite(root)
      const hal = (await store.insertUser(user('hal', { invitedBy: root, inviteId: inv, quota: 1 })))!
      const ida = (await store.insertUser(user('ida', { invitedBy: root, inviteId: inv })))!
      const spends = await Promise.all([0, 1].map(() => store.transaction((tx) => store.addQuota(hal, -1, tx))))
      expect(spends.filter(Boolean)).toHaveLength(1)
      expect((await store.byId(hal))!.invite_quota).toBe(0)
      expect(await store.addQuota(hal, 2)).toBe(true)
      expect((await store.byId(hal))!.invite_quota).toBe(2)
      expect(await store.setRole(ida, 'admin')).toBe(true)
      expect(await store.adminCount()).toBe(2)
      expect(await store.setStatus(ida, 'banned')).toBe(true)
      expect(await store.setStatus(ida + 1000, 'banned')).toBe(false)
      expect(await store.setProfile(hal, 'Hal', 'bio')).toBe(true)
      expect(await store.setAvatar(hal, '1-x.png')).toBe(true)
      expect(await store.setPassword(hal, 'new')).toBe(true)
      const h = (await store.byId(hal))!
      expect([h.display_name, h.bio, h.avatar, h.password_hash]).toEqual(['Hal', 'bio', '1-x.png', 'new'])
      expect((await store.joinedWith([inv, inv + 1000])).map((r) => [r.invite_id, r.username])).toEqual([
        [inv, 'hal'],
        [inv, 'ida'],
      ])
      expect(await store.joinedWith([])).toEqual([])
      expect(await store.transaction((tx) => store.joinedWith([inv], tx))).toHaveLength(2)
      await store.insertSession(hal, hashToken(newToken()), '', Date.now() + 60_000)
      const m = (await store.member(hal))!
      expect(m.inviter).toBe('root')
      expect(typeof m.last_seen).toBe('number')
      expect(m).not.toHaveProperty('password_hash')
      expect((await store.member(root))!.last_seen).toBeNull()
      expect(await store.member(hal + 1000)).toBeNull()
      expect(await store.eraseUser(hal, `deleted_${hal}`, 'unusable')).toBe(true)
      const gone = (await store.byId(hal))!
      expect([gone.username, gone.display_name, gone.avatar, gone.status]).toEqual([
        `deleted_${hal}`,
        'Deleted member',
        null,
        'banned',
      ])
    })

    test('[H70] a transaction commits as one, and rolls back every statement when it throws', async () => {
      const { store } = await fresh()
      const jo = (await store.insertUser(user('jo')))!
      await expect(
        store.transaction(async (tx) => {
          await store.insertUser(user('kim'), tx)
          expect(await store.follow(jo, jo, tx)).toBe(true)
          throw new Error('no')
        }),
      ).rejects.toThrow('no')
      expect(await store.byName('kim')).toBeNull()
      expect(await store.isFollowing(jo, jo)).toBe(false)
    })

    test('[H70] afterCommit runs once the transaction committed, in order, and never after a rollback', async () => {
      const { store } = await fresh()
      const seen: string[] = []
      const id = await store.transaction(async (tx) => {
        const id = (await store.insertUser(user('lou'), tx))!
        tx.afterCommit(async () => {
          // Committed: a statement outside the transaction sees the row.
          seen.push(`first ${(await store.byId(id))?.username}`)
        })
        tx.afterCommit(() => void seen.push('second'))
        seen.push('body')
        return id
      })
      expect(seen).toEqual(['body', 'first lou', 'second'])
      await expect(
        store.transaction(async (tx) => {
          await store.setStatus(id, 'banned', tx)
          tx.afterCommit(() => void seen.push('rolled back'))
          throw new Error('no')
        }),
      ).rejects.toThrow('no')
      expect(seen).toHaveLength(3)
      expect((await store.byId(id))!.status).toBe('active')
    })

    test('[H70][W28] the directory: two services on one database, linked; each sees the other’s writes', async () => {
      const { store, second, dir } = await fresh()
      const link = links()
      const a = new AccountsService(coreFor(dir), store, link())
      const other = new AccountsService(coreFor(dir), second(), link())
      const leo = await a.createAdmin('leo', 'a long password 1')
      await a.start()
      await other.start()
      expect(other.directory.named('LEO')!.id).toBe(leo)
      // A new account on one: the other knows it once told.
      const mia = await other.insertUser({ username: 'mia', password: 'a long password 2' }, 'member', null)
      expect(other.directory.account(mia)!.username).toBe('mia')
      await until(() => a.directory.account(mia) !== null, 'mia in the first directory')
      // A follow, a block (which ends the follows both ways), a profile, a status: each reaches the other.
      await a.follow(mia, 'leo')
      expect(a.directory.isFollowing(mia, leo)).toBe(true)
      await until(() => other.directory.isFollowing(mia, leo), 'the follow on the other node')
      expect(other.directory.followerIds(leo, 10)).toEqual([mia])
      await other.block(leo, 'mia')
      await until(() => a.directory.hasBlocked(leo, mia) && !a.directory.isFollowing(mia, leo), 'the block')
      expect(a.directory.blockersOf(mia)).toEqual([leo])
      await a.updateProfile(mia, { displayName: 'Mia M' })
      await until(() => other.directory.account(mia)!.displayName === 'Mia M', 'the profile on the other node')
      await other.setStatus(mia, 'suspended')
      await until(() => a.directory.account(mia)!.status === 'suspended', 'the status on the other node')
      expect(a.directory.counts(0)).toMatchObject({ members: 2, active: 1, suspended: 1, admins: 1 })
      // A member erased on one: gone from the other's edges too.
      await other.setStatus(mia, 'active')
      await a.unblock(leo, 'mia')
      await a.follow(leo, 'mia')
      await until(() => other.directory.isFollowing(leo, mia), 'the second follow')
      await other.erase(mia)
      await until(() => a.directory.account(mia)!.username === `deleted_${mia}`, 'the erasure')
      await until(() => !a.directory.isFollowing(leo, mia), 'the erased member’s follows')
      expect(a.directory.named('mia')).toBeNull()
      // Racing follows on the two nodes: one row, one `followed` event between them.
      const nia = await a.insertUser({ username: 'nia', password: 'a long password 3' }, 'member', null)
      await until(() => other.directory.account(nia) !== null, 'nia on the other node')
      const told: number[] = []
      a.events.on('followed', (e) => told.push(e.followerId))
      other.events.on('followed', (e) => told.push(e.followerId))
      await Promise.all([a.follow(nia, 'leo'), other.follow(nia, 'leo'), a.follow(nia, 'leo')])
      expect(told).toEqual([nia])
      await until(() => a.directory.isFollowing(nia, leo) && other.directory.isFollowing(nia, leo), 'both')
    })

    test('[H70] the directory unlinked: a session of an account it does not know yet still resolves', async () => {
      const { store, second, dir } = await fresh()
      const a = new AccountsService(coreFor(dir), store)
      await a.start()
      // Written by another process (the CLI, another node without Redis): this directory was not told.
      const elsewhere = new AccountsService(coreFor(dir), second())
      const oli = await elsewhere.insertUser({ username: 'oli', password: 'a long password 4' }, 'member', null)
      const { token } = await elsewhere.startSession(oli, 'agent')
      expect(a.directory.account(oli)).toBeNull()
      expect((await a.resolve(token))!.user.username).toBe('oli')
      expect(a.directory.account(oli)!.username).toBe('oli')
    })
  })
}

contract('sqlite', sqliteBackend)
if (pg) contract('postgres', pgBackend)
else test.skip('accounts store on postgres (no Postgres here: see stderr)', () => {})
