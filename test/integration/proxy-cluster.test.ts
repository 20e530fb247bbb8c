// docs/deploy/Caddyfile.cluster as written (the nodes' names and $DOMAIN filled in) in front of two real Townhall
// nodes on one Redis and one Postgres: node A in this process, node B a `townhall serve` child (the same data
// folder for the files). Sockets opened
// through Caddy land on both nodes; once B is stopped with SIGTERM and drains (a live room keeps it up for
// ROOM_DRAIN_MS), Caddy's health check takes it out of rotation while it is still running (W36): every new socket
// lands on A, and B exits 0. Skipped, with the reason, only where caddy, redis-server or Postgres is not installed.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)
/** The nodes' RTC ports, known in advance: from this file's own block (test/helpers/ports.ts). */
const ports = await reservePorts()

const CADDY = '/usr/bin/caddy'
const DRAIN_MS = 8000
let redis: TestRedis | null = null
let pg: TestPostgres | null = null
let a: TestServer | null = null
let b: { proc: Subprocess; url: string } | null = null
let caddy: Subprocess | null = null
let dir = ''
let port = 0
let skipped = ''
const sockets: WsClient[] = []

beforeAll(async () => {
  if (!existsSync(CADDY)) {
    skipped = 'caddy is not installed (apt-get install caddy)'
    return
  }
  redis = await startRedis()
  if (!redis) {
    skipped = 'redis-server could not start'
    return
  }
  // Several nodes share Postgres, never one SQLite file.
  pg = await startPostgres()
  if (!pg) {
    skipped = 'Postgres could not start'
    return
  }
  const databaseUrl = await pg.database('caddy_cluster')
  dir = mkdtempSync(join(tmpdir(), 'townhall-caddy-cluster-'))
  port = await freePort()
  const publicUrl = `https://localhost:${port}`
  const env = {
    REDIS_URL: redis.url,
    DATABASE_URL: databaseUrl,
    TRUST_PROXY: 'true',
    PUBLIC_URL: publicUrl,
    MEDIA_WORKERS: '0',
  }
  a = await startTestServer({ ...env, RTC_PORT: String(ports.at(1)) })
  const bPort = await freePort()
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, '..', '..', 'server', 'main.ts'), 'serve'], {
    env: {
      ...process.env,
      ...env,
      PORT: String(bPort),
      HOST: '127.0.0.1',
      RTC_PORT: String(ports.at(2)),
      DATA_DIR: a.dataDir,
      ROOM_DRAIN_MS: String(DRAIN_MS),
      // Its room ends after ROOM_DRAIN_MS rather than moving to A (W45), so B is still up while Caddy checks it.
      ROOM_HANDOVER: 'false',
      LOG_LEVEL: 'warn',
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  b = { proc, url: `http://127.0.0.1:${bPort}` }
  await until(async () => (await fetch(`${b!.url}/healthz`).catch(() => null))?.status === 200, 'node B up')

  // The file as written; only the nodes' compose names become their addresses here.
  const site = readFileSync(join(import.meta.dir, '..', '..', 'docs', 'deploy', 'Caddyfile.cluster'), 'utf8')
    .replace('townhall-1:3000', `127.0.0.1:${a.port}`)
    .replace('townhall-2:3000', `127.0.0.1:${bPort}`)
  // Global options a test needs (nothing of the site changes): no admin endpoint, no system trust store, its own
  // storage and http port; "localhost" gets a certificate from Caddy's internal CA.
  const options = [
    'admin off',
    'skip_install_trust',
    `http_port ${await freePort()}`,
    `storage file_system ${dir}/data`,
  ]
  writeFileSync(join(dir, 'Caddyfile'), `{\n${options.map((o) => `\t${o}\n`).join('')}}\n\n${site}`)
  const caddyEnv = {
    ...process.env,
    DOMAIN: `localhost:${port}`,
    HOME: dir,
    XDG_DATA_HOME: join(dir, 'xdg'),
    XDG_CONFIG_HOME: join(dir, 'xdg'),
  }
  const args = ['--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile']
  const check = spawnSync(CADDY, ['validate', ...args], { env: caddyEnv })
  if (check.status !== 0) throw new Error(`caddy refused Caddyfile.cluster: ${check.stderr}`)
  caddy = Bun.spawn([CADDY, 'run', ...args], { env: caddyEnv, stdout: 'ignore', stderr: 'ignore' })
  await until(async () => (await get('/healthz').catch(() => null))?.status === 200, `caddy answering on ${port}`)
})

afterAll(async () => {
  for (const s of sockets) s.close()
  caddy?.kill('SIGTERM')
  await caddy?.exited
  if (b && b.proc.exitCode === null && b.proc.signalCode === null) {
    b.proc.kill('SIGKILL')
    await b.proc.exited
  }
  await a?.stop()
  await redis?.stop()
  await pg?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
  await ports.release()
})

const get = (path: string) => fetch(`https://localhost:${port}${path}`, { tls: { rejectUnauthorized: false } })

/** A socket through Caddy; resolves with the slot of the node it landed on (connection ids: slot × 2³² + n). */
async function socketThroughCaddy(cookie: string) {
  const origin = `https://localhost:${port}`
  const ws = new WsClient(origin, { cookie, origin, tls: { rejectUnauthorized: false } })
  sockets.push(ws)
  const hello = await ws.opened
  return { ws, slot: Math.floor(hello.conn / 2 ** 32) }
}

test('[W36] Caddyfile.cluster: sockets spread over both nodes; a draining node leaves the rotation', async () => {
  if (skipped) return console.warn(`skipped: ${skipped}`)
  const slotA = a!.ctx.cluster!.node.slot
  const member = await signedInClient(a!, 'spread')
  const cookie = member.cookie.replace(/^th_session=/, '__Host-th_session=')
  // least_conn: open sockets count, so a few land on each node.
  const first = await Promise.all(Array.from({ length: 6 }, () => socketThroughCaddy(cookie)))
  const slots = new Set(first.map((s) => s.slot))
  expect(slots.size).toBe(2)
  const onB = first.find((s) => s.slot !== slotA)!

  // A live room on B keeps it draining for DRAIN_MS after SIGTERM.
  const host = new Client({ url: b!.url, origin: `https://localhost:${port}` })
  host.cookie = member.cookie
  const room = await host.post('/api/rooms', { title: 'Keeps B draining', kind: 'open' })
  expect(room.status).toBe(201)
  const stoppedAt = Date.now()
  b!.proc.kill('SIGTERM')
  await onB.ws.next('node.draining', () => true, WAIT)
  // Within Caddy's health interval (2 s) and a check, every new socket through Caddy lands on A — while B still runs.
  // A batch every half second (Caddy checks every 2 s): each socket still sent to B counts against B's limit on a
  // member's new sockets, so the probe must not open them as fast as it can.
  let batches = 0
  await until(async () => {
    if (batches++ > 0) await new Promise((r) => setTimeout(r, 500))
    const batch = await Promise.all(Array.from({ length: 4 }, () => socketThroughCaddy(cookie)))
    return batch.every((s) => s.slot === slotA)
  }, 'new sockets only on node A')
  expect(Date.now() - stoppedAt).toBeLessThan(DRAIN_MS)
  expect(b!.proc.exitCode).toBeNull()
  const health = await get('/healthz')
  expect(health.status).toBe(200)
  expect(await b!.proc.exited).toBe(0)
})
