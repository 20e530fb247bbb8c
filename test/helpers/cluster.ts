// Townhall nodes as `townhall serve` child processes, for the cluster tests: each on a free port (and its own RTC
// port), on the Redis and the database (DATABASE_URL, or the SQLite file of DATA_DIR) of the node in the test's own
// process, answering /healthz before it is returned.
import type { Subprocess } from 'bun'
import { join } from 'node:path'
import { until } from './limits'
import { freePort } from './redis'

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
