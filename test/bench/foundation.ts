// bench:foundation — sign-ins and GET /api/me against a real server in a child process (its own data folder).
// Usage: bun test/bench/foundation.ts   (FOUNDATION_LOGINS=200 FOUNDATION_ME=5000 FOUNDATION_CONCURRENCY=16)
// Reports requests/s, p50 and p99 latency for each; the last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const LOGINS = Number(process.env.FOUNDATION_LOGINS ?? 200)
const ME = Number(process.env.FOUNDATION_ME ?? 5000)
const CONCURRENCY = Number(process.env.FOUNDATION_CONCURRENCY ?? 16)
const PASSWORD = 'correct horse battery'

const freePort = () => {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = l.port
  l.stop(true)
  return p
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

/** Runs `total` calls of `fn` with `concurrency` in flight; returns requests/s and latency percentiles (ms). */
async function load(total: number, concurrency: number, fn: () => Promise<void>) {
  const times: number[] = []
  let next = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++
        const t = performance.now()
        await fn()
        times.push(performance.now() - t)
      }
    }),
  )
  const secs = (performance.now() - t0) / 1000
  times.sort((a, b) => a - b)
  return {
    requests: total,
    perSecond: Math.round(total / secs),
    p50: +pct(times, 50).toFixed(2),
    p99: +pct(times, 99).toFixed(2),
  }
}

// `--serve`: the server side, in its own process so the client's work does not share its thread. The sign-in rate
// limit is lifted here (it would otherwise stop a single address after 10 attempts).
if (process.argv.includes('--serve')) {
  const { loadConfig } = await import('../../server/config')
  const { startServer } = await import('../../server/app')
  const { createLogger } = await import('../../server/lib/log')
  const config = loadConfig({
    PORT: process.env.PORT!,
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATA_DIR!,
    REGISTRATION: 'open',
    LOG_LEVEL: 'error',
  })
  const s = await startServer(config, {
    log: createLogger('error'),
    limits: { login: [1e9, 1e9], register: [1e9, 1e9] },
  })
  process.on('SIGTERM', () => {
    void s.stop().then(() => process.exit(0))
  })
} else {
  await main()
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'townhall-bench-foundation-'))
  const port = freePort()
  const base = `http://127.0.0.1:${port}`
  const origin = `http://localhost:${port}`
  const server = Bun.spawn([process.execPath, import.meta.path, '--serve'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), DATA_DIR: dataDir },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  try {
    while ((await fetch(base + '/healthz').catch(() => null))?.status !== 200) await Bun.sleep(20)
    const headers = { 'content-type': 'application/json', origin }
    const reg = await fetch(base + '/api/auth/register', {
      method: 'POST',
      headers,
      body: JSON.stringify({ username: 'bench', password: PASSWORD }),
    })
    if (reg.status !== 201) throw new Error(`register: ${reg.status} ${await reg.text()}`)
    const cookie = reg.headers.get('set-cookie')!.split(';')[0]!

    // Sign-ins are bound by argon2id's cost (by design: about 64 MiB and a few tens of ms of CPU each).
    const login = await load(LOGINS, Math.min(CONCURRENCY, 4), async () => {
      const r = await fetch(base + '/api/auth/login', {
        method: 'POST',
        headers,
        body: JSON.stringify({ username: 'bench', password: PASSWORD }),
      })
      if (r.status !== 200) throw new Error(`login: ${r.status}`)
      await r.arrayBuffer()
    })
    const me = await load(ME, CONCURRENCY, async () => {
      const r = await fetch(base + '/api/me', { headers: { cookie } })
      if (r.status !== 200) throw new Error(`me: ${r.status}`)
      await r.arrayBuffer()
    })
    const health = await load(ME, CONCURRENCY, async () => {
      await (await fetch(base + '/healthz')).arrayBuffer()
    })
    console.log(
      `login (argon2id verify + new session), ${login.requests} requests, ${Math.min(CONCURRENCY, 4)} in flight: ` +
        `${login.perSecond}/s, p50 ${login.p50} ms, p99 ${login.p99} ms`,
    )
    console.log(
      `GET /api/me (cookie → SHA-256 → session + user), ${me.requests} requests, ${CONCURRENCY} in flight: ` +
        `${me.perSecond}/s, p50 ${me.p50} ms, p99 ${me.p99} ms`,
    )
    console.log(
      `GET /healthz, ${health.requests} requests, ${CONCURRENCY} in flight: ` +
        `${health.perSecond}/s, p50 ${health.p50} ms, p99 ${health.p99} ms`,
    )
    console.log(JSON.stringify({ bench: 'foundation', login, me, health }))
  } finally {
    server.kill('SIGTERM')
    await server.exited
    rmSync(dataDir, { recursive: true, force: true })
  }
}
