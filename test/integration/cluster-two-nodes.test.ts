// Two real Townhall nodes on one Redis: node A in this process, node B a `townhall serve` child process, the same
// REDIS_URL, the same DATA_DIR (uploads) and the same database: Postgres (DATABASE_URL, a throwaway cluster) where it
// can start, else the SQLite file of DATA_DIR in WAL mode. A DM sent by a member connected to node A arrives live at a
// member connected to node B; presence crosses nodes; signing out on A closes the member's socket on B; a setting
// changed on A applies on B, and a push device subscribed on B is known on A; the members directory and the
// directory of rooms of node B hear of the changes made on node A. On Postgres, members on both nodes sending at
// once take distinct seqs in commit order (what two nodes on one SQLite file cannot: each keeps its own counter). A
// member sending fast on node A is read on node B in the order they sent (B57).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import { clientId, dm, follow, ok, person, send, type Person } from '../helpers/backchannel'
import { missing, startNode, stopNode, type Node } from '../helpers/cluster'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { createRoom, member } from '../helpers/members'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client, signedInClient, signIn, startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

let redis: TestRedis | null = null
let pg: TestPostgres | null = null
let a: TestServer | null = null
let b: Node | null = null
let probe: RedisClient | null = null

beforeAll(async () => {
  ;[redis, pg] = await Promise.all([startRedis(), startPostgres()])
  if (!redis) return
  const database: Record<string, string> = pg ? { DATABASE_URL: await pg.database('cluster_two') } : {}
  a = await startTestServer({ REDIS_URL: redis.url, MEDIA_WORKERS: '0', ...database })
  b = await startNode({ DATA_DIR: a.dataDir, REDIS_URL: redis.url, ...database })
  probe = new RedisClient(redis.url)
})

afterAll(async () => {
  probe?.close()
  await stopNode(b)
  await a?.stop()
  await redis?.stop()
  await pg?.stop()
})

/** Until node B's subscription to a member's topic is in Redis (a socket's subscriptions take one round trip). */
const subscribedOnB = (userId: number) =>
  until(async () => {
    const r = (await probe!.send('PUBSUB', ['NUMSUB', `th:t:user:${userId}`])) as [string, number]
    return Number(r[1]) >= 1
  }, `node B subscribed to user:${userId}`)

test('[W20] a DM from a member on node A arrives live at a member on node B; presence crosses nodes', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const alice: Person = await person(a!, 'alice')
  const bob: Person = await person(a!, 'bob')
  // Bob's tab on node B (his session is in the shared database); his tab on node A closes.
  bob.ws.close()
  const onB: WsClient = await connectWs(b!.url, { cookie: bob.http.cookie, origin: b!.origin })
  await subscribedOnB(bob.id)
  // Node A sees Bob online on node B.
  await until(() => a!.ctx.core.bus.isOnline(bob.id), 'bob online as seen from node A')
  expect((await alice.ws.request('presence.query', { userIds: [bob.id] })).online).toEqual([bob.id])

  const threadId = await dm(alice, bob)
  const sent = await send(alice, threadId, 'hello across nodes')
  const got = await onB.next('bc.message', (e) => e.message.id === sent.id, WAIT)
  expect(got.message.body).toBe('hello across nodes')
  expect(got.seq).toBe(sent.seq)

  // Signing Bob out everywhere on node A closes his socket on node B.
  const again = await signIn(a!, bob.name)
  await again.post('/api/auth/logout-all', {})
  expect((await onB.waitClosed()).code).toBe(4001)
  alice.ws.close()
})

test('[W4] followers hear a member go offline only when the last socket on any node closes', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const alice: Person = await person(a!, 'alice')
  const bob: Person = await person(a!, 'bob')
  await follow(alice, bob)
  const onB = await connectWs(b!.url, { cookie: bob.http.cookie, origin: b!.origin })
  await until(() => a!.ctx.core.bus.isOnline(bob.id) && a!.ctx.hub.connectionsOf(bob.id).length === 1, 'bob on both')
  // Bob's tab on node B is seen from node A (presence crosses nodes), so closing his tab on A tells nobody.
  // Node A must know of his tab on B itself (its replica of the other nodes' presence), not only of his tab on A.
  const bus = a!.ctx.cluster!.bus
  await until(async () => {
    await a!.ctx.cluster!.node.beat()
    return [...bus['remote'].values()].some((users) => users.has(bob.id))
  }, "node A knowing of bob's tab on node B")
  expect((await alice.ws.request('presence.query', { userIds: [bob.id] })).online).toEqual([bob.id])
  // Node A's word that bob's tab there closed (`-<slot>:<user>` on the presence channel), as Redis carries it.
  const left = `-${a!.ctx.cluster!.node.slot}:${bob.id}`
  const watcher = new RedisClient(redis.url)
  let told = false
  await watcher.subscribe('th:presence', (m) => {
    if (m === left) told = true
  })
  try {
    bob.ws.close()
    await until(() => a!.ctx.hub.connectionsOf(bob.id).length === 0, "node A closing bob's tab")
    // An event sent before the reply to a later request is queued by then.
    await alice.ws.request('ping')
    const offline = (e: { type: string; userId?: number; online?: boolean }) =>
      e.type === 'presence' && e.userId === bob.id && e.online === false
    expect(alice.ws.events.some(offline)).toBe(false)
    // Node B must have heard that word before bob's tab there closes (else, thinking him still on A, it rightly tells
    // nobody): it hears it on its subscriber connection, which delivers in publish order, so once Redis carried it, a
    // DM from alice that reaches bob's tab on node B comes after it. (A fixed window here failed on a busy machine.)
    await until(() => told, "node A's presence message that bob's tab there closed")
    const marker = await send(alice, await dm(alice, bob), 'still there?')
    await onB.next('bc.message', (e) => e.message.id === marker.id)
    // His last tab, on node B, closes: node B tells his followers, on node A.
    onB.close()
    await alice.ws.next(offline)
  } finally {
    watcher.close()
  }
  alice.ws.close()
})

test('[W27] a setting changed on node A applies on node B; a device subscribed on B is known on A', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const boss = await signedInClient(a!, 'boss', 'admin')
  const onB = (path: string, body?: unknown) =>
    fetch(`${b!.url}${path}`, {
      method: body ? 'POST' : 'GET',
      headers: { cookie: boss.cookie, origin: b!.origin, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    })
  const videoOnB = async () => (await (await onB('/api/admin/settings')).json()).settings.maxVideoMb
  expect(await videoOnB()).toBe(50)
  expect((await boss.patch('/api/admin/settings', { maxVideoMb: 7 })).status).toBe(200)
  await until(async () => (await videoOnB()) === 7, 'node B loading the settings changed on node A')

  // The boss subscribes a device on node B (a name that does not resolve is taken, and fails at each send).
  const p256dh = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url')
  const auth = Buffer.alloc(16, 1).toString('base64url')
  const sub = { endpoint: 'https://push.invalid/boss', keys: { p256dh, auth } }
  expect((await onB('/api/push/subscribe', sub)).status).toBe(201)
  // Node A, which saw no device of his at its start, now tries to send to it (and fails: the name does not resolve).
  const failed = a!.ctx.push.service.failed
  await until(async () => {
    await a!.ctx.push.api.notify(boss.user.id, 'dm', { title: 'hi', body: 'from node A', url: '/' })
    return a!.ctx.push.service.failed > failed
  }, 'node A sending to the device subscribed on node B')
})

test('[W28] the members directory follows the other node: a follow, profile and block on A are seen on B', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const carol: Person = await person(a!, 'carol')
  const dave: Person = await person(a!, 'dave')
  // Dave's requests go to node B (his session is in the shared database); carol's to node A.
  const onB = new Client({ url: b!.url, origin: b!.origin })
  onB.cookie = dave.http.cookie
  const carolOnB = async () => (await onB.get(`/api/users/${carol.name}`)).json.profile
  expect((await carolOnB()).followsYou).toBe(false)
  await follow(carol, dave)
  await until(async () => (await carolOnB()).followsYou === true, 'the follow seen on node B')
  await carol.http.patch('/api/me', { displayName: 'Carol on A' })
  await until(async () => (await carolOnB()).displayName === 'Carol on A', 'the profile seen on node B')
  // Someone who blocked you is not found (A5): node B stops showing carol to dave.
  await carol.http.put(`/api/users/${dave.name}/block`)
  await until(async () => (await onB.get(`/api/users/${carol.name}`)).status === 404, 'the block seen on node B')
  carol.ws.close()
  dave.ws.close()
})

test('[W29] the directory of rooms follows the other node: a room made, joined, ended on A is seen on B', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await member(a!, 'rh')
  const guest = await member(a!, 'rg')
  // A closed room made on A after B loaded its directory: B knows of the invitation only through Redis.
  const room = await createRoom(host, { kind: 'closed', invited: [guest.name] })
  const onB = new Client({ url: b!.url, origin: b!.origin })
  onB.cookie = guest.http.cookie
  const seenOnB = async () => await onB.get(`/api/rooms/${room.id}`)
  await until(async () => (await seenOnB()).json.mayJoin === true, 'the invitation seen on node B')
  await ok(host, 'room.join', { roomId: room.id })
  await ok(guest, 'room.join', { roomId: room.id })
  await ok(host, 'room.end', { roomId: room.id })
  // The history shows to those who were in the room: B knows the guest was (their stretch, written on A).
  await until(async () => (await seenOnB()).json.history?.length > 0, 'the ended room and its history on node B')
  expect((await seenOnB()).json.room.state).toBe('ended')
  host.ws.close()
  guest.ws.close()
})

test('[W21] a node whose REDIS_URL cannot be reached does not start, and says why without the password', async () => {
  const port = await freePort()
  let err: Error | null = null
  await startTestServer({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }).catch((e) => {
    err = e
  })
  expect(String(err)).toContain(`cannot connect to REDIS_URL (redis://:***@127.0.0.1:${port})`)
  expect(String(err)).not.toContain('hunter2')
})

test('[W37] members on two nodes on one Postgres sending at once take distinct seqs, in commit order', async () => {
  if (missing('cluster-two-nodes', redis, pg)) return
  const alice: Person = await person(a!, 'alice')
  const bob: Person = await person(a!, 'bob')
  const threadId = await dm(alice, bob)
  // Bob sends from node B, alice from node A; alice reads from a second tab, on node B.
  bob.ws.close()
  bob.ws = Object.assign(await connectWs(b!.url, { cookie: bob.http.cookie, origin: b!.origin }), { hello: null })
  const reader = {
    ...alice,
    ws: Object.assign(await connectWs(b!.url, { cookie: alice.http.cookie, origin: b!.origin }), { hello: null }),
  }
  const start = (await ok(reader, 'bc.sync', { after: 0 })).seq
  // Twenty sends each, all in flight at once on both nodes (group commits on both).
  const N = 20
  const sending = Promise.all(
    [alice, bob].flatMap((p) =>
      Array.from({ length: N }, (_, i) => ok(p, 'bc.send', { threadId, clientId: clientId(), body: `${p.name} ${i}` })),
    ),
  )
  // Meanwhile the reader syncs from where its last page ended each time it is told of a message, as a client does: a
  // seq that became visible after a higher one would be skipped.
  const read = new Map<number, number>()
  const reading = (async () => {
    let at = start
    while (read.size < 2 * N) {
      const page = await ok(reader, 'bc.sync', { after: at, limit: 100 })
      for (const m of page.messages) {
        expect(read.has(m.id)).toBe(false)
        read.set(m.id, m.seq)
      }
      at = page.seq
      if (!page.more && read.size < 2 * N) await reader.ws.next('bc.message', () => true, WAIT)
    }
  })()
  const acked = (await sending).map((r) => r.message)
  await reading
  const seqs = acked.map((m) => m.seq)
  expect(new Set(seqs).size).toBe(2 * N)
  // Nothing missed, nothing doubled, each with the seq its sender was given.
  expect([...read.entries()].sort((x, y) => x[1] - y[1])).toEqual(
    acked.map((m) => [m.id, m.seq] as [number, number]).sort((x, y) => x[1] - y[1]),
  )
  // A reader syncing from any of those seqs gets exactly what came after it.
  const sorted = [...seqs].sort((x, y) => x - y)
  for (const from of [start, ...sorted.filter((_, i) => i % 7 === 0)]) {
    const page = await ok(reader, 'bc.sync', { after: from, limit: 100 })
    expect(page.messages.map((m) => m.seq)).toEqual(sorted.filter((s) => s > from))
  }
  for (const p of [alice, bob, reader]) p.ws.close()
})

test('[B57] one tab sending fast on node A: a reader on node B gets them in the order sent, in seq order', async () => {
  if (missing('cluster-two-nodes', redis, pg)) return
  const alice: Person = await person(a!, 'alice')
  const bob: Person = await person(a!, 'bob')
  const threadId = await dm(alice, bob)
  // Bob reads on node B; alice sends from her one tab on node A, each send before the previous one is answered (as a
  // client's outbox does after a reconnect), within her socket's burst.
  bob.ws.close()
  const reader = await connectWs(b!.url, { cookie: bob.http.cookie, origin: b!.origin })
  await subscribedOnB(bob.id)
  const N = 50
  const acked = (
    await Promise.all(
      Array.from({ length: N }, (_, i) => ok(alice, 'bc.send', { threadId, clientId: clientId(), body: `m ${i}` })),
    )
  ).map((r) => r.message)
  await until(() => reader.events.filter((e) => e.type === 'bc.message').length >= N, 'bob receiving every message')
  const live = reader.events.filter((e) => e.type === 'bc.message').map((e) => [e.seq, e.message.body])
  // What bob got live is in seq order (B51), and that is the order alice sent them in: her messages' seqs follow
  // her sends (B57), so every client, ordering by seq, shows them as she wrote them.
  expect(live.map(([seq]) => seq)).toEqual([...live.map(([seq]) => seq)].sort((x, y) => x - y))
  expect(live.map(([, body]) => body)).toEqual(Array.from({ length: N }, (_, i) => `m ${i}`))
  expect(acked.map((m) => m.seq)).toEqual([...acked.map((m) => m.seq)].sort((x, y) => x - y))
  alice.ws.close()
  reader.close()
})
