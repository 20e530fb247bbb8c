// bench:chat — Backchannel under load, with synchronous=FULL.
//  1. Commit grouping, in process: sends awaited one at a time (one commit each) against sends that arrive in the
//     same tick (one commit for all of them).
//  2. The real server in a child process; CHAT_CLIENTS WebSocket clients in CHAT_THREADS group threads each send
//     CHAT_RATE messages per second for CHAT_SECONDS; reports messages/s acknowledged and delivered, and p50/p99
//     from send to delivery (and to the acknowledgement). The per-socket limit (server/realtime/hub.ts SOCKET_RATE:
//     burst 60, 20/s) bounds CHAT_RATE.
// Usage: bun test/bench/chat.ts   (CHAT_CLIENTS=1000 CHAT_THREADS=100 CHAT_RATE=2 CHAT_SECONDS=10)
// The last line is one JSON object.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config'
import { buildTownhall } from '../../server/app'
import { createLogger } from '../../server/lib/log'

const CLIENTS = Number(process.env.CHAT_CLIENTS ?? 1000)
const THREADS = Number(process.env.CHAT_THREADS ?? 100)
const RATE = Number(process.env.CHAT_RATE ?? 2)
const SECONDS = Number(process.env.CHAT_SECONDS ?? 10)
const GROUPING_N = Number(process.env.CHAT_GROUPING_N ?? 2000)

const freePort = () => {
  const l = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const p = l.port
  l.stop(true)
  return p
}
const pct = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : 0
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d
const quiet = () => createLogger('error', () => {})
/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere. */
function cpuSeconds(pid: number): number | null {
  try {
    const f = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string
    const parts = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(parts[11]) + Number(parts[12])) / 100
  } catch {
    return null
  }
}

// `--serve`: the server, in its own process. On SIGTERM it prints its commit counters as one JSON line.
if (process.argv.includes('--serve')) {
  const { startServer } = await import('../../server/app')
  const config = loadConfig({
    PORT: process.env.PORT!,
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATA_DIR!,
    LOG_LEVEL: 'error',
  })
  const s = await startServer(config, { log: createLogger('error') })
  const bc = s.ctx.backchannel.service
  const sync = s.ctx.core.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous
  process.on('SIGTERM', () => {
    const { commits, messages, maxBatch } = bc.sends
    console.log(
      JSON.stringify({
        server: {
          commits,
          messages,
          maxBatch,
          avgBatch: round(messages / Math.max(1, commits), 2),
          synchronous: sync === 2 ? 'FULL' : String(sync),
        },
      }),
    )
    void s.stop().then(() => process.exit(0))
  })
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
  t.core.db.transaction(() => {
    for (let i = 0; i < CLIENTS; i++) {
      const id = store.insertUser({
        username: `u${i}`,
        displayName: `User ${i}`,
        passwordHash: 'x',
        role: 'member',
        invitedBy: null,
        inviteId: null,
        quota: 0,
      })
      ids.push(id)
      cookies.push(`th_session=${t.accounts.api.startSession(id, 'bench').token}`)
    }
  })()
  const threadOf: number[] = []
  const per = Math.ceil(CLIENTS / THREADS)
  for (let n = 0; n < THREADS; n++) {
    const members = ids.slice(n * per, (n + 1) * per)
    if (members.length < 2) break
    t.core.db.transaction(() => {
      for (const m of members.slice(1)) store.follow(m, members[0]!)
    })()
    const thread = bc.groups.create(
      members[0]!,
      `Thread ${n}`,
      members.slice(1).map((m) => store.byId(m)!.username),
    )
    for (let k = 0; k < members.length; k++) threadOf[n * per + k] = thread.id
  }
  t.backchannel.stop()
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
    const a = store.insertUser({
      username: 'ga',
      displayName: '',
      passwordHash: 'x',
      role: 'member',
      invitedBy: null,
      inviteId: null,
      quota: 0,
    })
    const b = store.insertUser({
      username: 'gb',
      displayName: '',
      passwordHash: 'x',
      role: 'member',
      invitedBy: null,
      inviteId: null,
      quota: 0,
    })
    store.follow(b, a)
    const t = bc.openDm(a, 'gb').id
    const user = { id: a, username: 'ga', role: 'member' as const }
    let t0 = performance.now()
    for (let i = 0; i < GROUPING_N; i++)
      await bc.send(user, { threadId: t, clientId: `s${i}`, body: `one at a time ${i}` })
    const sequential = GROUPING_N / ((performance.now() - t0) / 1000)
    const c0 = bc.sends.commits
    t0 = performance.now()
    await Promise.all(
      Array.from({ length: GROUPING_N }, (_, i) =>
        bc.send(user, { threadId: t, clientId: `g${i}`, body: `same tick ${i}` }),
      ),
    )
    const grouped = GROUPING_N / ((performance.now() - t0) / 1000)
    const commits = bc.sends.commits - c0
    built.backchannel.stop()
    built.core.db.close()
    return {
      n: GROUPING_N,
      sequentialPerSec: Math.round(sequential),
      groupedPerSec: Math.round(grouped),
      groupedCommits: commits,
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main() {
  const g = await grouping()
  console.log(
    `commit grouping (${g.n} sends, synchronous=FULL): one commit each ${g.sequentialPerSec}/s; ` +
      `arriving in the same tick ${g.groupedPerSec}/s in ${g.groupedCommits} commit(s)`,
  )

  const dataDir = mkdtempSync(join(tmpdir(), 'townhall-bench-chat-'))
  const { cookies, threadOf, perThread } = await seed(dataDir)
  const port = freePort()
  const url = `ws://127.0.0.1:${port}/ws`
  const origin = `http://localhost:${port}`
  const server = Bun.spawn([process.execPath, import.meta.path, '--serve'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), DATA_DIR: dataDir },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const sockets: WebSocket[] = []
  try {
    while ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status !== 200) await Bun.sleep(20)
    const sentAt = new Map<string, number>()
    const deliveries: number[] = []
    const acks: number[] = []
    let sent = 0,
      acked = 0,
      errors = 0,
      measuring = false,
      lastAck = 0,
      lastDelivery = 0
    const errorCodes = new Map<string, number>()

    // Connect in waves so the upgrade backlog stays small.
    for (let i = 0; i < CLIENTS; i += 100) {
      await Promise.all(
        Array.from(
          { length: Math.min(100, CLIENTS - i) },
          (_, k) =>
            new Promise<void>((resolve, reject) => {
              const me = i + k
              const ws = new WebSocket(url, { headers: { cookie: cookies[me]!, origin } } as any)
              ws.onmessage = (e) => {
                const m = JSON.parse(String(e.data))
                if (m.type === 'hello') return resolve()
                if (m.type === 'bc.message') {
                  const t = sentAt.get(m.message.clientId)
                  if (t !== undefined && m.message.author.username !== `u${me}`) {
                    lastDelivery = performance.now()
                    deliveries.push(lastDelivery - t)
                  }
                  return
                }
                if ('re' in m) {
                  if (m.ok) {
                    acked++
                    lastAck = performance.now()
                    acks.push(lastAck - sentAt.get(m.message.clientId)!)
                  } else {
                    errors++
                    errorCodes.set(m.error.code, (errorCodes.get(m.error.code) ?? 0) + 1)
                  }
                }
              }
              ws.onerror = () => reject(new Error(`socket ${me} failed`))
              sockets.push(ws)
            }),
        ),
      )
    }
    console.log(
      `${CLIENTS} clients connected in ${THREADS} threads of ${perThread}; each sends ${RATE}/s for ${SECONDS} s`,
    )

    measuring = true
    const cpu0 = cpuSeconds(server.pid)
    const t0 = performance.now()
    const timers = sockets.map((ws, i) => {
      let n = 0
      const tick = () => {
        if (!measuring) return
        const clientId = `c${i}-${n++}`
        sentAt.set(clientId, performance.now())
        ws.send(
          JSON.stringify({ id: n, type: 'bc.send', threadId: threadOf[i], clientId, body: `message ${n} from ${i}` }),
        )
        sent++
      }
      // A random phase spreads the clients over the second.
      return setTimeout(
        () => {
          tick()
          timersById[i] = setInterval(tick, 1000 / RATE)
        },
        Math.random() * (1000 / RATE),
      )
    })
    const timersById: ReturnType<typeof setInterval>[] = []
    await Bun.sleep(SECONDS * 1000)
    measuring = false
    const elapsed = (performance.now() - t0) / 1000
    timers.forEach(clearTimeout)
    timersById.forEach(clearInterval)
    // Let what is in flight arrive.
    for (let i = 0, last = -1; i < 300 && (acked + errors < sent || deliveries.length !== last); i++) {
      last = deliveries.length
      await Bun.sleep(100)
    }

    const cpu1 = cpuSeconds(server.pid)
    const serverCpu = cpu0 !== null && cpu1 !== null ? round(cpu1 - cpu0, 2) : null
    // Throughput over the time until the last acknowledgement / delivery (past the sending window when saturated).
    const ackSecs = Math.max(elapsed, (lastAck - t0) / 1000),
      delSecs = Math.max(elapsed, (lastDelivery - t0) / 1000)
    deliveries.sort((a, b) => a - b)
    acks.sort((a, b) => a - b)
    const expected = acked * (perThread - 1)
    const result = {
      bench: 'chat',
      clients: CLIENTS,
      threads: THREADS,
      perThread,
      ratePerClient: RATE,
      seconds: round(elapsed, 2),
      sent,
      acked,
      errors: Object.fromEntries(errorCodes),
      offeredPerSec: Math.round(sent / elapsed),
      ackedPerSec: Math.round(acked / ackSecs),
      delivered: deliveries.length,
      deliveredPerSec: Math.round(deliveries.length / delSecs),
      serverCpuSeconds: serverCpu,
      serverCpuMsPerMessage: serverCpu !== null && acked ? round((serverCpu * 1000) / acked, 3) : null,
      expectedDeliveries: expected,
      missingDeliveries: Math.max(0, expected - deliveries.length),
      deliveryP50Ms: round(pct(deliveries, 50)),
      deliveryP99Ms: round(pct(deliveries, 99)),
      ackP50Ms: round(pct(acks, 50)),
      ackP99Ms: round(pct(acks, 99)),
      grouping: g,
    }
    for (const ws of sockets) ws.close()
    server.kill('SIGTERM')
    const out = await new Response(server.stdout).text()
    const serverStats = out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l)
        } catch {
          return null
        }
      })
      .find((x) => x?.server)?.server
    console.log(
      `offered ${result.offeredPerSec}/s; acknowledged ${result.acked} of ${result.sent} (${result.ackedPerSec}/s); ` +
        `delivered ${result.delivered} of ${expected} expected (${result.deliveredPerSec}/s)`,
    )
    if (serverCpu !== null)
      console.log(
        `server CPU ${serverCpu} s for ${acked} messages: ${result.serverCpuMsPerMessage} ms per message ` +
          `(with ${perThread - 1} deliveries each)`,
      )
    console.log(
      `send → delivery p50 ${result.deliveryP50Ms} ms, p99 ${result.deliveryP99Ms} ms; ` +
        `send → acknowledgement p50 ${result.ackP50Ms} ms, p99 ${result.ackP99Ms} ms`,
    )
    if (serverStats)
      console.log(
        `server: ${serverStats.messages} messages in ${serverStats.commits} commits ` +
          `(${serverStats.avgBatch} per commit on average, ${serverStats.maxBatch} at most), ` +
          `synchronous=${serverStats.synchronous}`,
      )
    console.log(JSON.stringify({ ...result, server: serverStats ?? null }))
  } finally {
    for (const ws of sockets) ws.close()
    server.kill('SIGTERM')
    await server.exited
    rmSync(dataDir, { recursive: true, force: true })
  }
}
