// Rooms across nodes (issue 11 point 4): three real Townhall nodes on one Redis and one DATA_DIR (one SQLite file in
// WAL mode), node A in this process, B and C `townhall serve` children, each with its own RTC port. A room lives on
// the node that creates it (the registry's holder); the hallway of every node lists it; members whose sockets are on
// B and C join it through their node, which forwards their room requests to A, and their audio connects to A.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { join } from 'node:path'
import { Bot } from '../helpers/bot'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client, startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

interface Child {
  proc: Subprocess
  url: string
  origin: string
  rtcPort: number
}

let redis: TestRedis | null = null
let a: TestServer | null = null
let b: Child | null = null
let c: Child | null = null
const sockets: WsClient[] = []
const bots: Bot[] = []

/** A `townhall serve` child on the same Redis and data folder as node A. */
async function child(env: Record<string, string> = {}): Promise<Child> {
  const port = await freePort()
  const rtcPort = await freePort()
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, '..', '..', 'server', 'main.ts'), 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RTC_PORT: String(rtcPort),
      MEDIA_WORKERS: '0',
      DATA_DIR: a!.dataDir,
      REDIS_URL: redis!.url,
      ROOM_GRACE_MS: '1000',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  await until(async () => (await fetch(`${url}/healthz`).catch(() => null))?.status === 200, `node on ${port} up`)
  return { proc, url, origin: `http://localhost:${port}`, rtcPort }
}

beforeAll(async () => {
  redis = await startRedis()
  if (!redis) return
  a = await startTestServer({
    REDIS_URL: redis.url,
    MEDIA_WORKERS: '0',
    RTC_PORT: String(await freePort()),
    ROOM_GRACE_MS: '1000',
  })
  ;[b, c] = await Promise.all([child(), child()])
})

afterAll(async () => {
  for (const bot of bots) await bot.close().catch(() => {})
  for (const s of sockets) s.close()
  for (const n of [b, c])
    if (n) {
      n.proc.kill('SIGTERM')
      await n.proc.exited
    }
  await a?.stop()
  await redis?.stop()
})

/** A member's HTTP client and socket on another node (their session is in the shared database). */
async function on(node: Child, m: Member): Promise<{ http: Client; ws: WsClient }> {
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
  const room = await createRoom(host)
  expect(await a!.ctx.core.registry.holder(room.id)).toBe(a!.ctx.core.registry.node)
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
