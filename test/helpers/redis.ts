// A real Redis for a test: Debian's redis-server as a child on a free loopback port, nothing saved to disk, stopped
// after. Where it cannot start (not installed), startRedis() says why and returns null: the Redis tests skip.
import { RedisClient, type Subprocess } from 'bun'
import { createServer } from 'node:net'
import { until } from './limits'

export interface TestRedis {
  url: string
  port: number
  /** The redis-server process (for its CPU time, in benchmarks). */
  pid(): number
  stop(): Promise<void>
  /**
   * Stops it and starts it again, empty, on the same port (what a node sees when Redis restarts); `whileDown` runs
   * in between (e.g. waits until the clients gave up).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>
}

/** A TCP port free on loopback now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/**
 * The process id of the redis-server answering on `url` (INFO server) on a fresh connection; null when nothing answers
 * yet. Compared with the child's own: another Redis that took the port first (a test file running beside this one)
 * answers too.
 */
async function serverPid(url: string): Promise<number | null> {
  const c = new RedisClient(url, { autoReconnect: false, connectionTimeout: 1000 })
  try {
    const info = String(await c.send('INFO', ['server']))
    return Number(/process_id:(\d+)/.exec(info)?.[1] ?? Number.NaN)
  } catch {
    return null
  } finally {
    c.close()
  }
}

/** Starts redis-server on a free port; null (with the reason on stderr) when it cannot start. */
export async function startRedis(): Promise<TestRedis | null> {
  const bin = Bun.which('redis-server')
  if (!bin) {
    console.warn('redis: skipped: redis-server is not installed (Debian: apt-get install redis-server; .ci/run does)')
    return null
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    const url = `redis://127.0.0.1:${port}`
    const spawn = async () => {
      const c: Subprocess = Bun.spawn([bin, ...args], { stdout: 'ignore', stderr: 'pipe' })
      await until(
        async () => {
          if (c.exitCode !== null) throw new Error(`redis-server exited (${c.exitCode})`)
          const pid = await serverPid(url)
          if (pid !== null && pid !== c.pid) throw new Error(`another redis-server (pid ${pid}) has port ${port}`)
          return pid === c.pid
        },
        `redis-server answering on port ${port}`,
        10_000,
      ).catch(async (e) => {
        c.kill()
        await c.exited
        throw e
      })
      return c
    }
    let child: Subprocess
    try {
      child = await spawn()
    } catch (e) {
      if (attempt === 2) {
        console.warn(`redis: skipped: redis-server did not start: ${(e as Error).message}`)
        return null
      }
      continue
    }
    return {
      url,
      port,
      pid: () => child.pid,
      async stop() {
        child.kill()
        await child.exited
      },
      async restart(whileDown) {
        child.kill()
        await child.exited
        await whileDown?.()
        child = await spawn()
      },
    }
  }
  return null
}
