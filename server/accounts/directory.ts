// The node's directory of members: every account (without its password hash) and every follow and block, in memory,
// so that the reads other domains make everywhere (an account by id or name, who follows or blocked whom; some of
// them inside the Backchannel's batched send) stay synchronous and take no query. Loaded from the store at start
// (`load`, awaited by the accounts' start and by the CLI commands that read accounts); kept current by the service,
// which reloads an entry from the store after each of its writes commits; with several nodes, each change is also
// published (DirectoryLink) and the other nodes reload the same entry from the store. docs/ARCHITECTURE.md, "Stores".
import type { Account } from '../contracts'
import type { RedisNode } from '../realtime/redis'
import type { Logger } from '../lib/log'
import { toAccount } from './model'
import type { AccountsStore, EdgeRow } from './store'

/** What changed, as the other nodes hear it: one account's row (and with `edges`, all its follows and blocks), or the
 * follows and blocks between two members. */
export type DirectoryChange = { user: number; edges?: boolean } | { pair: [number, number] }

/** How the nodes tell each other (one node: none). */
export interface DirectoryLink {
  publish(change: DirectoryChange): void
  /** Follows the other nodes' changes; `resync` when some may have been missed (a reconnection). */
  start(apply: (change: DirectoryChange) => void, resync: () => void): Promise<void>
}

const NONE: readonly number[] = Object.freeze([])

/**
 * Edges one way and the other: `out.get(a)` holds b for a → b, `in.get(b)` holds a. Plain arrays of ids, in the edges'
 * age (loaded oldest first, added as made): about 20 bytes an entry where a Set takes about 140 (measured in Bun), and
 * `has` scans the shorter of the two lists, which is short for nearly everyone.
 */
class Edges {
  readonly out = new Map<number, number[]>()
  readonly in = new Map<number, number[]>()
  has(a: number, b: number) {
    const from = this.out.get(a)
    const to = this.in.get(b)
    if (!from || !to) return false
    return from.length <= to.length ? from.includes(b) : to.includes(a)
  }
  set(a: number, b: number, on: boolean) {
    if (on === this.has(a, b)) return
    if (on) {
      add(this.out, a, b)
      add(this.in, b, a)
    } else {
      remove(this.out, a, b)
      remove(this.in, b, a)
    }
  }
  /** An edge known to be new (the store's rows, after clear() or drop()). */
  addNew(a: number, b: number) {
    add(this.out, a, b)
    add(this.in, b, a)
  }
  /** Forgets every edge of `id`, both ways. */
  drop(id: number) {
    for (const b of this.out.get(id) ?? []) remove(this.in, b, id)
    for (const a of this.in.get(id) ?? []) remove(this.out, a, id)
    this.out.delete(id)
    this.in.delete(id)
  }
  clear() {
    this.out.clear()
    this.in.clear()
  }
  count() {
    let n = 0
    for (const list of this.out.values()) n += list.length
    return n
  }
}
const add = (m: Map<number, number[]>, k: number, v: number) => {
  const list = m.get(k)
  if (list) list.push(v)
  else m.set(k, [v])
}
const remove = (m: Map<number, number[]>, k: number, v: number) => {
  const list = m.get(k)
  const i = list ? list.indexOf(v) : -1
  if (i < 0) return
  list!.splice(i, 1)
  if (!list!.length) m.delete(k)
}

export class Directory {
  private byId = new Map<number, Account>()
  /** Keyed by the lower-case username (usernames are ASCII and unique ignoring case). */
  private byName = new Map<string, Account>()
  private follows = new Edges()
  private blocks = new Edges()
  private loaded = false
  /** Bumped by every full load: an entry reload that started before one is not applied after it. */
  private generation = 0

  constructor(private store: AccountsStore) {}

  /** Reads every account, follow and block from the store (at start; again after a missed change). */
  async load() {
    const gen = ++this.generation
    const [accounts, follows, blocks] = await Promise.all([
      this.store.accounts(),
      this.store.edges('follows'),
      this.store.edges('blocks'),
    ])
    if (gen !== this.generation) return
    this.byId.clear()
    this.byName.clear()
    this.follows.clear()
    this.blocks.clear()
    for (const row of accounts) this.put(toAccount(row))
    for (const e of follows) this.follows.addNew(e.from_id, e.to_id)
    for (const e of blocks) this.blocks.addNew(e.from_id, e.to_id)
    this.loaded = true
  }

  /** The account's row again from the store (after a write to it here or on another node). */
  async reloadUser(id: number) {
    const row = await this.store.byId(id)
    this.forget(id)
    if (row) this.put(toAccount(row))
  }

  /** Every follow and block of the member again from the store (after they were erased). */
  async reloadEdgesOf(id: number) {
    const { follows, blocks } = await this.store.edgesOf(id)
    this.follows.drop(id)
    this.blocks.drop(id)
    const set = (edges: Edges, rows: EdgeRow[]) => {
      for (const e of rows) edges.addNew(e.from_id, e.to_id)
    }
    set(this.follows, follows)
    set(this.blocks, blocks)
  }

  /** The follows and blocks between two members again from the store. */
  async reloadPair(a: number, b: number) {
    const [ab, ba, blocksAb, blocksBa] = await Promise.all([
      this.store.isFollowing(a, b),
      this.store.isFollowing(b, a),
      this.store.hasBlocked(a, b),
      this.store.hasBlocked(b, a),
    ])
    this.follows.set(a, b, ab)
    this.follows.set(b, a, ba)
    this.blocks.set(a, b, blocksAb)
    this.blocks.set(b, a, blocksBa)
  }

  /** Applies a change heard from another node. */
  async apply(c: DirectoryChange) {
    if ('pair' in c) return this.reloadPair(c.pair[0], c.pair[1])
    await this.reloadUser(c.user)
    if (c.edges) await this.reloadEdgesOf(c.user)
  }

  private put(a: Account) {
    Object.freeze(a)
    this.byId.set(a.id, a)
    this.byName.set(a.username.toLowerCase(), a)
  }
  private forget(id: number) {
    const old = this.byId.get(id)
    if (!old) return
    this.byId.delete(id)
    if (this.byName.get(old.username.toLowerCase()) === old) this.byName.delete(old.username.toLowerCase())
  }
  private ready() {
    if (!this.loaded) throw new Error('accounts: the directory is read before it was loaded (await load() first)')
  }

  // ---- reads (synchronous)

  account(id: number): Account | null {
    this.ready()
    return this.byId.get(id) ?? null
  }
  named(username: string): Account | null {
    this.ready()
    return this.byName.get(username.toLowerCase()) ?? null
  }
  /** Every account, by id. */
  all(): Account[] {
    this.ready()
    return [...this.byId.values()].sort((a, b) => a.id - b.id)
  }
  isFollowing(a: number, b: number) {
    return this.follows.has(a, b)
  }
  hasBlocked(a: number, b: number) {
    return this.blocks.has(a, b)
  }
  /** Whom the member follows (a copy). */
  followingIds(id: number): Set<number> {
    return new Set(this.follows.out.get(id))
  }
  /** Who follows the member, newest first, at most `limit`. */
  followerIds(id: number, limit: number): number[] {
    const all = this.follows.in.get(id) ?? NONE
    return all.slice(Math.max(0, all.length - limit)).reverse()
  }
  /** Who blocked the member (a copy). */
  blockersOf(id: number): readonly number[] {
    return this.blocks.in.get(id)?.slice() ?? NONE
  }
  followCounts(id: number) {
    return { followers: this.follows.in.get(id)?.length ?? 0, following: this.follows.out.get(id)?.length ?? 0 }
  }
  /** Accounts by status and role, and how many were created since `since`. */
  counts(since: number) {
    this.ready()
    const c = { members: 0, active: 0, suspended: 0, banned: 0, admins: 0, joinedToday: 0 }
    for (const a of this.byId.values()) {
      c.members++
      c[a.status]++
      if (a.role === 'admin') c.admins++
      if (a.createdAt >= since) c.joinedToday++
    }
    return c
  }
  /** How much it holds (for the memory figure in docs/ARCHITECTURE.md). */
  size() {
    return { accounts: this.byId.size, follows: this.follows.count(), blocks: this.blocks.count() }
  }
}

/** The directory's link over Redis: one channel, `<prefix>accounts`; a node ignores its own messages. */
export function redisLink(node: RedisNode, nodeId: string, log: Logger): DirectoryLink {
  const channel = node.key('accounts')
  return {
    publish(change) {
      node.cmd.send('PUBLISH', [channel, `${nodeId} ${JSON.stringify(change)}`]).catch((error: unknown) => {
        log.error('accounts: unable to tell the other nodes of a change', { change, error })
      })
    },
    async start(apply, resync) {
      const listener = (m: string) => {
        const space = m.indexOf(' ')
        if (m.slice(0, space) === nodeId) return
        try {
          apply(JSON.parse(m.slice(space + 1)) as DirectoryChange)
        } catch (error) {
          log.error('accounts: a change from another node could not be read', { message: m, error })
        }
      }
      await node.sub.subscribe(channel, listener)
      // The bus drops every subscription on a reconnection and subscribes its own again: ours too, then a full
      // reload (changes published meanwhile were missed).
      node.onReconnect(async () => {
        await node.sub.subscribe(channel, listener)
        resync()
      })
    },
  }
}
