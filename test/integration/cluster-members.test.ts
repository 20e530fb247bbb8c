// A member's place in rooms is the same on every node (issue 11): two real Townhall nodes on one Redis and one
// database (Postgres where it can start, else the SQLite file of A's DATA_DIR), node A in this process, B a
// `townhall serve` child. A ban removes the member from rooms held by either node; the admin console counts both
// nodes' live rooms; joining a room on one node leaves the member's seat in a room on the other; a member made on B a
// moment ago joins a room on A with their profile, though A has not heard of them yet; a guest's socket (guests
// allowed) that joins a room on one node leaves its guest seat in a room on the other.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { DirectoryChange } from '../../server/accounts/directory'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { startNode, stopNode, type Node } from '../helpers/cluster'
import { member, ok, roomWith, type Member } from '../helpers/members'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

let redis: TestRedis | null = null
let pg: TestPostgres | null = null
let a: TestServer | null = null
let b: Node | null = null
let admin: Client
const sockets: WsClient[] = []
/** Long enough that a seat left to wait out its grace period cannot pass for one removed (the old behaviour). */
const GRACE = '60000'

beforeAll(async () => {
  ;[redis, pg] = await Promise.all([startRedis(), startPostgres()])
  if (!redis) return
  const database: Record<string, string> = pg ? { DATABASE_URL: await pg.database('cluster_members') } : {}
  const shared = { ...database, REDIS_URL: redis.url, MEDIA_EDGE: 'false', ROOM_GRACE_MS: GRACE, GUESTS: 'true' }
  a = await startTestServer({ ...shared, MEDIA_WORKERS: '0', RTC_PORT: String(await freePort()) })
  b = await startNode({ ...shared, DATA_DIR: a.dataDir })
  admin = await signedInClient(a, 'xadmin', 'admin')
})

afterAll(async () => {
  for (const s of sockets) s.close()
  await stopNode(b)
  await a?.stop()
  await redis?.stop()
  await pg?.stop()
})

/** A member's HTTP client and socket on node B (their session is in the shared database). */
async function onB(m: Member): Promise<Member> {
  const http = Object.assign(new Client(b!), { user: m.http.user })
  http.cookie = m.http.cookie
  const ws = (await connectWs(b!.url, { cookie: m.http.cookie, origin: b!.origin })) as Member['ws']
  sockets.push(ws)
  return { ...m, http, ws }
}

/** A new member with their socket on A, or (closed there) on B. */
async function someone(prefix: string, node: 'a' | 'b' = 'a') {
  const m = await member(a!, prefix)
  if (node === 'a') {
    sockets.push(m.ws)
    return m
  }
  m.ws.close()
  return onB(m)
}

/** A live room held by B: its host's socket is on B, and they are seated. */
async function roomOnB(host: Member) {
  const r = await host.http.post('/api/rooms', { title: 'On B', kind: 'open' })
  expect(r.status).toBe(201)
  const room = r.json.room as { id: number }
  expect(await a!.ctx.core.registry.holder(room.id)).not.toBe(a!.ctx.core.registry.node)
  await ok(host, 'room.join', { roomId: room.id })
  return room
}

test('[W42] the admin console counts the live rooms of every node, asked on either node', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  // A room on A with two people, one on B with one.
  const hostA = await someone('sa')
  const roomA = await roomWith(hostA, [])
  const listener = await someone('sl', 'b')
  await ok(listener, 'room.join', { roomId: roomA.id })
  const hostB = await someone('sb', 'b')
  const roomB = await roomOnB(hostB)
  const adminOnB = new Client(b!)
  adminOnB.cookie = admin.cookie
  for (const http of [admin, adminOnB])
    await until(async () => {
      const r = await http.get('/api/admin/stats')
      expect(r.status).toBe(200)
      return r.json.stats.liveRooms === 2 && r.json.stats.inRooms === 3
    }, 'both nodes live rooms and their people in the stats')
  // /metrics stays per node: A counts its own room only.
  expect(a!.ctx.rooms.service.stats()).toEqual({ liveRooms: 1, participants: 2 })
  await ok(hostA, 'room.end', { roomId: roomA.id })
  await ok(hostB, 'room.end', { roomId: roomB.id })
  await until(
    async () => (await admin.get('/api/admin/stats')).json.stats.liveRooms === 0,
    'the ended rooms gone from the stats',
  )
})

test('[W41] one path removes from the rooms of every node at once: a ban on A, an account deleted on B', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const cases: { room: 'a' | 'b'; member: 'a' | 'b'; cut: (m: Member) => Promise<{ status: number }> }[] = [
    // The admin's request reaches A; the seat is in a room held by B (the member's join forwarded there).
    { room: 'b', member: 'a', cut: (m) => admin.post(`/api/admin/members/${m.id}/ban`, {}) },
    // The erasure runs on B; the seat is in a room held by A.
    { room: 'a', member: 'b', cut: (m) => m.http.post('/api/me/delete', { password: PASSWORD }) },
  ]
  for (const c of cases) {
    const host = await someone('rh', c.room)
    const room = c.room === 'a' ? await roomWith(host, []) : await roomOnB(host)
    const gone = await someone('rg', c.member)
    await ok(gone, 'room.join', { roomId: room.id })
    await host.ws.next('room.joined', (e) => e.participant.user.id === gone.id, WAIT)
    expect((await c.cut(gone)).status).toBe(200)
    await gone.ws.waitClosed()
    // Removed, not left to wait out the grace period (60 s here) as the seat of a socket that closed.
    const left = await host.ws.next('room.left', (e) => e.userId === gone.id, WAIT)
    expect(left.reason).toBe('removed')
    const snap = await ok(host, 'room.join', { roomId: room.id })
    expect(snap.participants.map((p) => p.user.id)).not.toContain(gone.id)
    await ok(host, 'room.end', { roomId: room.id })
  }
})

test('[W43] one member, one room: joining a room held by B leaves the seat in a room held by A', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const hostA = await someone('oa')
  const roomA = await roomWith(hostA, [])
  const hostB = await someone('ob', 'b')
  const roomB = await roomOnB(hostB)
  const mover = await someone('om')
  await ok(mover, 'room.join', { roomId: roomA.id })
  await hostA.ws.next('room.joined', (e) => e.participant.user.id === mover.id, WAIT)
  // The same socket (on A) joins B's room: the join runs on B, and A's room sees the member leave.
  const snap = await ok(mover, 'room.join', { roomId: roomB.id })
  expect(snap.me.role).toBe('audience')
  const left = await hostA.ws.next('room.left', (e) => e.userId === mover.id, WAIT)
  expect(left).toMatchObject({ roomId: roomA.id, reason: 'left' })
  expect(a!.ctx.rooms.api.participant(roomA.id, `u:${mover.id}`)).toBeNull()
  // Still seated on B, and their socket follows B's room.
  await ok(hostB, 'room.mute', { roomId: roomB.id, muted: false })
  await mover.ws.next('room.participant', (e) => e.participant.user.id === hostB.id, WAIT)
  // Back to A's room from a socket on B: B's seat goes.
  const moverOnB = await onB(mover)
  await ok(moverOnB, 'room.join', { roomId: roomA.id })
  const leftB = await hostB.ws.next('room.left', (e) => e.userId === mover.id, WAIT)
  expect(leftB).toMatchObject({ roomId: roomB.id, reason: 'left' })
  expect(a!.ctx.rooms.api.participant(roomA.id, `u:${mover.id}`)?.role).toBe('audience')
  await ok(hostA, 'room.end', { roomId: roomA.id })
  await ok(hostB, 'room.end', { roomId: roomB.id })
})

test('[W48] one guest socket, one room: joining a room on one node leaves its guest seat on the other', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  // The guest's socket on A (its seat in A's room local there, its join of B's room forwarded), then on B (its seat
  // in A's room held for a remote connection, its join of B's room local).
  for (const on of ['a', 'b'] as const) {
    const hostA = await someone('ua')
    const roomA = await roomWith(hostA, [])
    const hostB = await someone('ub', 'b')
    const roomB = await roomOnB(hostB)
    const node = on === 'a' ? a! : b!
    const guest = await connectWs(node.url, { origin: node.origin })
    sockets.push(guest)
    const key = `g:${guest.hello.conn}` as const
    const inA = await guest.request('room.join', { roomId: roomA.id })
    expect(inA.ok && inA.me.key).toBe(key)
    await hostA.ws.next('room.guests', (e) => e.roomId === roomA.id && e.count === 1, WAIT)
    expect(a!.ctx.rooms.api.participant(roomA.id, key)).not.toBeNull()
    // The same socket joins B's room: A's room loses its guest, as on one node (the guest count, no seat).
    const inB = await guest.request('room.join', { roomId: roomB.id })
    expect(inB.ok && inB.me.key).toBe(key)
    expect(inB.ok && inB.guests).toBe(1)
    await hostA.ws.next('room.guests', (e) => e.roomId === roomA.id && e.count === 0, WAIT)
    expect(a!.ctx.rooms.api.participant(roomA.id, key)).toBeNull()
    expect((await ok(hostA, 'room.join', { roomId: roomA.id })).guests).toBe(0)
    // B's room has it: its host counts one guest.
    await hostB.ws.next('room.guests', (e) => e.roomId === roomB.id && e.count === 1, WAIT)
    expect((await ok(hostB, 'room.join', { roomId: roomB.id })).guests).toBe(1)
    await ok(hostA, 'room.end', { roomId: roomA.id })
    await ok(hostB, 'room.end', { roomId: roomB.id })
  }
})

test('[W44] a member made on B a moment ago joins a room on A with their profile, before A heard of them', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await someone('nh')
  const room = await roomWith(host, [])
  // A's directory hears of nothing while held: the sign-up on B is unknown to A when the join reaches it.
  const directory = a!.ctx.accounts.service.directory
  const apply = directory.apply.bind(directory)
  const held: DirectoryChange[] = []
  directory.apply = async (c) => {
    held.push(c)
  }
  try {
    const inv = await host.http.post('/api/invites', { uses: 1 })
    expect(inv.status).toBe(201)
    const name = `nn_${Date.now().toString(36)}`
    const http = new Client(b!)
    const r = await http.post('/api/auth/register', { username: name, password: PASSWORD, invite: inv.json.token })
    expect(r.status).toBe(201)
    const id = r.json.user.id as number
    expect(a!.ctx.accounts.api.byId(id)).toBeNull()
    const ws = await connectWs(b!.url, { cookie: http.cookie, origin: b!.origin })
    sockets.push(ws)
    const snap = await ws.request('room.join', { roomId: room.id })
    expect(snap.ok).toBe(true)
    if (!snap.ok) return
    const me = snap.participants.find((p) => p.key === `u:${id}`)
    expect(me?.user).toMatchObject({ id, username: name })
    const joined = await host.ws.next('room.joined', (e) => e.participant.key === `u:${id}`, WAIT)
    expect(joined.participant.user).toMatchObject({ id, username: name })
  } finally {
    directory.apply = apply
    for (const c of held) await apply(c)
  }
  await ok(host, 'room.end', { roomId: room.id })
})

test('[W43][W48] a seat notice sent before the seat was taken leaves it (two joins at once on two nodes)', async () => {
  if (!redis) return console.warn('skipped: redis-server could not start')
  const host = await someone('gh')
  const stays = await someone('gs')
  const decoy = await someone('gd')
  const room = await roomWith(host, [stays, decoy])
  const guest = await connectWs(a!.url, { origin: a!.origin })
  sockets.push(guest)
  expect((await guest.request('room.join', { roomId: room.id })).ok).toBe(true)
  const guestKey = `g:${guest.hello.conn}` as const
  await host.ws.next('room.guests', (e) => e.count === 1, WAIT)
  // Notices as another node sends them on the rooms' channel, for a join of some other room: a member's (by user
  // id) or a guest's (by connection id).
  const node = a!.ctx.cluster!.node
  const notice = (who: { userId: number } | { guest: number }, at: number) =>
    node.cmd.send('PUBLISH', [
      node.key('rooms'),
      `elsewhere seats ${JSON.stringify({ ...who, except: room.id + 1000, reason: 'left', at })}`,
    ])
  // Sent before the member and the guest sat down (a join elsewhere that the later join here overtook): the seats
  // stay. The decoy's notice, sent after on the same channel, is heard after them.
  await notice({ userId: stays.id }, Date.now() - 60_000)
  await notice({ guest: guest.hello.conn }, Date.now() - 60_000)
  await notice({ userId: decoy.id }, Date.now())
  await host.ws.next('room.left', (e) => e.userId === decoy.id && e.reason === 'left', WAIT)
  expect(a!.ctx.rooms.api.participant(room.id, `u:${stays.id}`)).not.toBeNull()
  expect(a!.ctx.rooms.api.participant(room.id, guestKey)).not.toBeNull()
  // Sent after: the seats go.
  await notice({ userId: stays.id }, Date.now())
  await notice({ guest: guest.hello.conn }, Date.now())
  await host.ws.next('room.left', (e) => e.userId === stays.id && e.reason === 'left', WAIT)
  await host.ws.next('room.guests', (e) => e.count === 0, WAIT)
  expect(a!.ctx.rooms.api.participant(room.id, `u:${stays.id}`)).toBeNull()
  expect(a!.ctx.rooms.api.participant(room.id, guestKey)).toBeNull()
  await ok(host, 'room.end', { roomId: room.id })
})
