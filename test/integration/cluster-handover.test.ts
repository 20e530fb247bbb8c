// A draining node hands its live rooms to another node instead of ending them (issue 11 point 4; W45–W47). Node B runs
// in this process; node D is a `townhall serve` child on the same Redis and database (Postgres where it can start,
// else the SQLite file of B's DATA_DIR), given SIGTERM while it holds a room with a speaker (a werift bot) and
// listeners; a child killed instead has its recorded room adopted by B, which records it on. The fallback (no other
// node, or none answering) runs on nodes of their own Redis.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient, type Subprocess } from 'bun'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeCapture } from '../../server/replays/capture-format'
import { Bot } from '../helpers/bot'
import { firstNode, startNode, tearDown, type Node } from '../helpers/cluster'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client, startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

/** D's drain time: a handover must finish well before it. */
const DRAIN_MS = 30_000

let cluster: Awaited<ReturnType<typeof firstNode>> = null
let redis: TestRedis | null = null
let database: Record<string, string> = {}
let b: TestServer | null = null
const sockets: WsClient[] = []
const bots: Bot[] = []
const children: Subprocess[] = []
const servers: TestServer[] = []
const redises: TestRedis[] = []

beforeAll(async () => {
  cluster = await firstNode('cluster_handover', { MEDIA_EDGE: 'false' })
  if (!cluster) return
  ;({ redis, database, node: b } = cluster)
})

afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => {})
  for (const r of redises) await r.stop()
  await tearDown(cluster, { bots, sockets, children })
})

/** A member's socket on another node (their session is in the shared database). */
async function on(node: { url: string; origin: string }, m: Member): Promise<WsClient> {
  const ws = await connectWs(node.url, { cookie: m.http.cookie, origin: node.origin })
  sockets.push(ws)
  return ws
}

/** A new member (signed up through B) whose socket is on `node`. */
async function memberOn(node: Node, prefix: string): Promise<Member> {
  const m = await member(b!, prefix)
  m.ws.close()
  return { ...m, ws: (await on(node, m)) as Member['ws'] }
}

/** The speakers' tags in a capture file (the bots' packets name them). */
function tags(roomId: number, userId: number) {
  const p = join(b!.dataDir, 'recordings', String(roomId), `${userId}.cap`)
  if (!existsSync(p)) return new Set<string>()
  return new Set(decodeCapture(readFileSync(p)).records.map((r) => r.payload.toString('latin1', 3, 3 + r.payload[2]!)))
}

const seatOn = (s: TestServer, roomId: number, m: Member) => s.ctx.rooms.service.participant(roomId, `u:${m.id}`)

/** A child node on B's Redis and database (and DATA_DIR: one for every node). */
async function child(env: Record<string, string> = {}) {
  const node = await startNode({
    MEDIA_EDGE: 'false',
    DATA_DIR: b!.dataDir,
    REDIS_URL: redis!.url,
    ...database,
    ...env,
  })
  children.push(node.proc)
  return node
}

/** A recorded room held by `node`, its host (socket on `node`) speaking through a bot and recorded there. */
async function speakingHost(node: Node, tag: string) {
  const host = await memberOn(node, 'hh')
  const bot = new Bot(host.ws, tag)
  bots.push(bot)
  const http = new Client(node)
  http.cookie = host.http.cookie
  const res = await http.post('/api/rooms', { title: 'Moves', kind: 'open', recording: true })
  expect(res.status).toBe(201)
  const room = res.json.room as { id: number }
  const holder = await b!.ctx.core.registry.holder(room.id)
  expect(holder).not.toBeNull()
  expect(holder).not.toBe(b!.ctx.core.registry.node)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  await ok(host, 'room.consent', { roomId: room.id, consent: true })
  await bot.connectAudio(room.id)
  bot.speak(20)
  // Recorded where it is held (the capture file in the DATA_DIR every node shares).
  await until(() => tags(room.id, host.id).has(tag), `${tag} recorded`)
  return { host, bot, room, holder }
}

test('[W45][W46] SIGTERM: the room moves to another node, its members find their seats there, not ended', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const d = await child({ ROOM_DRAIN_MS: String(DRAIN_MS) })
  // A room held by D: its host speaks (a bot on D), a listener on D raises a hand, a member on B is a muted speaker.
  const { host, room } = await speakingHost(d, 'HOST')
  const handUp = await memberOn(d, 'hu')
  await ok(handUp, 'room.join', { roomId: room.id })
  await ok(handUp, 'room.hand', { roomId: room.id, up: true })
  const speaker = await member(b!, 'hs')
  sockets.push(speaker.ws)
  await ok(speaker, 'room.join', { roomId: room.id })
  await ok(host, 'room.invite', { roomId: room.id, userId: speaker.id })
  await ok(speaker, 'room.respond', { roomId: room.id, accept: true, muted: true })
  const listenerBot = new Bot(speaker.ws, 'SPK')
  bots.push(listenerBot)
  await listenerBot.connectAudio(room.id)
  await until(() => listenerBot.heardFrom().has('HOST'), 'the speaker on B hearing the host on D')

  // A second room on D, moved at the same time.
  const other = await memberOn(d, 'ho')
  const otherHttp = new Client(d)
  otherHttp.cookie = other.http.cookie
  const room2 = (await otherHttp.post('/api/rooms', { title: 'Moves too', kind: 'open' })).json.room as { id: number }
  await ok(other, 'room.join', { roomId: room2.id })

  const before = Date.now()
  d.proc.kill('SIGTERM')
  // Everyone in the room is told it moves (not that it ends); D's sockets are then sent on.
  for (const m of [speaker, host, handUp]) await m.ws.next('room.moving', (e) => e.roomId === room.id, WAIT)
  await host.ws.next('node.draining', () => true, WAIT)
  // B holds it now, resumed from what D saved.
  expect(await b!.ctx.core.registry.holder(room.id)).toBe(b!.ctx.core.registry.node)
  expect(b!.ctx.rooms.service.session(room.id)).not.toBeNull()
  await other.ws.next('room.moving', (e) => e.roomId === room2.id, WAIT)
  expect(await b!.ctx.core.registry.holder(room2.id)).toBe(b!.ctx.core.registry.node)
  // D stops well before its drain time: it had nothing left to wind down.
  expect(await d.proc.exited).toBe(0)
  const took = Date.now() - before
  console.log(`handover: D exited ${took} ms after SIGTERM (ROOM_DRAIN_MS ${DRAIN_MS})`)
  expect(took).toBeLessThan(DRAIN_MS / 2)
  expect(b!.ctx.rooms.api.room(room.id)!.state).toBe('live')
  // Listed on the hallway still, from B's card now.
  await until(
    async () => ((await speaker.http.get('/api/rooms')).json.live as { id: number }[]).some((r) => r.id === room.id),
    'the room on the hallway, held by B',
  )

  // The members rejoin through B: the same seats (role, hand, mute), waiting for them "away" until then.
  expect(seatOn(b!, room.id, handUp)).toMatchObject({ role: 'audience' })
  const hostAgain = await on(b!, host)
  const back = await hostAgain.request('room.join', { roomId: room.id })
  expect(back.ok).toBe(true)
  expect(back.me).toMatchObject({ role: 'host', muted: false })
  const handAgain = await on(b!, handUp)
  const handBack = await handAgain.request('room.join', { roomId: room.id })
  expect(handBack.ok).toBe(true)
  expect(handBack.me.role).toBe('audience')
  expect(handBack.me.hand).not.toBeNull()
  // The member whose socket was on B all along joins again over the same socket.
  const spkBack = await speaker.ws.request('room.join', { roomId: room.id })
  expect(spkBack.ok).toBe(true)
  expect(spkBack.me).toMatchObject({ role: 'speaker', muted: true })
  expect(spkBack.participants.find((p) => p.user.id === handUp.id)?.hand).not.toBeNull()

  // The host's audio connects to B, and the speaker on B hears it from there.
  const hostBot2 = new Bot(hostAgain, 'HOST2')
  bots.push(hostBot2)
  const offer = await hostBot2.connectAudio(room.id)
  expect(offer.sdp).toContain(` ${(await b!.ctx.media.service.rtcStats())!.udpPort} typ host`)
  hostBot2.speak(20)
  await listenerBot.closeAudio()
  const hearing = new Bot(speaker.ws, 'SPK2')
  bots.push(hearing)
  await hearing.connectAudio(room.id)
  await until(() => hearing.heardFrom().has('HOST2'), 'the speaker on B hearing the host again, through B')
  // B records the room on, appending to the same capture file (which still reads back whole).
  await until(() => tags(room.id, host.id).has('HOST2'), 'B recording the host into the same file')
  hostBot2.silence()

  // Never ended, and a room action goes on (B acts on it).
  for (const ws of [speaker.ws, hostAgain, handAgain])
    expect(ws.events.some((e) => e.type === 'room.ended')).toBe(false)
  expect(speaker.ws.events.some((e) => e.type === 'room.closing')).toBe(false)
  await ok(speaker, 'room.mute', { roomId: room.id, muted: false })
  expect(seatOn(b!, room.id, speaker)?.muted).toBe(false)
})

test('[W26][W46] a node that dies: the node adopting its recorded room records it on, into the same file', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const e = await child()
  const { host, bot, room, holder } = await speakingHost(e, 'HOSTE')
  bot.silence()
  e.proc.kill('SIGKILL')
  await e.proc.exited
  // Its lease expires, and B (the only other node) adopts the room at its second look.
  await until(
    async () => ![null, holder].includes(await b!.ctx.core.registry.holder(room.id)),
    'the room adopted',
    60_000,
  )
  const again = await on(b!, host)
  const back = await again.request('room.join', { roomId: room.id })
  expect(back.ok).toBe(true)
  expect(back.me.role).toBe('host')
  // A crash saved no mutes: the seats come back muted (R14).
  expect((await again.request('room.mute', { roomId: room.id, muted: false })).ok).toBe(true)
  const bot2 = new Bot(again, 'HOSTE2')
  bots.push(bot2)
  await bot2.connectAudio(room.id)
  bot2.speak(20)
  await until(() => tags(room.id, host.id).has('HOSTE2'), 'B recording the adopted room into the same file')
  bot2.silence()
})

/** One in-process node on a Redis of its own (no other node). */
async function lonelyNode() {
  const own = await startRedis()
  redises.push(own!)
  const s = await startTestServer({
    REDIS_URL: own!.url,
    MEDIA_WORKERS: '0',
    RTC_PORT: String(await freePort()),
    ROOM_DRAIN_MS: '1500',
  })
  servers.push(s)
  return { s, redis: own! }
}

/** A room held by `s` with its host in it. */
async function liveRoom(s: TestServer) {
  const host = await member(s, 'fh')
  sockets.push(host.ws)
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  return { host, room }
}

test('[W47][W25] no other node to take it: the room is told it ends, and ends, as before', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const { s } = await lonelyNode()
  const { host, room } = await liveRoom(s)
  const before = Date.now()
  const drained = s.drain()
  const closing = await host.ws.next('room.closing', (e) => e.roomId === room.id, WAIT)
  expect(closing.endsAt).toBeGreaterThanOrEqual(before + 1500)
  // Told at once: the offer found no listener (the node itself stopped listening), so no wait for an answer.
  expect(closing.endsAt - before).toBeLessThan(3000 + 1500)
  await host.ws.next('room.ended', (e) => e.roomId === room.id, WAIT)
  await drained
  expect(host.ws.events.some((e) => e.type === 'room.moving')).toBe(false)
  expect(s.ctx.rooms.api.room(room.id)!.state).toBe('ended')
})

test('[W47] a node that hears the offer but does not take the room in time: the room stays and ends here', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const { s, redis: own } = await lonelyNode()
  // Something listening on the offers' channel that never answers (a node stuck mid-start, say).
  const silent = new RedisClient(own.url)
  await silent.subscribe('th:ho', () => {})
  try {
    const { host, room } = await liveRoom(s)
    const before = Date.now()
    const drained = s.drain()
    const closing = await host.ws.next('room.closing', (e) => e.roomId === room.id, WAIT)
    // Told only once the offer went unanswered (HANDOVER_TIMEOUT_MS, 3 s); its seats are back on this node.
    expect(closing.endsAt - before).toBeGreaterThanOrEqual(3000 + 1500)
    expect(s.ctx.rooms.service.session(room.id)).not.toBeNull()
    expect(await s.ctx.core.registry.holder(room.id)).toBe(s.ctx.core.registry.node)
    await host.ws.next('room.ended', (e) => e.roomId === room.id, WAIT)
    await drained
    expect(host.ws.events.some((e) => e.type === 'room.moving')).toBe(false)
    expect(s.ctx.rooms.api.room(room.id)!.state).toBe('ended')
  } finally {
    silent.close()
  }
})
