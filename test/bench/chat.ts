// bench:chat — Backchannel under load, with synchronous=FULL.
//  1. Commit grouping, in process: sends awaited one at a time (one commit each) against sends that arrive in the
//     same tick (one commit for all of them).
//  2. The real server in a child process and the load in CHAT_PROCS others (test/bench/chat-load.ts), each holding a
//     share of CHAT_CLIENTS WebSocket clients in group threads of CHAT_CLIENTS / CHAT_THREADS members (whole groups
//     per process). For each offered rate of CHAT_RATES (messages/s over all clients; `max` is the per-socket limit,
//     server/realtime/hub.ts SOCKET_RATE 20/s, times the clients) the clients send for CHAT_SECONDS (the max-rate
//     run CHAT_MAX_SECONDS); reported per rate: messages acknowledged and their rate, deliveries (expected: each
//     acknowledged message to every other member; missing and doubled ones counted), p50/p99 from send to delivery
//     and to the acknowledgement, and the server's own CPU (utime + stime from /proc/<pid>/stat) per acknowledged
//     message, with its deliveries.
//  Cluster variant (CHAT_NODES=3, `bun run bench:chat-cluster`): CHAT_NODES servers on one Redis and one Postgres
//     (throwaway ones from Debian's redis-server and postgresql, test/helpers; CHAT_DATABASE_URL names another,
//     empty database), seeded in SQLite and copied there with `migrate-to-postgres`'s copy; each load process spreads
//     its sockets over the nodes (socket k on node k mod CHAT_NODES), so a group's members sit on every node and each
//     message crosses Redis. Reported: the acknowledged rate across the nodes and the CPU per message of the nodes
//     together (and of Redis and Postgres apart). One SQLite file is not valid for several nodes (each keeps its own
//     seq), so without Postgres the variant stops with the reason.
// Usage: bun test/bench/chat.ts   (CHAT_CLIENTS=1000 CHAT_THREADS=100 CHAT_PROCS=4 CHAT_RATES=2000,5000,10000,max
//        CHAT_SECONDS=5 CHAT_MAX_SECONDS=3 CHAT_DRAIN=30 (seconds a rate waits for what is in flight);
//        CHAT_PROFILE=<dir> writes the server's CPU profile there; the servers run with ALLOCATOR_ENV as `npm
//        start` runs them (H87), MIMALLOC_* / BUN_JSC_* given to the bench override it (MIMALLOC_PURGE_DELAY=10:
//        mimalloc's own default); CHAT_ACK=full: each send answered with its whole message
//        (as before B64; by default short, as the app asks);
//        CHAT_GROUPING=0 skips part 1, CHAT_GROUPING=only runs part 1 alone, CHAT_SEQUENTIAL_N its one-at-a-time
//        sends, CHAT_GROUPING_N by default; CHAT_NODES=3 the cluster variant)
// Every process it starts is stopped when it ends, fails or times out (CHAT_TIMEOUT, 170 s). The last line is one
// JSON object.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config'
import { ALLOCATOR_ENV } from '../../server/lib/allocator'
import { buildTownhall } from '../../server/app'
import { createLogger } from '../../server/lib/log'
import { openDatabase } from '../../server/db/open'
import { copyToPostgres } from '../../server/db/to-postgres'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { startRedis, type TestRedis } from '../helpers/redis'

const CLIENTS = Number(process.env.CHAT_CLIENTS ?? 1000)
const THREADS = Number(process.env.CHAT_THREADS ?? 100)
const PROCS = Number(process.env.CHAT_PROCS ?? 4)
const RATES = (process.env.CHAT_RATES ?? '2000,5000,10000,max').split(',')
const SECONDS = Number(process.env.CHAT_SECONDS ?? 5)
/** The max-rate run is shorter: its backlog drains at the server's own rate. */
const MAX_SECONDS = Number(process.env.CHAT_MAX_SECONDS ?? 3)
const TIMEOUT_S = Number(process.env.CHAT_TIMEOUT ?? 170)
/** Seconds of the idle measurement (everyone connected, nobody sending). */
const IDLE_SECONDS = 2
/** The hub's per-socket limit (messages/s): the most each client may send. */
const SOCKET_LIMIT = 20
const GROUPING_N = Number(process.env.CHAT_GROUPING_N ?? 2000)
/** Servers: 1 (the default, SQLite) or several on one Redis and one Postgres. */
const NODES = Math.max(1, Number(process.env.CHAT_NODES ?? 1))
/** Part 1's sends awaited one at a time (each its own synchronous commit: slow on a busy disk). */
const SEQUENTIAL_N = Number(process.env.CHAT_SEQUENTIAL_N ?? GROUPING_N)

const freePort = () => {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = l.port
  l.stop(true)
  return p
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const quiet = () => createLogger('error', () => {})
/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number): number | null {
  return cpuSplit(pid)?.total ?? null
}
/** The same, with the system (kernel) part: on loopback it includes the receiving side of what the server writes. */
function cpuSplit(pid: number): { total: number; system: number } | null {
  try {
    const f = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ')
    const system = Number(parts[12]) / 100
    return { total: Number(parts[11]) / 100 + system, system }
  } catch {
    return null
  }
}

// `--serve`: the server, in its own process. On SIGTERM it prints its commit counters as one JSON line.
if (process.argv.includes('--serve')) {
  const { startServer } = await import('../../server/app')
  const cluster = process.env.REDIS_URL
    ? {
        REDIS_URL: process.env.REDIS_URL,
        DATABASE_URL: process.env.DATABASE_URL!,
        PUBLIC_URL: process.env.PUBLIC_URL!,
        RTC_PORT: '0',
        MEDIA_WORKERS: '0',
      }
    : {}
  const config = loadConfig({
    PORT: process.env.PORT!,
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATA_DIR!,
    LOG_LEVEL: 'error',
    ...cluster,
  })
  // Several nodes on one SQLite file would each number the Backchannel's messages on their own: not a measurement.
  if (process.env.REDIS_URL && !(config as { databaseUrl?: string }).databaseUrl) {
    console.error('bench:chat: this server has no DATABASE_URL (Postgres): several nodes need it')
    process.exit(3)
  }
  const s = await startServer(config, { log: createLogger('error') })
  const bc = s.ctx.backchannel.service
  let sync = -1
  try {
    sync = s.ctx.core.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous
  } catch {
    /* on Postgres */
  }
  process.on('SIGTERM', () => {
    const { commits, messages, maxBatch } = bc.sends
    // Postgres: how long the node's changes held the seq lock (PgBackchannelStore.held).
    const held = (bc.store as { held?: { changes: number; totalMs: number; maxMs: number } }).held
    console.log(
      JSON.stringify({
        server: {
          commits,
          messages,
          maxBatch,
          avgBatch: round(messages / Math.max(1, commits), 2),
          held: held && { changes: held.changes, totalMs: round(held.totalMs, 1), maxMs: round(held.maxMs, 1) },
          synchronous: sync === 2 ? 'FULL' : sync === -1 ? 'postgres' : String(sync),
        },
      }),
    )
    void s.stop().then(() => process.exit(0))
  })
  // Stops by itself when the bench that started it is gone (its stdin closes).
  void (async () => {
    for await (const _ of Bun.stdin.stream());
    process.kill(process.pid, 'SIGTERM')
  })()
} else {
  await main()
}

/** Users, sessions, follows and group threads written straight into a fresh data folder. */
async function seed(dataDir: string) {
  const t = buildTownhall(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' }), { log: quiet() })
  const bc = t.backchannel.service
  const store = t.accounts.service.store
  const cookies: string[] = []
  const ids: number[] = []
  await store.transaction(async (tx) => {
    for (let i = 0; i < CLIENTS; i++) {
      const user = {
        username: `u${i}`,
        displayName: `User ${i}`,
        passwordHash: 'x',
        role: 'member' as const,
        invitedBy: null,
        inviteId: null,
        quota: 0,
      }
      ids.push((await store.insertUser(user, tx))!)
    }
  })
  for (const id of ids) cookies.push(`th_session=${(await t.accounts.api.startSession(id, 'bench')).token}`)
  const threadOf: number[] = []
  const per = Math.ceil(CLIENTS / THREADS)
  const threads: number[][] = []
  for (let n = 0; n < THREADS; n++) {
    const members = ids.slice(n * per, (n + 1) * per)
    if (members.length < 2) break
    threads.push(members)
    await store.transaction(async (tx) => {
      for (const m of members.slice(1)) await store.follow(m, members[0]!, tx)
    })
  }
  // Written straight to the store: the directory reads it all once.
  await t.accounts.load()
  for (const [n, members] of threads.entries()) {
    const thread = await bc.groups.create(
      members[0]!,
      `Thread ${n}`,
      members.slice(1).map((m) => t.accounts.api.byId(m)!.username),
    )
    for (let k = 0; k < members.length; k++) threadOf[n * per + k] = thread.id
  }
  await t.backchannel.stop()
  t.core.db.close()
  return { cookies, threadOf, perThread: per }
}

/** Part 1: the same sends, one commit each vs one commit per tick. */
async function grouping() {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-bench-chat-g-'))
  try {
    const built = buildTownhall(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'error' }), { log: quiet() })
    const bc = built.backchannel.service
    const store = built.accounts.service.store
    const member = (username: string) => ({
      username,
      displayName: '',
      passwordHash: 'x',
      role: 'member' as const,
      invitedBy: null,
      inviteId: null,
      quota: 0,
    })
    const a = (await store.insertUser(member('ga')))!
    const b = (await store.insertUser(member('gb')))!
    await store.follow(b, a)
    await built.accounts.load()
    const t = (await bc.openDm(a, 'gb')).id
    const user = { id: a, username: 'ga', role: 'member' as const }
    let t0 = performance.now()
    for (let i = 0; i < SEQUENTIAL_N; i++)
      await bc.send(user, { threadId: t, clientId: `s${i}`, body: `one at a time ${i}` })
    const sequential = SEQUENTIAL_N / ((performance.now() - t0) / 1000)
    const c0 = bc.sends.commits
    const cpu0 = process.cpuUsage()
    t0 = performance.now()
    await Promise.all(
      Array.from({ length: GROUPING_N }, (_, i) =>
        bc.send(user, { threadId: t, clientId: `g${i}`, body: `same tick ${i}` }),
      ),
    )
    const grouped = GROUPING_N / ((performance.now() - t0) / 1000)
    const cpu = process.cpuUsage(cpu0)
    const commits = bc.sends.commits - c0
    await built.backchannel.stop()
    built.core.db.close()
    return {
      n: GROUPING_N,
      sequentialPerSec: Math.round(sequential),
      groupedPerSec: Math.round(grouped),
      groupedCommits: commits,
      /** This process's CPU (user + system, all threads) per grouped send: steadier than the rate on a busy machine. */
      groupedCpuUsPerSend: round((cpu.user + cpu.system) / GROUPING_N),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A child process speaking one JSON object a line on stdout. */
function lines(proc: { stdout: ReadableStream<Uint8Array> }) {
  const reader = proc.stdout.getReader()
  const decoder = new TextDecoder()
  let buf = ''
  return async function next(): Promise<Record<string, unknown>> {
    for (;;) {
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          return JSON.parse(line)
        } catch {
          continue
        }
      }
      const { value, done } = await reader.read()
      if (done) throw new Error('child process ended')
      buf += decoder.decode(value)
    }
  }
}

/** A latency as printed: the last bin holds everything from 10 s on. */
function ms(x: number) {
  return x >= 10_000 ? '≥ 10,000' : String(x)
}

/** The p-th percentile of merged 0.1 ms bins. */
function pctOf(hist: Map<number, number>, total: number, p: number) {
  if (!total) return 0
  const want = Math.ceil((p / 100) * total)
  let seen = 0
  for (const [b, n] of [...hist].sort((x, y) => x[0] - y[0])) {
    seen += n
    if (seen >= want) return b / 10
  }
  return 0
}

async function main() {
  const g = process.env.CHAT_GROUPING === '0' ? null : await grouping()
  if (g)
    console.log(
      `commit grouping (${g.n} sends, synchronous=FULL): one commit each ${g.sequentialPerSec}/s; ` +
        `arriving in the same tick ${g.groupedPerSec}/s in ${g.groupedCommits} commit(s), ` +
        `${g.groupedCpuUsPerSend} µs of CPU per send`,
    )
  if (process.env.CHAT_GROUPING === 'only') return

  const dataDir = mkdtempSync(join(tmpdir(), 'townhall-bench-chat-'))
  const { cookies, threadOf, perThread } = await seed(dataDir)
  const seedFile = join(dataDir, 'bench-seed.json')
  await Bun.write(seedFile, JSON.stringify({ cookies, threadOf }))
  const backing = NODES > 1 ? await clusterBacking(dataDir) : null
  // One origin for every node (PUBLIC_URL), as behind one proxy.
  const ports = Array.from({ length: NODES }, (_, i) => (i === 0 && Number(process.env.CHAT_PORT ?? 0)) || freePort())
  const port = ports[0]!
  const profile = process.env.CHAT_PROFILE
  const servers = ports.map((p) =>
    Bun.spawn(
      [
        process.execPath,
        ...(profile ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${profile}`, '--cpu-prof-interval=250'] : []),
        import.meta.path,
        '--serve',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          // As `npm start` and the image run it (H87); MIMALLOC_* and BUN_JSC_* given to the bench override it.
          ...ALLOCATOR_ENV,
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(MIMALLOC_|BUN_JSC_)/.test(k))),
          PORT: String(p),
          DATA_DIR: dataDir,
          ...(backing
            ? {
                REDIS_URL: backing.redis.url,
                DATABASE_URL: backing.databaseUrl,
                PUBLIC_URL: `http://localhost:${port}`,
              }
            : {}),
        },
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'inherit',
      },
    ),
  )
  const server = servers[0]!
  const loads: ReturnType<typeof spawnLoad>[] = []
  function spawnLoad(from: number, to: number) {
    return Bun.spawn([process.execPath, join(import.meta.dir, 'chat-load.ts')], {
      env: {
        PATH: process.env.PATH ?? '',
        CHAT_URL: ports.map((p) => `ws://127.0.0.1:${p}/ws`).join(','),
        CHAT_ORIGIN: `http://localhost:${port}`,
        CHAT_FROM: String(from),
        CHAT_TO: String(to),
        CHAT_PER_THREAD: String(perThread),
        CHAT_DRAIN: process.env.CHAT_DRAIN ?? '30',
        CHAT_ACK: process.env.CHAT_ACK ?? 'short',
        CHAT_SEED: seedFile,
      },
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
    })
  }
  const stopAll = () => {
    for (const p of [...servers, ...loads])
      try {
        p.kill('SIGTERM')
      } catch {
        /* gone */
      }
  }
  const timeout = setTimeout(() => {
    console.error(`bench:chat: over ${TIMEOUT_S} s, stopping`)
    stopAll()
    void backing?.stop().finally(() => process.exit(2))
  }, TIMEOUT_S * 1000)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => {
      stopAll()
      void backing?.stop().finally(() => process.exit(130))
      if (!backing) process.exit(130)
    })
  try {
    for (const [i, p] of ports.entries())
      while ((await fetch(`http://127.0.0.1:${p}/healthz`).catch(() => null))?.status !== 200) {
        if (servers[i]!.exitCode !== null) throw new Error(`server ${i + 1} exited (${servers[i]!.exitCode})`)
        await Bun.sleep(20)
      }
    // Whole groups per load process.
    const groups = Math.ceil(CLIENTS / perThread)
    const procs = Math.max(1, Math.min(PROCS, groups))
    for (let p = 0; p < procs; p++) {
      const from = Math.floor((groups * p) / procs) * perThread
      const to = Math.min(CLIENTS, Math.floor((groups * (p + 1)) / procs) * perThread)
      loads.push(spawnLoad(from, to))
    }
    const readers = loads.map((l) => lines(l))
    for (const r of readers) await r() // {"ready":true}
    const pids = servers.map((x) => x.pid).join(', ')
    console.log(
      `${CLIENTS} clients connected in ${groups} threads of ${perThread}, in ${procs} load processes; ` +
        `${NODES > 1 ? `${NODES} nodes on Redis and Postgres, pids ${pids}` : `server pid ${server.pid}`}; ` +
        `load average ${(await loadAverage()).join(' ')}`,
    )
    // The servers' CPU, added up (with several nodes), with everyone connected and nobody sending: per second.
    const serversCpu = () => sumSplits(servers.map((x) => cpuSplit(x.pid)))
    const backingCpu = () =>
      backing ? { redis: cpuSeconds(backing.redis.pid()), postgres: backing.postgresCpu() } : null
    const idle0 = serversCpu()?.total ?? null
    await Bun.sleep(IDLE_SECONDS * 1000)
    const idle1 = serversCpu()?.total ?? null
    const idlePerSec = idle0 !== null && idle1 !== null ? (idle1 - idle0) / IDLE_SECONDS : null
    if (idlePerSec !== null) console.log(`server CPU idle, everyone connected: ${round(idlePerSec * 1000)} ms/s`)
    const runs = []
    for (const r of RATES) {
      const offered = r === 'max' ? SOCKET_LIMIT * CLIENTS : Number(r)
      const perSocket = offered / CLIENTS
      const seconds = r === 'max' ? MAX_SECONDS : SECONDS
      const split0 = serversCpu()
      const cpu0 = split0?.total ?? null
      const b0 = backingCpu()
      const w0 = performance.now()
      for (const l of loads) l.stdin.write(`${JSON.stringify({ run: { perSocket, seconds } })}\n`)
      for (const l of loads) l.stdin.flush()
      const results = (await Promise.all(readers.map((next) => next()))).map((x) => x.result as LoadResult)
      const split1 = serversCpu()
      const cpu1 = split1?.total ?? null
      const b1 = backingCpu()
      const idleCpu = idlePerSec === null ? null : (idlePerSec * (performance.now() - w0)) / 1000
      const sum = summarise(r, offered, seconds, results, cpu0, cpu1, idleCpu)
      const perMessage = (a: number | null | undefined, b: number | null | undefined) =>
        a != null && b != null && sum.acked ? round(((b - a) * 1e6) / sum.acked, 1) : null
      runs.push({
        ...sum,
        serverCpuInKernel:
          split0 && split1 && split1.total > split0.total
            ? round((split1.system - split0.system) / (split1.total - split0.total), 2)
            : null,
        redisCpuUsPerMessage: perMessage(b0?.redis, b1?.redis),
        postgresCpuUsPerMessage: perMessage(b0?.postgres, b1?.postgres),
      })
      const x = runs.at(-1)!
      x.loadAverage = await loadAverage()
      console.log(
        `offered ${x.offered}/s (${r}): acknowledged ${x.acked} of ${x.sent} at ${x.ackedPerSec}/s` +
          `${Object.keys(x.errors).length ? ` (errors ${JSON.stringify(x.errors)})` : ''}; ` +
          `delivered ${x.delivered} of ${x.expected} (${x.missing} missing, ${x.doubled} doubled` +
          `${x.reordered ? `, ${x.reordered} after a later one of their sender` : ''}); ` +
          `send → delivery p50 ${ms(x.deliveryP50Ms)} / p99 ${ms(x.deliveryP99Ms)} ms, ` +
          `→ ack p50 ${ms(x.ackP50Ms)} / p99 ${ms(x.ackP99Ms)} ms; ` +
          `server CPU ${x.serverCpuSeconds} s = ${x.serverCpuUsPerMessage} µs per message ` +
          `(${x.serverCpuUsAboveIdle} above idle, ${Math.round((x.serverCpuInKernel ?? 0) * 100)} % in kernel)` +
          `${backing ? ` over ${NODES} nodes; Redis ${x.redisCpuUsPerMessage} µs, ` : ''}` +
          `${backing ? `Postgres ${x.postgresCpuUsPerMessage} µs per message` : ''}; ` +
          `load average ${x.loadAverage.join(' ')}`,
      )
    }
    for (const l of loads) l.stdin.write(`${JSON.stringify({ quit: true })}\n`)
    for (const l of loads) l.stdin.end()
    await Promise.all(loads.map((l) => l.exited))
    for (const x of servers) x.kill('SIGTERM')
    const each = (await Promise.all(servers.map((x) => lines(x)().catch(() => null)))).map(
      (o) => o?.server as ServerStats | undefined,
    )
    const serverStats = each.every(Boolean) ? mergeStats(each as NonNullable<(typeof each)[number]>[]) : undefined
    if (serverStats)
      console.log(
        `server: ${serverStats.messages} messages in ${serverStats.commits} commits ` +
          `(${serverStats.avgBatch} per commit on average, ${serverStats.maxBatch} at most), ` +
          `synchronous=${serverStats.synchronous}` +
          (serverStats.held
            ? `; the seq lock held ${serverStats.held.changes} times, ` +
              `${round(serverStats.held.totalMs / Math.max(1, serverStats.held.changes), 1)} ms on average, ` +
              `${serverStats.held.maxMs} ms at most (${round(serverStats.held.totalMs / 1000, 1)} s in all)`
            : ''),
      )
    console.log(
      JSON.stringify({
        bench: 'chat',
        nodes: NODES,
        clients: CLIENTS,
        perThread,
        loadProcesses: procs,
        seconds: SECONDS,
        serverCpuIdleMsPerSec: idlePerSec === null ? null : round(idlePerSec * 1000),
        runs,
        grouping: g,
        server: serverStats ?? null,
      }),
    )
  } finally {
    clearTimeout(timeout)
    stopAll()
    await Promise.all([...servers, ...loads].map((p) => p.exited))
    await backing?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** The servers' CPU added up; null if any cannot be read. */
function sumSplits(xs: ({ total: number; system: number } | null)[]) {
  let total = 0
  let system = 0
  for (const x of xs) {
    if (!x) return null
    total += x.total
    system += x.system
  }
  return { total, system }
}

/** A node's commit counters (and on Postgres, how long it held the seq lock). */
interface ServerStats {
  messages: number
  commits: number
  maxBatch: number
  synchronous: string
  held?: { changes: number; totalMs: number; maxMs: number }
}

/** The nodes' commit counters as one. */
function mergeStats(xs: ServerStats[]) {
  const messages = xs.reduce((a, x) => a + x.messages, 0)
  const commits = xs.reduce((a, x) => a + x.commits, 0)
  const held = xs.every((x) => x.held)
    ? {
        changes: xs.reduce((a, x) => a + x.held!.changes, 0),
        totalMs: xs.reduce((a, x) => a + x.held!.totalMs, 0),
        maxMs: Math.max(...xs.map((x) => x.held!.maxMs)),
      }
    : undefined
  return {
    messages,
    commits,
    maxBatch: Math.max(...xs.map((x) => x.maxBatch)),
    avgBatch: round(messages / Math.max(1, commits), 2),
    synchronous: xs[0]!.synchronous,
    held,
  }
}

/**
 * The cluster variant's Redis and Postgres (throwaway, or CHAT_DATABASE_URL), the seeded SQLite database copied into
 * Postgres. Throws with the reason when either cannot start.
 */
async function clusterBacking(dataDir: string) {
  const redis: TestRedis | null = await startRedis()
  if (!redis) throw new Error('bench:chat: CHAT_NODES needs redis-server (apt-get install redis-server)')
  let pg: TestPostgres | null = null
  const stop = async () => {
    await redis.stop()
    await pg?.stop()
  }
  try {
    let databaseUrl = process.env.CHAT_DATABASE_URL
    if (!databaseUrl) {
      pg = await startPostgres()
      if (!pg)
        throw new Error('bench:chat: CHAT_NODES needs Postgres (apt-get install postgresql, or CHAT_DATABASE_URL)')
      databaseUrl = await pg.database('bench_chat')
    }
    const db = openDatabase(dataDir)
    const sql = new Bun.SQL({ url: databaseUrl, max: 1 })
    try {
      const r = await copyToPostgres(db, sql)
      console.log(`seeded database copied to Postgres: ${r.rows} rows in ${r.ms} ms`)
    } finally {
      db.close()
      await sql.close({ timeout: 5 })
    }
    const port = pg?.port
    return {
      redis,
      databaseUrl,
      stop,
      /** CPU seconds of the throwaway Postgres (its postmaster and every backend); null for CHAT_DATABASE_URL. */
      postgresCpu: () => (port ? postgresCpu(port) : null),
    }
  } catch (e) {
    await stop()
    throw e
  }
}

/** CPU seconds of the Postgres listening on `port`: its postmaster (found by its -p argument) and its children. */
function postgresCpu(port: number): number | null {
  const fs = require('node:fs') as typeof import('node:fs')
  const procs: { pid: number; ppid: number }[] = []
  let master = 0
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      if (!stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).startsWith('postgres')) continue
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      procs.push({ pid: Number(d), ppid })
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')
      const p = cmd.indexOf('-p')
      if (p >= 0 && Number(cmd[p + 1]) === port) master = Number(d)
    } catch {
      /* gone */
    }
  }
  if (!master) return null
  return procs.filter((x) => x.pid === master || x.ppid === master).reduce((a, x) => a + (cpuSeconds(x.pid) ?? 0), 0)
}

interface LoadResult {
  sent: number
  acked: number
  errors: Record<string, number>
  delivered: number
  doubled: number
  reordered: number
  expected: number
  firstSend: number
  lastAck: number
  lastDelivery: number
  hist: { delivery: [number, number][]; ack: [number, number][] }
}

async function loadAverage(): Promise<number[]> {
  const t = await Bun.file('/proc/loadavg')
    .text()
    .catch(() => '')
  return t.split(' ').slice(0, 3).map(Number)
}

function summarise(
  rate: string,
  offered: number,
  seconds: number,
  rs: LoadResult[],
  cpu0: number | null,
  cpu1: number | null,
  idleCpu: number | null,
) {
  const sum = (f: (r: LoadResult) => number) => rs.reduce((a, r) => a + f(r), 0)
  const merge = (f: (r: LoadResult) => [number, number][]) => {
    const m = new Map<number, number>()
    for (const r of rs) for (const [b, n] of f(r)) m.set(b, (m.get(b) ?? 0) + n)
    return m
  }
  const errors: Record<string, number> = {}
  for (const r of rs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v
  const acked = sum((r) => r.acked)
  const delivered = sum((r) => r.delivered)
  const expected = sum((r) => r.expected)
  const first = Math.min(...rs.map((r) => r.firstSend))
  const lastAck = Math.max(...rs.map((r) => r.lastAck))
  const ackSecs = Math.max(seconds, (lastAck - first) / 1000)
  const delivery = merge((r) => r.hist.delivery)
  const ack = merge((r) => r.hist.ack)
  const cpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null
  return {
    rate,
    offered,
    seconds,
    sent: sum((r) => r.sent),
    acked,
    errors,
    ackedPerSec: Math.round(acked / ackSecs),
    delivered,
    expected,
    missing: Math.max(0, expected - delivered),
    doubled: sum((r) => r.doubled),
    reordered: sum((r) => r.reordered),
    deliveryP50Ms: pctOf(delivery, delivered, 50),
    deliveryP99Ms: pctOf(delivery, delivered, 99),
    ackP50Ms: pctOf(ack, acked, 50),
    ackP99Ms: pctOf(ack, acked, 99),
    serverCpuSeconds: cpu === null ? null : round(cpu, 2),
    serverCpuUsPerMessage: cpu !== null && acked ? round((cpu * 1e6) / acked, 1) : null,
    /** Less what the server spends connected and idle over the same time. */
    serverCpuUsAboveIdle:
      cpu !== null && idleCpu !== null && acked ? round((Math.max(0, cpu - idleCpu) * 1e6) / acked, 1) : null,
    loadAverage: [] as number[],
  }
}
