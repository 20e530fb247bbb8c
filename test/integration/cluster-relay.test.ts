// A room bigger than one node (issue 11 point 4): origin → edge media. Real nodes on one Redis and one database
// (Postgres where it can start, else one SQLite file): A (in this process) holds the room, its speakers connect
// there; B (with a media worker) and C (without) serve their own sockets' listeners, from the speakers A relays to
// each of them once over UDP (M64–M67). Werift bots speak and listen; the payload names the speaker.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { Bot } from '../helpers/bot'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { startNode, type Node } from '../helpers/cluster'
import { bringUp, createRoom, member, ok, type Member } from '../helpers/members'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

const METRICS_TOKEN = 'relay-test-metrics-token'

let redis: TestRedis | null = null
let pg: TestPostgres | null = null
/** The database every node shares: Postgres's where it can start (else the SQLite file of A's DATA_DIR). */
let database: Record<string, string> = {}
let a: TestServer | null = null
let b: Node | null = null
let c: Node | null = null
let dNode: Node | null = null
const sockets: WsClient[] = []
const bots: Bot[] = []
const children: Subprocess[] = []

async function child(env: Record<string, string>): Promise<Node> {
  const node = await startNode({
    DATA_DIR: a!.dataDir,
    REDIS_URL: redis!.url,
    ...database,
    ROOM_GRACE_MS: '1000',
    METRICS_TOKEN,
    ...env,
  })
  children.push(node.proc)
  return node
}

beforeAll(async () => {
  ;[redis, pg] = await Promise.all([startRedis(), startPostgres()])
  if (!redis) return
  if (pg) database = { DATABASE_URL: await pg.database('cluster_relay') }
  a = await startTestServer({
    ...database,
    REDIS_URL: redis.url,
    MEDIA_WORKERS: '0',
    RTC_PORT: String(await freePort()),
    ROOM_GRACE_MS: '1000',
  })
  // B forwards in a media worker (the relay's commands cross a thread), C in its main thread.
  // D holds the room whose origin dies (M68).
  ;[b, c, dNode] = await Promise.all([
    child({ MEDIA_WORKERS: '1' }),
    child({ MEDIA_WORKERS: '0' }),
    child({ MEDIA_WORKERS: '0' }),
  ])
})

afterAll(async () => {
  for (const bot of bots) await bot.close().catch(() => {})
  for (const s of sockets) s.close()
  for (const proc of children)
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await proc.exited
    }
  await a?.stop()
  await redis?.stop()
  await pg?.stop()
})

/** A member signed in through A's database whose socket (and bot) is on `node`. */
async function on(node: Node, prefix: string, tag: string) {
  const m = await member(a!, prefix)
  m.ws.close()
  const ws = await connectWs(node.url, { cookie: m.http.cookie, origin: node.origin })
  sockets.push(ws)
  const bot = new Bot(ws, tag)
  bots.push(bot)
  return { ...m, ws: ws as Member['ws'], bot }
}

/** A counter of a child node's /metrics. */
async function metric(node: Node, name: string): Promise<number> {
  const r = await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  const line = (await r.text()).split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : Number.NaN
}

/** A's relay of the room to each edge, by node (its id and listeners), and the datagrams sent on each relay now. */
async function relayOf(roomId: number) {
  const debug = a!.ctx.relay!.debug()
  const report = await a!.ctx.media.service.relayReport()
  const edges = debug.out.find((r) => r.roomId === roomId)?.edges ?? []
  const sent = (relayId: number) => report.sent.find((s) => s.relayId === relayId)?.packets ?? 0
  return { edges, sent }
}

/** The uplink packets A took from the room's peers (its speakers' transports). */
async function uplinkPackets(roomId: number) {
  const t = await a!.ctx.media.service.transportsDebug(roomId)
  return t.reduce((n, x) => n + x.rtpIn, 0)
}

test('[M64][M65][M66][M67] listeners on B and C served by their own nodes; one relay per edge, bounded', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await member(a!, 'rh')
  sockets.push(host.ws)
  const hostBot = new Bot(host.ws, 'HOST')
  bots.push(hostBot)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  const hostOffer = await hostBot.connectAudio(room.id)
  const aPort = (await a!.ctx.media.service.rtcStats())!.udpPort
  // The stage connects to the origin.
  expect(hostOffer.sdp).toContain(` ${aPort} typ host`)
  hostBot.speak(20)

  const onB = [await on(b!, 'rb', 'LB1'), await on(b!, 'rb', 'LB2'), await on(b!, 'rb', 'LB3')]
  const onC = [await on(c!, 'rc', 'LC1')]
  for (const [node, list] of [
    [b!, onB],
    [c!, onC],
  ] as const)
    for (const l of list) {
      await ok(l, 'room.join', { roomId: room.id })
      // The offer is the edge's own: its RTC port, not A's.
      const offer = await l.bot.connectAudio(room.id)
      expect(offer.sdp).toContain(` ${node.rtcPort} typ host`)
      expect(offer.sdp).not.toContain(` ${aPort} typ host`)
    }
  for (const l of [...onB, ...onC]) await until(() => l.bot.heardFrom().has('HOST'), `${l.bot.tag} hearing the host`)

  // One relay per edge, whatever its listeners: B's three share one stream.
  const { edges } = await relayOf(room.id)
  expect(edges.map((e) => e.listeners).sort()).toEqual([1, 3])
  const toB = edges.find((e) => e.listeners === 3)!
  const toC = edges.find((e) => e.listeners === 1)!
  const up0 = await uplinkPackets(room.id)
  const sent0 = (await relayOf(room.id)).sent
  const [b0, c0] = [sent0(toB.relayId), sent0(toC.relayId)]
  await until(async () => (await uplinkPackets(room.id)) >= up0 + 100, 'A taking 100 more packets from the host')
  const up1 = await uplinkPackets(room.id)
  const sent1 = (await relayOf(room.id)).sent
  const uplink = up1 - up0
  // Each uplink packet went once to B and once to C (not once per listener).
  expect(Math.abs(sent1(toB.relayId) - b0 - uplink)).toBeLessThanOrEqual(3)
  expect(Math.abs(sent1(toC.relayId) - c0 - uplink)).toBeLessThanOrEqual(3)

  // B forwards each relayed packet to its three listeners, C to its one (their own SRTP; counted on each node).
  for (const [node, fanout] of [
    [b!, 3],
    [c!, 1],
  ] as const) {
    const r0 = await metric(node, 'townhall_media_relay_received_total')
    const f0 = await metric(node, 'townhall_forwarded_packets_total')
    await until(
      async () => (await metric(node, 'townhall_media_relay_received_total')) >= r0 + 100,
      'the edge taking 100 more relayed packets',
    )
    const r1 = await metric(node, 'townhall_media_relay_received_total')
    const f1 = await metric(node, 'townhall_forwarded_packets_total')
    const ratio = (f1 - f0) / (r1 - r0)
    expect(ratio).toBeGreaterThan(fanout - 0.5)
    expect(ratio).toBeLessThan(fanout + 0.5)
    expect(await metric(node, 'townhall_media_relay_refused_total')).toBe(0)
  }

  // [M66] Muted: A stops relaying the host at once (the bot still sends); unmuted, the relay and the audio resume.
  await ok(host, 'room.mute', { roomId: room.id, muted: true })
  const m0 = (await relayOf(room.id)).sent(toB.relayId)
  const mu0 = await uplinkPackets(room.id)
  await until(async () => (await uplinkPackets(room.id)) >= mu0 + 50, 'A taking 50 more packets from the muted host')
  expect((await relayOf(room.id)).sent(toB.relayId)).toBe(m0)
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  const back = Date.now()
  for (const l of onB) await until(() => l.bot.heardFrom(back).has('HOST'), `${l.bot.tag} hearing the host again`)

  // [M67] A listener on B brought on stage: told to connect again, now to A; heard on B and C through the relays.
  const [lb1, lb2, lb3] = onB as [(typeof onB)[0], (typeof onB)[0], (typeof onB)[0]]
  await bringUp(host, lb3, room.id)
  await lb3.ws.next('rtc.moved', (e) => e.roomId === room.id, WAIT)
  await lb3.bot.closeAudio()
  const moved = await lb3.bot.connectAudio(room.id)
  expect(moved.sdp).toContain(` ${aPort} typ host`)
  await ok(lb3, 'room.mute', { roomId: room.id, muted: false })
  lb3.bot.speak(10)
  await until(() => lb1.bot.heardFrom().has('LB3'), 'the listener on B hearing the speaker from B, through A')
  await until(() => onC[0]!.bot.heardFrom().has('LB3'), 'the listener on C hearing the speaker from B')
  await until(
    async () => (await relayOf(room.id)).edges.find((e) => e.relayId === toB.relayId)?.listeners === 2,
    'B relayed for two listeners',
  )

  // [M66] Moved off the stage: A stops relaying that voice.
  hostBot.silence()
  await ok(host, 'room.move', { roomId: room.id, userId: lb3.id })
  const s0 = (await relayOf(room.id)).sent(toC.relayId)
  const quiet = await uplinkPackets(room.id)
  await until(async () => (await uplinkPackets(room.id)) >= quiet + 50, 'A taking 50 more packets from the moved one')
  expect((await relayOf(room.id)).sent(toC.relayId)).toBe(s0)
  lb3.bot.silence()

  // [M66] The last listener on B leaves: A stops relaying to B (C keeps its relay).
  await ok(lb1, 'room.leave', { roomId: room.id })
  await ok(lb2, 'room.leave', { roomId: room.id })
  await ok(lb3, 'room.leave', { roomId: room.id })
  await until(
    async () => !(await relayOf(room.id)).edges.some((e) => e.relayId === toB.relayId),
    'A no longer relaying to B',
  )
  expect((await a!.ctx.media.service.relayReport()).sent.some((s) => s.relayId === toB.relayId)).toBe(false)
  expect((await relayOf(room.id)).edges.map((e) => e.relayId)).toEqual([toC.relayId])

  // [M68] An edge killed: once its lease runs out, A drops its relay; the room goes on.
  c!.proc.kill('SIGKILL')
  await c!.proc.exited
  await until(async () => (await relayOf(room.id)).edges.length === 0, 'A dropping the dead edge', WAIT)
  expect(a!.ctx.rooms.api.room(room.id)!.state).toBe('live')
  await ok(host, 'room.end', { roomId: room.id })
})

test('[M68] the origin killed: the edge keeps its listener peer; audio again once the room is adopted', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const d = dNode!
  // A room held by D; its host's socket and audio on D; a listener served by B.
  const host = await member(a!, 'oh')
  host.ws.close()
  const hostWs = await connectWs(d.url, { cookie: host.http.cookie, origin: d.origin })
  sockets.push(hostWs)
  const hostOnD = { ...host, ws: hostWs as Member['ws'] }
  const created = await fetch(`${d.url}/api/rooms`, {
    method: 'POST',
    headers: { cookie: host.http.cookie, origin: d.origin, 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'On D', kind: 'open' }),
  })
  expect(created.status).toBe(201)
  const room = ((await created.json()) as { room: { id: number } }).room
  await ok(hostOnD, 'room.join', { roomId: room.id })
  await ok(hostOnD, 'room.mute', { roomId: room.id, muted: false })
  const hostBot = new Bot(hostWs, 'DHOST')
  bots.push(hostBot)
  await hostBot.connectAudio(room.id)
  hostBot.speak(20)
  const listener = await on(b!, 'ol', 'OL')
  await ok(listener, 'room.join', { roomId: room.id })
  const offer = await listener.bot.connectAudio(room.id)
  expect(offer.sdp).toContain(` ${b!.rtcPort} typ host`)
  await until(() => listener.bot.heardFrom().has('DHOST'), 'the listener on B hearing the host on D')

  const onD = await a!.ctx.core.registry.holder(room.id)
  d.proc.kill('SIGKILL')
  await d.proc.exited
  // A looks for orphans at every poll (the nodes' own look is every 5 s), so A, not the edge, adopts it almost always:
  // the edge then subscribes to a new origin.
  await until(
    async () => {
      await a!.ctx.rooms.service.adoptOrphans()
      return ![null, onD].includes(await a!.ctx.core.registry.holder(room.id))
    },
    'the room adopted by a live node',
    60_000,
  )
  // The host comes back through A, its audio to the room's new node; the listener rejoins through B, and hears the
  // host on the peer it had: B subscribed to the new holder (no new rtc.connect).
  const again = await connectWs(a!.url, { cookie: host.http.cookie, origin: a!.origin })
  sockets.push(again)
  const hostBack = { ...host, ws: again as Member['ws'] }
  await ok(hostBack, 'room.join', { roomId: room.id })
  await ok(hostBack, 'room.mute', { roomId: room.id, muted: false })
  const backBot = new Bot(again, 'AHOST')
  bots.push(backBot)
  await backBot.connectAudio(room.id)
  backBot.speak(20)
  await ok(listener, 'room.join', { roomId: room.id })
  await until(() => listener.bot.heardFrom().has('AHOST'), 'the listener on B hearing the host again, same peer')
  expect(listener.bot.pc?.connectionState).toBe('connected')
  backBot.silence()
  await ok(hostBack, 'room.end', { roomId: room.id })
})
