// The bus contract (server/realtime/bus.ts), one suite run twice: on the in-process hub (one node) and on Redis (two
// bus instances, two nodes, on one real redis-server). Connections are the hub's own, over sockets that record what
// they are sent. On Redis also: presence expiring with a node's heartbeat, the room registry's leases, and the rate
// limits shared by the nodes.
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import { SharedRateLimiter } from '../../server/lib/ratelimit'
import { createLogger } from '../../server/lib/log'
import type { ServerEvent } from '../../server/protocol'
import type { Bus, ConnId, RoomRegistry, Sockets, Topic } from '../../server/realtime/bus'
import { Hub } from '../../server/realtime/hub'
import { RedisNode } from '../../server/realtime/redis'
import { RedisBus } from '../../server/realtime/redis-bus'
import { LocalRegistry, RedisRegistry } from '../../server/realtime/registry'
import { TEST_LIMIT, until } from '../helpers/limits'
import { startRedis, type TestRedis } from '../helpers/redis'

setDefaultTimeout(TEST_LIMIT)

const quiet = createLogger('error', () => {})

interface TestConn {
  id: ConnId
  /** The events it was sent (the hello first). */
  got: ServerEvent[]
  /** The close code, once the server closed it. */
  closedWith: number | null
  has(mark: number): boolean
  close(): void
}

interface TestNode {
  bus: Bus & Sockets
  registry: RoomRegistry
  open(userId: number | null, sessionId?: number | null): TestConn
  /** Until other nodes see this node's subscriptions (nothing to wait for on one node). */
  settled(): Promise<void>
  /** Stops beating without cleanup, as a node that died (Redis only). */
  halt?(): void
  stop(): Promise<void>
}

interface Cluster {
  a: TestNode
  b: TestNode
  /** Two real nodes (false: a and b are the same in-process hub). */
  nodes: 2 | 1
}

function nodeOver(hub: Hub, bus: Bus & Sockets, registry: RoomRegistry, extra: Partial<TestNode>): TestNode {
  return {
    bus,
    registry,
    open(userId, sessionId = null) {
      const got: ServerEvent[] = []
      const tc: TestConn = {
        id: 0,
        got,
        closedWith: null,
        has: (mark) => got.some((e) => e.type === 'presence' && e.userId === mark),
        close: () => hub.close(conn),
      }
      const raw = {
        send: (d: string) => {
          got.push(JSON.parse(d))
          return d.length
        },
        close: (code?: number) => {
          tc.closedWith = code ?? 1000
        },
      }
      const user = userId === null ? null : { id: userId, username: `u${userId}`, role: 'member' as const }
      const conn = hub.open(raw, user, sessionId)
      tc.id = conn.id
      return tc
    },
    settled: async () => {},
    stop: async () => {},
    ...extra,
  }
}

/** An event that names itself by a number (a presence event whose userId is the mark). */
const ev = (mark: number): ServerEvent => ({ type: 'presence', userId: mark, online: true })

function inProcess(): Cluster {
  const hub = new Hub(quiet)
  const node = nodeOver(hub, hub, new LocalRegistry('local'), {})
  return { a: node, b: node, nodes: 1 }
}

const BEAT_MS = 100
/** Well above a beat, so that a busy machine delaying a beat does not lose a lease the test expects kept. */
const TTL_MS = 2000

async function redisNode(url: string, prefix: string): Promise<TestNode & { redis: RedisNode }> {
  const hub = new Hub(quiet)
  const redis = new RedisNode(url, crypto.randomUUID(), quiet, {
    prefix,
    beatMs: BEAT_MS,
    ttlMs: TTL_MS,
    maxRetries: 3,
  })
  const bus = new RedisBus(hub, redis)
  const registry = new RedisRegistry(redis)
  await redis.start()
  await bus.start()
  return {
    ...nodeOver(hub, bus, registry, {
      settled: () => bus.settled(),
      halt: () => redis.halt(),
      stop: async () => {
        hub.closeAll()
        await redis.stop()
      },
    }),
    redis,
  }
}

let redis: TestRedis | null = null
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})

let prefixes = 0
const running: TestNode[] = []
afterEach(async () => {
  for (const n of running.splice(0)) await n.stop()
})

async function onRedis() {
  const prefix = `t${++prefixes}:`
  const a = await redisNode(redis!.url, prefix)
  const b = await redisNode(redis!.url, prefix)
  running.push(a, b)
  return { a, b, nodes: 2 as const }
}

const kinds: [string, () => Promise<Cluster> | Cluster, () => boolean][] = [
  ['in-process', inProcess, () => true],
  ['redis', onRedis, () => redis !== null],
]

for (const [kind, make, available] of kinds) {
  describe(`bus contract (${kind})`, () => {
    const it = (name: string, fn: (c: Cluster) => Promise<void>) =>
      test(name, async () => {
        if (!available()) return console.warn(`skipped on ${kind}: redis-server could not start`)
        await fn(await make())
      })

    it('[W20] publish reaches the topic on every node but the connection excepted, and only the topic', async (c) => {
      const a1 = c.a.open(1)
      const a2 = c.a.open(2)
      const b1 = c.b.open(3)
      const b2 = c.b.open(4)
      const off = c.b.open(5)
      const topic: Topic = 'room:9'
      for (const [n, conn] of [
        [c.a, a1],
        [c.a, a2],
        [c.b, b1],
        [c.b, b2],
      ] as const)
        n.bus.subscribe(conn.id, topic)
      await c.a.settled()
      await c.b.settled()
      c.a.bus.publish(topic, ev(100), b2.id)
      c.a.bus.publish(topic, ev(101), a2.id)
      await until(() => a1.has(101) && b1.has(101) && b2.has(101) && !a2.has(101), 'the second event everywhere')
      expect([a1.has(100), a2.has(100), b1.has(100), b2.has(100)]).toEqual([true, true, true, false])
      expect(a2.has(101)).toBe(false)
      expect(off.has(100) || off.has(101)).toBe(false)
    })

    it('[W20] toUsers reaches every tab of each member on every node, once', async (c) => {
      const tabs = [c.a.open(7), c.b.open(7), c.b.open(7), c.a.open(8)]
      const other = c.b.open(9)
      await c.a.settled()
      await c.b.settled()
      c.b.bus.toUsers([7, 8], ev(200))
      await until(() => tabs.every((t) => t.has(200)), 'every tab of members 7 and 8')
      c.b.bus.toUsers([9], ev(201))
      await until(() => other.has(201), 'member 9')
      for (const t of tabs) expect(t.got.filter((e) => e.type === 'presence' && e.userId === 200).length).toBe(1)
      expect(other.has(200)).toBe(false)
    })

    it('[W20] toMembers reaches every tab of exactly the members given, on every node, once', async (c) => {
      const tabs = [c.a.open(17), c.b.open(17), c.b.open(18)]
      const out = [c.a.open(19), c.b.open(19)]
      await c.a.settled()
      await c.b.settled()
      c.a.bus.toMembers('thread:5', [17, 18], ev(250))
      await until(() => tabs.every((t) => t.has(250)), 'every tab of members 17 and 18')
      // The topic now holds 17 only: 18 hears nothing more of it.
      c.b.bus.toMembers('thread:5', [17, 19], ev(251))
      await until(() => tabs[0]!.has(251) && tabs[1]!.has(251) && out.every((t) => t.has(251)), 'members 17 and 19')
      expect(tabs[2]!.has(251)).toBe(false)
      expect(out.some((t) => t.has(250))).toBe(false)
      for (const t of tabs) expect(t.got.filter((e) => e.type === 'presence' && e.userId === 250).length).toBe(1)
    })

    it('[W20] toConn reaches one connection on any node', async (c) => {
      const a1 = c.a.open(1)
      const b1 = c.b.open(2)
      const b2 = c.b.open(2)
      c.a.bus.toConn(b1.id, ev(300))
      c.b.bus.toConn(a1.id, ev(301))
      await until(() => b1.has(300) && a1.has(301), 'both connections')
      c.a.bus.toConn(b2.id, ev(302))
      await until(() => b2.has(302), 'the second tab')
      expect(b2.has(300)).toBe(false)
      expect(b1.has(302)).toBe(false)
      // Connection ids are unique across nodes.
      expect(new Set([a1.id, b1.id, b2.id]).size).toBe(3)
    })

    it('[W20] unsubscribe (and a closed connection) stops delivery', async (c) => {
      const b1 = c.b.open(1)
      const b2 = c.b.open(2)
      const b3 = c.b.open(3)
      for (const conn of [b1, b2, b3]) c.b.bus.subscribe(conn.id, 'hallway')
      await c.b.settled()
      c.a.bus.publish('hallway', ev(400))
      await until(() => b1.has(400) && b2.has(400) && b3.has(400), 'the first event')
      c.b.bus.unsubscribe(b1.id, 'hallway')
      b2.close()
      await c.b.settled()
      c.a.bus.publish('hallway', ev(401))
      await until(() => b3.has(401), 'the second event on the one still subscribed')
      expect(b1.has(401) || b2.has(401)).toBe(false)
      // Every local subscriber gone: the node leaves the topic, and a later subscriber gets the topic again.
      b3.close()
      const b4 = c.b.open(4)
      c.b.bus.subscribe(b4.id, 'hallway')
      await c.b.settled()
      c.a.bus.publish('hallway', ev(402))
      await until(() => b4.has(402), 'a new subscriber')
    })

    it('[W20] any topic string is carried (a topic kind the bus does not know)', async (c) => {
      const b1 = c.b.open(1)
      const topic = 'thread:42' as Topic
      c.b.bus.subscribe(b1.id, topic)
      await c.b.settled()
      c.a.bus.publish(topic, ev(500))
      await until(() => b1.has(500), 'the event on thread:42')
    })

    it('[W20] isOnline answers for members on any node, and stops when their last tab closes', async (c) => {
      const tab1 = c.b.open(11)
      const tab2 = c.b.open(11)
      await until(() => c.a.bus.isOnline(11), 'member 11 online as seen from node A')
      expect(c.b.bus.isOnline(11)).toBe(true)
      expect(c.a.bus.isOnline(12)).toBe(false)
      tab1.close()
      expect(c.b.bus.isOnline(11)).toBe(true)
      tab2.close()
      expect(c.b.bus.isOnline(11)).toBe(false)
      await until(() => !c.a.bus.isOnline(11), 'member 11 offline as seen from node A')
    })

    it('[W20] disconnecting a member, a session or the guests reaches their sockets on every node', async (c) => {
      const m1 = c.b.open(21, 501)
      const m2 = c.b.open(21, 502)
      const s = c.b.open(22, 600)
      const g = c.b.open(null)
      c.a.bus.disconnectUser(21, 4001, 'signed out', 502)
      c.a.bus.disconnectSession(600)
      c.a.bus.disconnectGuests(4003)
      await until(() => m1.closedWith === 4001 && s.closedWith === 4001 && g.closedWith === 4003, 'the sockets closed')
      expect(m2.closedWith).toBe(null)
    })

    it('[W21] the room registry: one holder per room, released rooms free, every node reads the hallway', async (c) => {
      expect(await c.a.registry.claim(1)).toBe(true)
      expect(await c.a.registry.claim(1)).toBe(true)
      expect(await c.b.registry.claim(1)).toBe(c.nodes === 1)
      expect(await c.b.registry.holder(1)).toBe(c.a.registry.node)
      await c.a.registry.setCard(1, { title: 'Morning' })
      await c.a.registry.setCard(2, { title: 'not held' })
      expect(await c.b.registry.hallway()).toEqual([{ roomId: 1, node: c.a.registry.node, card: { title: 'Morning' } }])
      await c.a.registry.release(1)
      expect(await c.b.registry.holder(1)).toBe(null)
      expect(await c.b.registry.hallway()).toEqual([])
      expect(await c.b.registry.claim(1)).toBe(true)
      expect(await c.a.registry.holder(1)).toBe(c.b.registry.node)
    })
  })
}

describe('on Redis only', () => {
  const it = (name: string, fn: () => Promise<void>) =>
    test(name, async () => {
      if (!redis) return console.warn('skipped: redis-server could not start')
      await fn()
    })

  it('[W21] a node that stops beating loses its members presence within its time to live', async () => {
    const c = await onRedis()
    c.a.open(31)
    await until(() => c.b.bus.isOnline(31), 'member 31 online as seen from node B')
    c.a.halt!()
    const stopped = Date.now()
    await until(() => !c.b.bus.isOnline(31), 'member 31 offline once node A stopped beating')
    // Not a timing: presence must not outlive the node's time to live by more than a few beats.
    expect(Date.now() - stopped).toBeLessThan(TTL_MS + 20 * BEAT_MS + 5000)
  })

  it('[W21] a room held by a node that stops renewing its lease can be claimed by another', async () => {
    const c = await onRedis()
    expect(await c.a.registry.claim(5)).toBe(true)
    await c.a.registry.setCard(5, { title: 'held by A' })
    // A renews: for longer than a lease, B keeps trying and cannot take the room.
    const end = Date.now() + 1.5 * TTL_MS
    await until(async () => {
      expect(await c.b.registry.claim(5)).toBe(false)
      return Date.now() > end
    }, 'a lease and a half')
    c.a.halt!()
    await until(() => c.b.registry.claim(5), 'node B taking room 5 once A stopped renewing')
    expect(await c.a.registry.holder(5)).toBe(c.b.registry.node)
    // The hallway no longer lists A's card for the room B now holds.
    expect(await c.b.registry.hallway()).toEqual([])
  })

  it('[W21] after Redis comes back empty (the clients gave up), nodes subscribe, tell presence again', async () => {
    const c = await onRedis()
    const b1 = c.b.open(41)
    c.b.bus.subscribe(b1.id, 'room:3')
    await c.b.settled()
    await until(() => c.a.bus.isOnline(41), 'member 41 online as seen from node A')
    // Redis stays away until both nodes' clients gave up retrying: the nodes then try again on their own.
    await redis!.restart(() =>
      until(() => c.a.redis.lost >= 2 && c.b.redis.lost >= 2, 'both nodes losing both connections for good'),
    )
    // What is published while a node is away is lost (pub/sub); once both are back, events flow again.
    let n = 600
    await until(() => {
      c.a.bus.publish('room:3', ev(++n))
      return b1.got.some((e) => e.type === 'presence' && e.userId > 600)
    }, 'an event on room:3 after the restart')
    await until(() => c.a.bus.isOnline(41), 'member 41 online again as seen from node A')
    // Node slots are not handed out again: a third node gets a new one, so connection ids stay unique.
    const third = await redisNode(redis!.url, `t${prefixes}:`)
    running.push(third)
    const ids = [b1.id, c.a.open(1).id, third.open(2).id].map((id) => Math.floor(id / 2 ** 32))
    expect(new Set(ids).size).toBe(3)
  })

  it('[W22] a rate limit is shared by the nodes: what one node spent, the other refuses', async () => {
    const cmd = [new RedisClient(redis!.url), new RedisClient(redis!.url)]
    const prefix = `rl${++prefixes}:`
    const [a, b] = cmd.map((c) => new SharedRateLimiter(5, 1 / 3600, c, prefix))
    try {
      for (let i = 0; i < 5; i++) expect(a!.take('ip')).toBe(0)
      await a!.settled()
      expect(a!.take('ip')).toBeGreaterThan(0)
      // B has not heard of the key: its first take is allowed on its own bucket and charged to the cluster's (at
      // most one take per node over the limit); from its answer on, B refuses like A.
      expect(b!.take('ip')).toBe(0)
      await b!.settled()
      expect(b!.take('ip')).toBeGreaterThan(0)
      // The debt is shared: A hears it on its next take and keeps refusing.
      await a!.settled()
      expect(a!.take('ip')).toBeGreaterThan(0)
      // Another key is untouched.
      expect(b!.take('other')).toBe(0)
    } finally {
      for (const c of cmd) c.close()
    }
  })
})
