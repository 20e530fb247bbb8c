// Townhall nodes as `townhall serve` child processes, for the cluster tests: each on a free port (and its own RTC
// port), on the Redis and the database (DATABASE_URL, or the SQLite file of DATA_DIR) of the node in the test's own
// process, answering /healthz before it is returned.
import type { Subprocess } from 'bun'
import { join } from 'node:path'
import type { Bot } from './bot'
import { until } from './limits'
import { startPostgres } from './postgres'
import { freePort, startRedis } from './redis'
import { startTestServer } from './server'
import type { WsClient } from './ws'

/** For a test that needs both: true, said with which one, when redis-server or Postgres could not start. */
export function missing(what: string, redis: unknown, pg: unknown): boolean {
  if (redis && pg) return false
  console.warn(`${what}: skipped: ${redis ? 'Postgres' : 'redis-server'} could not start`)
  return true
}

export interface Node {
  proc: Subprocess
  url: string
  origin: string
  rtcPort: number
}

/** A child node; `env` adds to (or overrides) the test process's environment. */
export async function startNode(env: Record<string, string>): Promise<Node> {
  const port = await freePort()
  const rtcPort = await freePort()
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, '..', '..', 'server', 'main.ts'), 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RTC_PORT: String(rtcPort),
      MEDIA_WORKERS: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  const url = `http://127.0.0.1:${port}`
  await until(async () => {
    if (proc.exitCode !== null) throw new Error(`node on ${port} exited (${proc.exitCode})`)
    return (await fetch(`${url}/healthz`).catch(() => null))?.status === 200
  }, `node on ${port} answering /healthz`)
  return { proc, url, origin: `http://localhost:${port}`, rtcPort }
}

/** Stops a child node still running (SIGKILL: the tests' stores are thrown away after). */
export async function stopNode(node: Node | null) {
  if (!node || node.proc.exitCode !== null || node.proc.signalCode !== null) return
  node.proc.kill('SIGKILL')
  await node.proc.exited
}

/**
 * A cluster test's shared parts: Redis, Postgres where it can start (else the nodes share the SQLite file of the
 * first node's DATA_DIR), and the first node, in this process, on both. Null when redis-server cannot start.
 */
export async function firstNode(dbName: string, env: Record<string, string>) {
  const [redis, pg] = await Promise.all([startRedis(), startPostgres()])
  if (!redis) {
    await pg?.stop()
    return null
  }
  const database: Record<string, string> = pg ? { DATABASE_URL: await pg.database(dbName) } : {}
  const node = await startTestServer({
    ...database,
    REDIS_URL: redis.url,
    MEDIA_WORKERS: '0',
    RTC_PORT: String(await freePort()),
    ...env,
  })
  return { redis, pg, database, node }
}

/** A cluster test's end: its bots and sockets closed, its child nodes still running killed, then the first node. */
export async function tearDown(
  cluster: Awaited<ReturnType<typeof firstNode>>,
  parts: { bots: Bot[]; sockets: WsClient[]; children: Subprocess[] },
) {
  for (const bot of parts.bots) await bot.close().catch(() => {})
  for (const s of parts.sockets) s.close()
  for (const proc of parts.children)
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await proc.exited
    }
  await cluster?.node.stop()
  await cluster?.redis.stop()
  await cluster?.pg?.stop()
}
