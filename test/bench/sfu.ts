// bench:sfu — one bot speaker to N bot listeners through the SFU, over loopback. The server runs in a child
// process (test/bench/sfu-server.ts) so its CPU time and RSS come from /proc. Listeners are guests of an open room.
// Usage: bun test/bench/sfu.ts [N …]   (default 50 200 500; or SFU_N=50,200). SFU_SECONDS sets the window (5);
// SFU_STOCK=1 forwards through werift's own RTCRtpSender instead of our path, for comparison.
// Reports per N: server CPU µs per forwarded packet, forwarded packets/s, loss %, server RSS per listener,
// join time p50/p99. The last line is one JSON object for the largest N.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { Bot, sleep } from '../helpers/bot'

const args = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0)
const SIZES = args.length
  ? args
  : (process.env.SFU_N ?? '50,200,500')
      .split(',')
      .map(Number)
      .filter((n) => n > 0)
const SECONDS = Number(process.env.SFU_SECONDS ?? 5)
const CONCURRENCY = 8
const PACKET_MS = 20

// A bot's UDP socket may see ICMP "port unreachable" once the server side of a closed peer is gone (Bun reports it
// as an unhandled dgram error); that is not a failure of the benchmark.
process.on('uncaughtException', (e: any) => {
  if (e?.code !== 'ECONNREFUSED') {
    console.error(e)
    process.exit(1)
  }
})

const CLK = 100 // USER_HZ
function cpuMs(pid: number) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
  return ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK // utime + stime
}
function sysMs(pid: number) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return (Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[12]) * 1000) / CLK
}
function rssKb(pid: number) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0
}

// ── the server child ──
const child = spawn(
  process.execPath,
  [
    ...(process.env.SFU_PROFILE ? ['--cpu-prof-md', '--cpu-prof-dir=' + process.env.SFU_PROFILE] : []),
    join(import.meta.dir, 'sfu-server.ts'),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env } },
)
const lines: string[] = []
const waiters: ((l: string) => void)[] = []
let out = ''
child.stdout!.on('data', (d) => {
  out += d.toString()
  let i: number
  while ((i = out.indexOf('\n')) >= 0) {
    const l = out.slice(0, i)
    out = out.slice(i + 1)
    const w = waiters.shift()
    w ? w(l) : lines.push(l)
  }
})
const nextLine = () =>
  new Promise<string>((r) => {
    const l = lines.shift()
    l !== undefined ? r(l) : waiters.push(r)
  })
const serverStats = async () => {
  child.stdin!.write('stats\n')
  return JSON.parse(await nextLine()) as { peers: number; forwardedPackets: number; forwardedBytes: number }
}

const info = JSON.parse(await nextLine()) as { url: string; origin: string; pid: number }
const server = { url: info.url, origin: info.origin }
const pid = info.pid

const host = new Client(server)
const login = await host.post('/api/auth/login', { username: 'speaker', password: 'bench password 1' })
if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`)

interface Result {
  n: number
  cpuUsPerPacket: number
  marginalCpuUsPerPacket: number
  kernelPct: number
  idleCpuPct: number
  forwardedPerSec: number
  lossPct: number
  rssKbPerListener: number
  joinMsP50: number
  joinMsP99: number
  sentPackets: number
  forwardedPackets: number
  seconds: number
}
const results: Result[] = []

for (const n of SIZES) {
  const created = await host.post('/api/rooms', { title: `bench ${n}`, kind: 'open' })
  if (created.status !== 201) throw new Error(`room: ${created.status} ${created.text}`)
  const roomId = created.json.room.id as number
  const speaker = await Bot.connect(server.url, { cookie: host.cookie, origin: server.origin }, 'SPK')
  const j = await speaker.ws.request('room.join', { roomId })
  if (!j.ok) throw new Error(`join: ${j.error.code}`)
  await speaker.ws.request('room.mute', { roomId, muted: false })
  await speaker.connectAudio(roomId)
  await sleep(300)
  const rss0 = rssKb(pid)

  // Join N guest listeners, CONCURRENCY at a time, timing each from socket open to a connected peer.
  const listeners: Bot[] = []
  const joinMs: number[] = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      const t0 = performance.now()
      const ws = await connectWs(server.url, { origin: server.origin })
      const bot = new Bot(ws, 'L')
      bot.keep = false
      const r = await ws.request('room.join', { roomId }, 30_000)
      if (!r.ok) throw new Error(`guest join: ${r.error.code} ${r.error.message}`)
      await bot.connectAudio(roomId, 60_000)
      bot.countRawOnly()
      joinMs.push(performance.now() - t0)
      listeners.push(bot)
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await sleep(500)
  const rss1 = rssKb(pid)

  // The same window with nobody talking: the cost of keeping N peers alive (ICE consent, RTCP, timers).
  const i0 = cpuMs(pid)
  await sleep(SECONDS * 1000)
  const idleMs = cpuMs(pid) - i0

  // Speak for SECONDS; measure the server's CPU and forwarded packets over the window.
  speaker.speak(20, PACKET_MS)
  await sleep(500) // the speaker takes a slot
  for (const l of listeners) l.count = 0
  const s0 = await serverStats()
  const c0 = cpuMs(pid)
  const k0 = sysMs(pid)
  const t0 = performance.now()
  let sent = 0
  speaker.silence()
  // A steady 50 packets/s even when timers run late: each tick sends what is owed by the clock.
  const tick = setInterval(() => {
    const owed = Math.floor((performance.now() - t0) / PACKET_MS) + 1 - sent
    for (let k = 0; k < Math.min(owed, 10); k++) {
      speaker.sendPacket(20).catch(() => {})
      sent++
    }
  }, PACKET_MS / 2)
  await sleep(SECONDS * 1000)
  clearInterval(tick)
  const c1 = cpuMs(pid)
  const k1 = sysMs(pid)
  const elapsed = (performance.now() - t0) / 1000
  await sleep(500) // in flight
  const s1 = await serverStats()
  const received = listeners.reduce((a, l) => a + l.count, 0)
  const forwarded = s1.forwardedPackets - s0.forwardedPackets
  const r: Result = {
    n,
    cpuUsPerPacket: Math.round((((c1 - c0) * 1000) / Math.max(1, forwarded)) * 10) / 10,
    marginalCpuUsPerPacket:
      Math.round(((Math.max(0, c1 - c0 - idleMs * (elapsed / SECONDS)) * 1000) / Math.max(1, forwarded)) * 10) / 10,
    kernelPct: Math.round(((k1 - k0) / Math.max(1, c1 - c0)) * 100),
    idleCpuPct: Math.round((idleMs / (SECONDS * 1000)) * 1000) / 10,
    forwardedPerSec: Math.round(forwarded / elapsed),
    lossPct: Math.round(Math.max(0, 1 - received / Math.max(1, sent * n)) * 10000) / 100,
    rssKbPerListener: Math.round((rss1 - rss0) / n),
    joinMsP50: Math.round(pct(joinMs, 50)),
    joinMsP99: Math.round(pct(joinMs, 99)),
    sentPackets: sent,
    forwardedPackets: forwarded,
    seconds: Math.round(elapsed * 10) / 10,
  }
  results.push(r)
  console.log(
    `N=${n}: ${r.cpuUsPerPacket} µs CPU/forwarded packet (${r.marginalCpuUsPerPacket} µs above idle, ` +
      `${r.kernelPct}% in the kernel; idle ${r.idleCpuPct}% of a core), ` +
      `${r.forwardedPerSec} packets/s, loss ${r.lossPct}%, ` +
      `RSS ${r.rssKbPerListener} KiB/listener, join p50 ${r.joinMsP50} ms p99 ${r.joinMsP99} ms ` +
      `(${sent} sent, ${forwarded} forwarded in ${r.seconds}s)`,
  )

  for (const l of listeners) await l.close().catch(() => {})
  await speaker.ws.request('room.end', { roomId }).catch(() => {})
  await speaker.close()
  await sleep(500)
}

const largest = results.reduce((a, b) => (b.n > a.n ? b : a))
child.stdin!.write('quit\n')
await new Promise((r) => child.once('exit', r))
console.log(JSON.stringify(largest))
process.exit(0)
