// Rooms across nodes (issue 11 point 4): three real Townhall nodes on one Redis, one DATA_DIR and one database
// (Postgres, a throwaway cluster, where it can start; else the SQLite file of DATA_DIR in WAL mode), node A in this
// process, B and C `townhall serve` children, each with its own RTC port. A room lives on
// the node that creates it (the registry's holder); the hallway of every node lists it; members whose sockets are on
// B and C join it through their node, which forwards their room requests to A, and their audio connects to A (with
// MEDIA_EDGE=false; cluster-relay.test.ts has the listeners served by their own nodes).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient, type Subprocess } from 'bun'
import { Bot } from '../helpers/bot'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { firstNode, startNode, tearDown, type Node } from '../helpers/cluster'
import { createRoom, member, ok, type Member } from '../helpers/members'
import type { TestRedis } from '../helpers/redis'
import { Client, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

let cluster: Awaited<ReturnType<typeof firstNode>> = null
let redis: TestRedis | null = null
/** The database every node shares: Postgres's where it can start (else the SQLite file of A's DATA_DIR). */
let database: Record<string, string> = {}
let a: TestServer | null = null
let b: Node | null = null
let c: Node | null = null
const sockets: WsClient[] = []
const bots: Bot[] = []
/** Every child node started (stopped after, whatever a test did). */
const children: Subprocess[] = []

/** A `townhall serve` child on the same Redis and database as node A. */
async function child(env: Record<string, string> = {}): Promise<Node> {
  const node = await startNode({
    // The listeners' audio connects to the holder here (cluster-relay.test.ts has the edges).
    MEDIA_EDGE: 'false',
    DATA_DIR: a!.dataDir,
    REDIS_URL: redis!.url,
    ...database,
    ROOM_GRACE_MS: '1000',
    ...env,
  })
  children.push(node.proc)
  return node
}

beforeAll(async () => {
  cluster = await firstNode('cluster_rooms', { MEDIA_EDGE: 'false', ROOM_GRACE_MS: '1000' })
  if (!cluster) return
  ;({ redis, database, node: a } = cluster)
  ;[b, c] = await Promise.all([child(), child()])
})

afterAll(() => tearDown(cluster, { bots, sockets, children }))

/** One Redis command on a fresh connection (what the nodes subscribed to). */
async function probeRedis(cmd: string, args: string[]) {
  const client = new RedisClient(redis!.url)
  try {
    return await client.send(cmd, args)
  } finally {
    client.close()
  }
}

/** A member's HTTP client and socket on another node (their session is in the shared database). */
async function on(node: Node, m: Member): Promise<{ http: Client; ws: WsClient }> {
  const http = new Client(node)
  http.cookie = m.http.cookie
  const ws = await connectWs(node.url, { cookie: m.http.cookie, origin: node.origin })
  sockets.push(ws)
  return { http, ws }
}

/** The live rooms of a node's hallway, by id. */
const hallwayOf = async (http: Client) => {
  const r = await http.get('/api/rooms')
  expect(r.status).toBe(200)
  return r.json.live as { id: number; speakerCount: number; listenerCount: number }[]
}

test('[W23] a room lives on the node that creates it, and the hallway of every node lists it', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await member(a!, 'hw')
  sockets.push(host.ws)
  // Someone watching the hallway on C hears of the room created on A.
  const watcher = await member(a!, 'hx')
  sockets.push(watcher.ws)
  const watching = (await on(c!, watcher)).ws
  expect((await watching.request('hallway.watch', { on: true })).ok).toBe(true)
  await until(async () => {
    const r = (await probeRedis('PUBSUB', ['NUMSUB', 'th:t:hallway'])) as [string, number]
    return Number(r[1]) >= 1
  }, 'node C subscribed to the hallway topic')
  const room = await createRoom(host)
  expect(await a!.ctx.core.registry.holder(room.id)).toBe(a!.ctx.core.registry.node)
  await watching.next('hallway.changed', () => true)
  await ok(host, 'room.join', { roomId: room.id })
  const viewer = await member(a!, 'hv')
  sockets.push(viewer.ws)
  for (const node of [b!, c!]) {
    const { http } = await on(node, viewer)
    // The card follows the session on node A: its host on stage.
    await until(
      async () => (await hallwayOf(http)).some((r) => r.id === room.id && r.speakerCount === 1),
      'the room on the hallway of another node',
    )
  }
  expect((await hallwayOf(viewer.http)).map((r) => r.id)).toContain(room.id)
  // Ended: gone from the registry and from every hallway.
  await ok(host, 'room.end', { roomId: room.id })
  await until(async () => (await a!.ctx.core.registry.holder(room.id)) === null, 'the lease released')
  for (const node of [b!, c!]) {
    const { http } = await on(node, viewer)
    await until(async () => !(await hallwayOf(http)).some((r) => r.id === room.id), 'the room gone from the hallway')
  }
})

/** A member whose socket is on `node` (signed in through node A's database), with a werift bot on that socket. */
async function listenerOn(node: Node, prefix: string, tag: string) {
  const m = await member(a!, prefix)
  m.ws.close()
  const { ws } = await on(node, m)
  const bot = new Bot(ws, tag)
  bots.push(bot)
  return { ...m, ws: ws as Member['ws'], bot }
}

test('[W24] listeners on B and C join a room held by A and hear it; a hand raised on C reaches A', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await member(a!, 'ch')
  const hostBot = new Bot(host.ws, 'HOST')
  bots.push(hostBot)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  await hostBot.connectAudio(room.id)
  hostBot.speak(20)

  const onB = await listenerOn(b!, 'lb', 'LB')
  const onC = await listenerOn(c!, 'lc', 'LC')
  for (const l of [onB, onC]) {
    // The join runs on node A (its snapshot has the host) though the socket is on B or C.
    const snap = await ok(l, 'room.join', { roomId: room.id })
    expect(snap.me.role).toBe('audience')
    expect(snap.participants.map((p) => p.user.id)).toContain(host.id)
    expect(a!.ctx.rooms.service.participant(room.id, `u:${l.id}`)?.role).toBe('audience')
    // Their audio connects to node A: its offer names A's RTC port, not their own node's.
    const offer = await l.bot.connectAudio(room.id)
    const aPort = (await a!.ctx.media.service.rtcStats())!.udpPort
    expect(offer.sdp).toContain(` ${aPort} typ host`)
  }
  // Both hear the host (the packets name their speaker).
  for (const l of [onB, onC])
    await until(() => l.bot.heardFrom().has('HOST'), `the listener on ${l.bot.tag} hearing the host`)
  // Room events reach them on their node: the other listener's arrival was published on A.
  await onB.ws.next('room.joined', (e) => e.participant.user.id === onC.id, WAIT)

  // A hand raised on C reaches the host on A (and B).
  await ok(onC, 'room.hand', { roomId: room.id, up: true })
  const seen = await host.ws.next(
    'room.participant',
    (e) => e.participant.user.id === onC.id && e.participant.hand !== null,
    WAIT,
  )
  expect(seen.participant.role).toBe('audience')
  await onB.ws.next('room.participant', (e) => e.participant.user.id === onC.id && e.participant.hand !== null, WAIT)

  // Moderation from A reaches a listener on C: brought on stage, they are heard by the listener on B.
  await ok(host, 'room.invite', { roomId: room.id, userId: onC.id })
  await onC.ws.next('room.participant', (e) => e.participant.user.id === onC.id && e.participant.invited, WAIT)
  await ok(onC, 'room.respond', { roomId: room.id, accept: true })
  expect(a!.ctx.rooms.service.participant(room.id, `u:${onC.id}`)?.role).toBe('speaker')
  onC.bot.speak(10)
  await until(() => onB.bot.heardFrom().has('LC'), 'the listener on B hearing the speaker on C')
  onC.bot.silence()
  hostBot.silence()

  // Leaving from B: gone from the room on A.
  await ok(onB, 'room.leave', { roomId: room.id })
  expect(a!.ctx.rooms.service.participant(room.id, `u:${onB.id}`)).toBeNull()
  await host.ws.next('room.left', (e) => e.userId === onB.id, WAIT)

  // A socket on C that closes: A keeps the seat for the grace period, then drops it.
  await onC.bot.close()
  await host.ws.next('room.participant', (e) => e.participant.user.id === onC.id && e.participant.away, WAIT)
  await host.ws.next('room.left', (e) => e.userId === onC.id && e.reason === 'timeout', WAIT)
  expect(a!.ctx.rooms.service.participant(room.id, `u:${onC.id}`)).toBeNull()
  await ok(host, 'room.end', { roomId: room.id })
})

test('[W25] SIGTERM drains a node: no new room, sockets reconnect, rooms told and ended, exit', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const DRAIN = 3000
  // Its rooms end rather than move to A, B or C (W45: cluster-handover.test.ts).
  const d = await child({ ROOM_DRAIN_MS: String(DRAIN), ROOM_HANDOVER: 'false' })
  const host = await member(a!, 'dh')
  host.ws.close()
  const hostOnD = await on(d, host)
  const room = (await hostOnD.http.post('/api/rooms', { title: 'On D', kind: 'open' })).json.room as { id: number }
  expect(await a!.ctx.core.registry.holder(room.id)).not.toBe(a!.ctx.core.registry.node)
  expect((await hostOnD.ws.request('room.join', { roomId: room.id })).ok).toBe(true)
  // A listener on node A joins the room held by D (A forwards to D).
  const listener = await member(a!, 'dl')
  sockets.push(listener.ws)
  await ok(listener, 'room.join', { roomId: room.id })
  await until(async () => (await hallwayOf(listener.http)).some((r) => r.id === room.id), 'the room of D on A')

  const before = Date.now()
  d.proc.kill('SIGTERM')
  // D's sockets are told to reconnect; the room's people are told when it ends.
  await hostOnD.ws.next('node.draining', () => true, WAIT)
  const closing = await listener.ws.next('room.closing', (e) => e.roomId === room.id, WAIT)
  expect(closing.endsAt).toBeGreaterThanOrEqual(before + DRAIN)
  // While it drains, D makes no room live (the client goes to another node); A still does.
  const refused = await hostOnD.http.post('/api/rooms', { title: 'Too late', kind: 'open' })
  expect(refused.status).toBe(503)
  expect(refused.json.error.code).toBe('node_draining')
  // The room ends after the drain time, D exits, and the room leaves every hallway.
  await listener.ws.next('room.ended', (e) => e.roomId === room.id, WAIT)
  expect(Date.now()).toBeGreaterThanOrEqual(closing.endsAt - 50)
  expect(await d.proc.exited).toBe(0)
  expect(a!.ctx.rooms.api.room(room.id)!.state).toBe('ended')
  expect(await a!.ctx.core.registry.holder(room.id)).toBeNull()
  expect((await hallwayOf(listener.http)).some((r) => r.id === room.id)).toBe(false)
})

test('[W36] a draining node leaves the balancer: /healthz 503 draining, a socket opening there sent on', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  // Its live room keeps it draining (not handed over, W45).
  const d = await child({ ROOM_DRAIN_MS: '3000', ROOM_HANDOVER: 'false' })
  const healthz = async () => {
    const r = await fetch(`${d.url}/healthz`)
    return { status: r.status, body: (await r.json()) as { status: string } }
  }
  expect(await healthz()).toMatchObject({ status: 200, body: { status: 'ok' } })
  const host = await member(a!, 'wh')
  host.ws.close()
  const hostOnD = await on(d, host)
  const room = (await hostOnD.http.post('/api/rooms', { title: 'Draining', kind: 'open' })).json.room as { id: number }
  expect((await hostOnD.ws.request('room.join', { roomId: room.id })).ok).toBe(true)
  d.proc.kill('SIGTERM')
  await hostOnD.ws.next('node.draining', () => true, WAIT)
  // The load balancer's health check now takes D out of its rotation.
  expect(await healthz()).toMatchObject({ status: 503, body: { status: 'draining' } })
  // A socket that reaches D anyway (before the balancer's next check) is sent on at once.
  const late = await member(a!, 'wl')
  late.ws.close()
  const lateOnD = await on(d, late)
  await lateOnD.ws.next('node.draining', () => true, WAIT)
  expect(await d.proc.exited).toBe(0)
})

test('[W26] a node killed: its sockets rejoin elsewhere, the room on A goes on, its rooms adopted', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const e = await child()
  // A room on A: the host speaks; two listeners on E.
  const host = await member(a!, 'kh')
  sockets.push(host.ws)
  const hostBot = new Bot(host.ws, 'HOST')
  bots.push(hostBot)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  await hostBot.connectAudio(room.id)
  hostBot.speak(20)
  const back = await listenerOn(e, 'kb', 'KB')
  const gone = await listenerOn(e, 'kg', 'KG')
  for (const l of [back, gone]) await ok(l, 'room.join', { roomId: room.id })
  await back.bot.connectAudio(room.id)
  await until(() => back.bot.heardFrom().has('HOST'), 'the listener on E hearing the host')
  // A room on E, with a member on A in it.
  const host2 = await member(a!, 'k2')
  host2.ws.close()
  const host2OnE = await on(e, host2)
  const room2 = (await host2OnE.http.post('/api/rooms', { title: 'On E', kind: 'open' })).json.room as { id: number }
  expect((await host2OnE.ws.request('room.join', { roomId: room2.id })).ok).toBe(true)
  const nodeE = await a!.ctx.core.registry.holder(room2.id)
  expect(nodeE).not.toBeNull()
  const guest2 = await member(a!, 'k3')
  sockets.push(guest2.ws)
  await ok(guest2, 'room.join', { roomId: room2.id })

  const killedAt = Date.now()
  e.proc.kill('SIGKILL')
  await e.proc.exited
  // A request for E's room while E still holds its lease: a clear error, not a hang.
  const hand = await guest2.ws.request('room.hand', { roomId: room2.id, up: true })
  expect(hand.ok).toBe(false)
  expect(hand.error.code).toBe('room_holder_unreachable')

  // The listener's socket closed; it reconnects to C and rejoins: the same seat on A, and the host heard again.
  await back.ws.waitClosed()
  await back.bot.closeAudio()
  const again = await on(c!, back)
  expect(Date.now() - killedAt).toBeLessThan(10_000)
  const snap = await again.ws.request('room.join', { roomId: room.id })
  expect(snap.ok).toBe(true)
  expect(snap.me.role).toBe('audience')
  const rebot = new Bot(again.ws, 'KB2')
  bots.push(rebot)
  await rebot.connectAudio(room.id)
  await until(() => rebot.heardFrom().has('HOST'), 'the listener back through C hearing the host')
  expect(a!.ctx.rooms.api.room(room.id)!.state).toBe('live')

  // The listener who does not come back: once E's heartbeat expires, A closes E's connections; the seat waits out the
  // grace period, then leaves.
  await host.ws.next('room.left', (ev) => ev.userId === gone.id && ev.reason === 'timeout')
  expect(a!.ctx.rooms.api.participant(room.id, `u:${back.id}`)?.role).toBe('audience')

  // E's own room: once nobody holds it, a live node adopts it; its members rejoin through their nodes.
  // Adopted: held by a live node (E's lease on it first runs out).
  await until(async () => ![null, nodeE].includes(await a!.ctx.core.registry.holder(room2.id)), 'room 2 adopted')
  const rejoin = await guest2.ws.request('room.join', { roomId: room2.id })
  expect(rejoin.ok).toBe(true)
  await ok(guest2, 'room.hand', { roomId: room2.id, up: true })
  hostBot.silence()
})
