// bench:relay — origin → edge (M64–M65): one speaker on node A, N guest listeners whose sockets are on node B, with
// MEDIA_EDGE=false (every listener's audio on A, the room's node) and with MEDIA_EDGE=true (B serves them from A's
// relay). Two `sfu-server.ts` children on one Redis and one data folder (their CPU from /proc), the bots in this
// process. Reports per N and mode: each node's CPU (% of a core) and the packets it sends a second (SRTP to
// listeners, relay datagrams to edges), and the listeners heard. Bounded: SIZES (default 40,120; RELAY_N=…),
// RELAY_SECONDS (5) a window; every child is stopped on exit. Needs Debian's redis-server.
// Usage: bun test/bench/relay.ts [N …]
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bot, sleep } from '../helpers/bot'
import { startRedis } from '../helpers/redis'
import { Client } from '../helpers/server'
import { connectWs } from '../helpers/ws'

const args = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)
const SIZES = args.length ? args : (process.env.RELAY_N ?? '40,120').split(',').map(Number)
const SECONDS = Number(process.env.RELAY_SECONDS ?? 5)
const CONCURRENCY = 6

const procs = new Set<ChildProcess>()
const stopAll = () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM')
}
process.on('exit', stopAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    stopAll()
    process.exit(130)
  })
// The whole run is bounded: a hang ends it.
setTimeout(
  () => {
    console.error('bench:relay: timed out')
    process.exit(2)
  },
  Number(process.env.RELAY_TIMEOUT ?? 170) * 1000,
).unref()

interface Node {
  url: string
  origin: string
  pid: number
  proc: ChildProcess
  stats(): Promise<{ forwardedPackets: number; relaySent: number; relayReceived: number; peers: number }>
}

/** A sfu-server child; its first line is {url, origin, pid}; "stats" answers a line of media stats. */
async function node(env: Record<string, string>): Promise<Node> {
  const proc = spawn(process.execPath, [join(import.meta.dir, 'sfu-server.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, MEDIA_WORKERS: '0', ...env },
  })
  procs.add(proc)
  const waiters: ((l: string) => void)[] = []
  let buf = ''
  proc.stdout!.on('data', (d) => {
    buf += d.toString()
    let i: number
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      waiters.shift()?.(line)
    }
  })
  const next = () => new Promise<string>((r) => waiters.push(r))
  const info = JSON.parse(await next()) as { url: string; origin: string; pid: number }
  return {
    ...info,
    proc,
    async stats() {
      const line = next()
      proc.stdin!.write('stats\n')
      return JSON.parse(await line)
    },
  }
}

const CLK = 100 // USER_HZ
function cpuMs(pid: number) {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = rest.slice(rest.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK
}

async function stop(n: Node) {
  n.proc.stdin!.write('quit\n')
  await new Promise((r) => (n.proc.exitCode !== null ? r(null) : n.proc.once('exit', r)))
  procs.delete(n.proc)
}

interface Row {
  n: number
  edge: boolean
  heard: number
  a: { cpuPct: number; srtpPerSec: number; relayPerSec: number }
  b: { cpuPct: number; srtpPerSec: number; relayInPerSec: number }
}

async function run(n: number, edge: boolean, redisUrl: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-relay-bench-'))
  const env = { REDIS_URL: redisUrl, BENCH_DATA_DIR: dir, MEDIA_EDGE: String(edge) }
  const a = await node(env)
  const b = await node({ ...env, BENCH_USERS: '0' })
  const bots: Bot[] = []
  try {
    const host = new Client(a)
    const login = await host.post('/api/auth/login', { username: 'speaker', password: 'bench password 1' })
    if (login.status !== 200) throw new Error(`login: ${login.status}`)
    const created = await host.post('/api/rooms', { title: `relay ${n}`, kind: 'open' })
    const roomId = created.json.room.id as number
    const speaker = await Bot.connect(a.url, { cookie: host.cookie, origin: a.origin }, 'SPK')
    bots.push(speaker)
    await speaker.ws.request('room.join', { roomId })
    await speaker.ws.request('room.mute', { roomId, muted: false })
    await speaker.connectAudio(roomId)
    speaker.speak(20)
    let next = 0
    const join1 = async () => {
      while (next < n) {
        next++
        const ws = await connectWs(b.url, { origin: b.origin })
        const bot = new Bot(ws, 'L')
        bot.keep = false
        bots.push(bot)
        const r = await ws.request('room.join', { roomId }, 60_000)
        if (!r.ok) throw new Error(`join: ${r.error.code}`)
        await bot.connectAudio(roomId, 60_000)
        bot.countRawOnly()
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, join1))
    await sleep(1500)
    const [sa0, sb0, ca0, cb0, t0] = [await a.stats(), await b.stats(), cpuMs(a.pid), cpuMs(b.pid), performance.now()]
    const counts0 = bots.slice(1).map((x) => x.count)
    await sleep(SECONDS * 1000)
    const [sa1, sb1, ca1, cb1, t1] = [await a.stats(), await b.stats(), cpuMs(a.pid), cpuMs(b.pid), performance.now()]
    const s = (t1 - t0) / 1000
    const per = (x: number) => Math.round(x / s)
    return {
      n,
      edge,
      heard: bots.slice(1).filter((x, i) => x.count > counts0[i]!).length,
      a: {
        cpuPct: Math.round(((ca1 - ca0) / (t1 - t0)) * 1000) / 10,
        srtpPerSec: per(sa1.forwardedPackets - sa0.forwardedPackets),
        relayPerSec: per(sa1.relaySent - sa0.relaySent),
      },
      b: {
        cpuPct: Math.round(((cb1 - cb0) / (t1 - t0)) * 1000) / 10,
        srtpPerSec: per(sb1.forwardedPackets - sb0.forwardedPackets),
        relayInPerSec: per(sb1.relayReceived - sb0.relayReceived),
      },
    }
  } finally {
    for (const bot of bots) await bot.close().catch(() => {})
    await stop(b)
    await stop(a)
    rmSync(dir, { recursive: true, force: true })
  }
}

const redis = await startRedis()
if (!redis) {
  console.error('bench:relay: redis-server could not start')
  process.exit(1)
}
const rows: Row[] = []
try {
  for (const n of SIZES)
    for (const edge of [false, true]) {
      const row = await run(n, edge, redis.url)
      rows.push(row)
      console.log(
        `N=${n} ${edge ? 'edge   ' : 'no edge'}  heard ${row.heard}/${n}  ` +
          `A: ${row.a.cpuPct}% CPU, ${row.a.srtpPerSec} SRTP/s, ${row.a.relayPerSec} relay/s  ` +
          `B: ${row.b.cpuPct}% CPU, ${row.b.srtpPerSec} SRTP/s, ${row.b.relayInPerSec} relay in/s`,
      )
    }
} finally {
  await redis.stop()
}
console.log(JSON.stringify(rows))
process.exit(0)
