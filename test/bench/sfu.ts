// bench:sfu — one bot speaker to N bot listeners through the SFU, over loopback. The server runs in a child process
// (test/bench/sfu-server.ts) so its CPU time and RSS come from /proc. Listeners are guests of an open room.
// Usage: bun test/bench/sfu.ts [N …]   (default 200 500 1000 2000; or SFU_N=50,200). SFU_SECONDS sets the window (5);
// SFU_BURST=1000 listeners join one room at once after the sizes (0: skip); SFU_STOCK=1 forwards through werift's
// own RTCRtpSender instead of our path, for comparison; SFU_TIMEOUT (seconds, 3600) stops a run that hangs.
// Reports per N: server CPU µs per forwarded packet, forwarded packets/s, loss %, server RSS per listener, join time
// p50/p99, and from a probe in its own process (sfu-probe-child.ts: SFU_PROBES more listeners, 10) the delivery
// latency p50/p99 and the isolation figures (`/healthz` and a Backchannel send → delivery while the SFU forwards);
// then the burst of joins (joins/s, p50/p99). The last line is one JSON object: the largest N's figures with `burst`.
// Whatever happens (a throw, SIGINT, the timeout) the children are stopped: they are signalled on exit, and they
// stop by themselves when their stdin (this process) goes away.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
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
  : (process.env.SFU_N ?? '200,500,1000,2000')
      .split(',')
      .map(Number)
      .filter((n) => n > 0)
const SECONDS = Number(process.env.SFU_SECONDS ?? 5)
const BURST = Number(process.env.SFU_BURST ?? 1000)
const TIMEOUT_S = Number(process.env.SFU_TIMEOUT ?? 3600)
const PROBES = Number(process.env.SFU_PROBES ?? 10)
const CONCURRENCY = 8
const PACKET_MS = 20
const epoch = () => performance.timeOrigin + performance.now()

/** A child process spoken to by lines on stdin and stdout. */
class LineChild {
  readonly proc
  private lines: string[] = []
  private waiters: ((l: string) => void)[] = []
  private out = ''
  /** `['--', cpus, ...args]` runs the child under `taskset -c cpus`. */
  constructor(args: string[]) {
    const [cmd, argv] =
      args[0] === '--' ? ['taskset', ['-c', args[1]!, process.execPath, ...args.slice(2)]] : [process.execPath, args]
    this.proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env } })
    this.proc.stdout!.on('data', (d) => {
      this.out += d.toString()
      let i: number
      while ((i = this.out.indexOf('\n')) >= 0) {
        const l = this.out.slice(0, i)
        this.out = this.out.slice(i + 1)
        const w = this.waiters.shift()
        w ? w(l) : this.lines.push(l)
      }
    })
    children.add(this)
    // A child that exits answers every wait with an empty line.
    this.proc.once('exit', () => {
      children.delete(this)
      for (const w of this.waiters.splice(0)) w('')
    })
  }
  send(line: string) {
    this.proc.stdin!.write(line + '\n')
  }
  next() {
    return new Promise<string>((r) => {
      const l = this.lines.shift()
      l !== undefined ? r(l) : this.waiters.push(r)
    })
  }
  stop() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM')
  }
}
const children = new Set<LineChild>()

// ── the server child, stopped whatever happens ──
// SFU_SERVER_CPUS pins the server child (taskset -c), e.g. `taskset -c 0 bun run bench:sfu` with SFU_SERVER_CPUS=1.
const serverChild = new LineChild([
  ...(process.env.SFU_SERVER_CPUS ? ['--', process.env.SFU_SERVER_CPUS] : []),
  ...(process.env.SFU_PROFILE ? ['--cpu-prof-md', '--cpu-prof-dir=' + process.env.SFU_PROFILE] : []),
  join(import.meta.dir, 'sfu-server.ts'),
])
const child = serverChild.proc
const stopChild = () => {
  for (const c of children) c.stop()
}
process.on('exit', stopChild)
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.on(sig, () => {
    console.error(`bench:sfu: ${sig}, stopping the server`)
    process.exit(130)
  })
setTimeout(() => {
  console.error(`bench:sfu: no result after ${TIMEOUT_S} s, stopping`)
  process.exit(2)
}, TIMEOUT_S * 1000).unref()

// A bot's UDP socket may see ICMP "port unreachable" once the server side of a closed peer is gone (Bun reports it
// as an unhandled dgram error); that is not a failure of the benchmark.
process.on('uncaughtException', (e: any) => {
  if (e?.code !== 'ECONNREFUSED') {
    console.error(e)
    process.exit(1)
  }
})
process.on('unhandledRejection', (e) => {
  console.error(e)
  process.exit(1)
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
/** CPU ms of each thread of the process: the main thread (its tid is the pid) and the others (the media worker). */
function threadMs(pid: number) {
  const out = new Map<number, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
      out.set(Number(tid), ((Number(rest[11]) + Number(rest[12])) * 1000) / CLK)
    } catch {
      // the thread ended
    }
  }
  return out
}
/** The share of a core (%) of the main thread and of the busiest other thread between two threadMs() samples. */
function threadShares(pid: number, a: Map<number, number>, b: Map<number, number>, ms: number) {
  let main = 0
  let other = 0
  for (const [tid, t] of b) {
    const d = t - (a.get(tid) ?? 0)
    if (tid === pid) main = d
    else other = Math.max(other, d)
  }
  return { mainPct: Math.round((main / ms) * 100), busiestOtherPct: Math.round((other / ms) * 100) }
}
function rssKb(pid: number) {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
}
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0
}
const r1 = (x: number) => Math.round(x * 10) / 10

child.once('exit', (code, signal) => {
  if (!finished) {
    console.error(`bench:sfu: the server child exited (${code ?? signal}) before the end`)
    process.exit(1)
  }
})
let finished = false
const serverStats = async () => {
  serverChild.send('stats')
  return JSON.parse(await serverChild.next()) as { peers: number; forwardedPackets: number; forwardedBytes: number }
}

const info = JSON.parse(await serverChild.next()) as { url: string; origin: string; pid: number }
const server = { url: info.url, origin: info.origin }
const pid = info.pid

async function signIn(username: string) {
  const c = new Client(server)
  const r = await c.post('/api/auth/login', { username, password: 'bench password 1' })
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`)
  return c
}
const host = await signIn('speaker')

interface Result {
  n: number
  cpuUsPerPacket: number
  marginalCpuUsPerPacket: number
  kernelPct: number
  /** While forwarding: the server's main thread and its busiest other thread (the media worker), % of a core. */
  threads: { mainPct: number; busiestOtherPct: number }
  idleCpuPct: number
  forwardedPerSec: number
  lossPct: number
  /** Listeners that could not connect (loss is over those that did). */
  failedJoins: number
  latencyMsP50: number
  latencyMsP99: number
  rssKbPerListener: number
  joinMsP50: number
  joinMsP99: number
  sentPackets: number
  forwardedPackets: number
  seconds: number
  /** While the SFU forwarded: `/healthz` and a Backchannel send → delivery, from the probe's own process. */
  isolation: {
    healthzMsP50: number
    healthzMsP99: number
    healthzProbes: number
    backchannelMsP50: number
    backchannelMsP99: number
    backchannelProbes: number
    /** The probe's own loop lag at worst: when large, its figures are its own delay, not the server's. */
    probeLoopLagMs: number
  }
}
const results: Result[] = []

/** A live room with the speaker in it, unmuted and connected. */
async function speakerRoom(title: string) {
  const created = await host.post('/api/rooms', { title, kind: 'open' })
  if (created.status !== 201) throw new Error(`room: ${created.status} ${created.text}`)
  const roomId = created.json.room.id as number
  const speaker = await Bot.connect(server.url, { cookie: host.cookie, origin: server.origin }, 'SPK')
  const j = await speaker.ws.request('room.join', { roomId })
  if (!j.ok) throw new Error(`join: ${j.error.code}`)
  await speaker.ws.request('room.mute', { roomId, muted: false })
  await speaker.connectAudio(roomId)
  return { roomId, speaker }
}

/** One guest listener: socket, room.join, rtc.connect, answer, ICE + DTLS; counting raw RTP from then on. */
async function listener(roomId: number) {
  const ws = await connectWs(server.url, { origin: server.origin })
  const bot = new Bot(ws, 'L')
  bot.keep = false
  const r = await ws.request('room.join', { roomId }, 60_000)
  if (!r.ok) throw new Error(`guest join: ${r.error.code} ${r.error.message}`)
  // M59: a listener told `media_busy` comes back after the time given (as client/app/rtc.ts does), and is counted.
  for (;;) {
    try {
      await bot.connectAudio(roomId, 120_000)
      break
    } catch (e) {
      const m = /^rtc\.connect: media_busy .*Retry in (\d+) s/.exec((e as Error).message)
      if (!m) throw e
      busyRefusals++
      await sleep(Number(m[1]) * 1000 * (0.5 + Math.random()))
    }
  }
  bot.countRawOnly()
  return bot
}
/** How many times a listener was told `media_busy` and came back later. */
let busyRefusals = 0

interface ProbeReport {
  health: number[]
  chat: number[]
  arrivals: [number, number][][]
  /** How late the probe's own loop ran at worst during the window. */
  maxLagMs?: number
}

for (const n of SIZES) {
  const { roomId, speaker } = await speakerRoom(`bench ${n}`)
  await sleep(300)
  const rss0 = rssKb(pid)

  // Join N guest listeners, CONCURRENCY at a time, timing each from socket open to a connected peer.
  const listeners: Bot[] = []
  const joinMs: number[] = []
  let next = 0
  let failedJoins = 0
  const worker = async () => {
    while (next < n) {
      next++
      const t0 = performance.now()
      try {
        const bot = await listener(roomId)
        joinMs.push(performance.now() - t0)
        listeners.push(bot)
      } catch (e) {
        // A join that fails (ICE or DTLS gave up on a saturated machine) is counted; the others are measured.
        failedJoins++
        if (failedJoins <= 3) console.error(`N=${n}: a listener could not join: ${(e as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await sleep(500)
  const rss1 = rssKb(pid)
  // The probe's listeners join after the N (not counted in the server's figures of the joins).
  const probe =
    PROBES > 0
      ? new LineChild([
          join(import.meta.dir, 'sfu-probe-child.ts'),
          server.url,
          server.origin,
          String(roomId),
          String(PROBES),
        ])
      : null
  if (probe && (await probe.next()) !== 'ready') throw new Error('the probe could not start')

  // The same window with nobody talking: the cost of keeping N peers alive (ICE consent, RTCP, timers).
  const i0 = cpuMs(pid)
  await sleep(SECONDS * 1000)
  const idleMs = cpuMs(pid) - i0

  // Speak for SECONDS; measure the server's CPU and forwarded packets over the window.
  speaker.speak(20, PACKET_MS)
  await sleep(500) // the speaker takes a slot
  speaker.silence()
  for (const l of listeners) l.count = 0
  probe?.send('start')
  const sentAt = new Map<number, number>()
  const s0 = await serverStats()
  const c0 = cpuMs(pid)
  const k0 = sysMs(pid)
  const th0 = threadMs(pid)
  const t0 = performance.now()
  let sent = 0
  // A steady 50 packets/s even when timers run late: each tick sends what is owed by the clock.
  const tick = setInterval(() => {
    const owed = Math.floor((performance.now() - t0) / PACKET_MS) + 1 - sent
    for (let k = 0; k < Math.min(owed, 10); k++) {
      // Sent: when werift has protected it and handed it to the socket (this process's own queueing, with N
      // listeners on its loop, is not the server's latency).
      const sending = speaker.sendPacket(20)
      const seq = (speaker as any).seq as number
      sending.then(
        () => sentAt.set(seq, epoch()),
        () => {},
      )
      sent++
    }
  }, PACKET_MS / 2)
  await sleep(SECONDS * 1000)
  clearInterval(tick)
  const c1 = cpuMs(pid)
  const k1 = sysMs(pid)
  const elapsed = (performance.now() - t0) / 1000
  const threads = threadShares(pid, th0, threadMs(pid), elapsed * 1000)
  await sleep(500) // in flight
  probe?.send('stop')
  const line = probe ? await probe.next() : ''
  if (probe && !line) console.error(`N=${n}: the probe stopped early (no latency or isolation figures)`)
  const report: ProbeReport = line ? JSON.parse(line) : { health: [], chat: [], arrivals: [] }
  const s1 = await serverStats()
  const received = listeners.reduce((a, l) => a + l.count, 0)
  const forwarded = s1.forwardedPackets - s0.forwardedPackets
  const latency: number[] = []
  for (const a of report.arrivals)
    for (const [seq, at] of a) {
      const t = sentAt.get(seq)
      if (t !== undefined) latency.push(at - t)
    }
  const r: Result = {
    n,
    cpuUsPerPacket: r1(((c1 - c0) * 1000) / Math.max(1, forwarded)),
    marginalCpuUsPerPacket: r1((Math.max(0, c1 - c0 - idleMs * (elapsed / SECONDS)) * 1000) / Math.max(1, forwarded)),
    kernelPct: Math.round(((k1 - k0) / Math.max(1, c1 - c0)) * 100),
    threads,
    idleCpuPct: Math.round((idleMs / (SECONDS * 1000)) * 1000) / 10,
    forwardedPerSec: Math.round(forwarded / elapsed),
    lossPct: Math.round(Math.max(0, 1 - received / Math.max(1, sent * listeners.length)) * 10000) / 100,
    failedJoins,
    latencyMsP50: r1(pct(latency, 50)),
    latencyMsP99: r1(pct(latency, 99)),
    rssKbPerListener: Math.round((rss1 - rss0) / Math.max(1, listeners.length)),
    joinMsP50: Math.round(pct(joinMs, 50)),
    joinMsP99: Math.round(pct(joinMs, 99)),
    sentPackets: sent,
    forwardedPackets: forwarded,
    seconds: r1(elapsed),
    isolation: {
      healthzMsP50: r1(pct(report.health, 50)),
      healthzMsP99: r1(pct(report.health, 99)),
      healthzProbes: report.health.length,
      backchannelMsP50: r1(pct(report.chat, 50)),
      backchannelMsP99: r1(pct(report.chat, 99)),
      backchannelProbes: report.chat.length,
      probeLoopLagMs: report.maxLagMs ?? 0,
    },
  }
  results.push(r)
  console.log(
    `N=${n}: ${r.cpuUsPerPacket} µs CPU/forwarded packet (${r.marginalCpuUsPerPacket} µs above idle, ` +
      `${r.kernelPct}% in the kernel; idle ${r.idleCpuPct}% of a core; main thread ${r.threads.mainPct}%, ` +
      `media worker ${r.threads.busiestOtherPct}%), ` +
      `${r.forwardedPerSec} packets/s, loss ${r.lossPct}%, ` +
      `latency p50 ${r.latencyMsP50} ms p99 ${r.latencyMsP99} ms, ` +
      `RSS ${r.rssKbPerListener} KiB/listener, join p50 ${r.joinMsP50} ms p99 ${r.joinMsP99} ms ` +
      `(${sent} sent, ${forwarded} forwarded in ${r.seconds}s)${failedJoins ? `; ${failedJoins} joins failed` : ''}`,
  )
  const iso = r.isolation
  if (probe)
    console.log(
      `  isolation at N=${n}: /healthz p50 ${iso.healthzMsP50} ms p99 ${iso.healthzMsP99} ms ` +
        `(${iso.healthzProbes} probes); Backchannel send → delivery p50 ${iso.backchannelMsP50} ms ` +
        `p99 ${iso.backchannelMsP99} ms (${iso.backchannelProbes} messages); the probe's own loop lag at worst ` +
        `${iso.probeLoopLagMs} ms`,
    )

  await closeAll(listeners)
  await speaker.ws.request('room.end', { roomId }).catch(() => {})
  await speaker.close()
  await sleep(500)
}

/** Closes bots a few at a time (closing 2,000 werift peers at once starves the event loop). */
async function closeAll(bots: Bot[]) {
  for (let i = 0; i < bots.length; i += 50)
    await Promise.all(bots.slice(i, i + 50).map((b) => b.close().catch(() => {})))
}

// ── BURST listeners arriving at once in a fresh room ──
let burst: {
  n: number
  joined: number
  seconds: number
  joinsPerSec: number
  joinMsP50: number
  joinMsP99: number
  failed: number
  busyRefusals: number
  serverConnectsPerSec: number
} | null = null
if (BURST > 0) {
  const { roomId, speaker } = await speakerRoom('bench burst')
  await sleep(300)
  const joinMs: number[] = []
  const bots: Bot[] = []
  let failed = 0
  busyRefusals = 0
  // The server's own rate: its connects from the first to the last of the burst's (without the bench's ramp).
  const connectsBefore = ((await serverStats()) as any).connects as number
  let firstConnectAt = 0
  let lastConnectAt = 0
  let lastConnects = connectsBefore
  let polling = true
  const poller = (async () => {
    let previousPoll = performance.now()
    while (polling) {
      const c = ((await serverStats()) as any).connects as number
      const now = performance.now()
      if (c > lastConnects) {
        // The first connects happened after the previous poll: count from there (the span is not shortened).
        if (!firstConnectAt) firstConnectAt = previousPoll
        lastConnectAt = now
        lastConnects = c
      }
      previousPoll = now
      await sleep(100)
    }
  })()
  const t0 = performance.now()
  // Every 5 s: how far the burst is, and the server's handshake gate (M57).
  const progress = setInterval(async () => {
    const st = (await serverStats()) as any
    console.error(
      `  burst +${r1((performance.now() - t0) / 1000)} s: ${joinMs.length} joined, ${failed} failed; server: ` +
        `${st.connecting} connecting, gate ${JSON.stringify(st.handshakes)}`,
    )
  }, 5000)
  await Promise.all(
    Array.from({ length: BURST }, async () => {
      const t = performance.now()
      try {
        bots.push(await listener(roomId))
        joinMs.push(performance.now() - t)
      } catch (e) {
        failed++
        if (failed <= 3) console.error(`burst: a listener could not join: ${(e as Error).message}`)
      }
    }),
  )
  clearInterval(progress)
  polling = false
  await poller
  const finalConnects = ((await serverStats()) as any).connects as number
  if (finalConnects > lastConnects) {
    lastConnectAt = performance.now()
    lastConnects = finalConnects
  }
  const serverSpan = (lastConnectAt - firstConnectAt) / 1000
  const serverRate = serverSpan > 0 ? Math.round((lastConnects - connectsBefore) / serverSpan) : 0
  // Joins per second: up to the last listener that joined (the failed ones wait for their timeout).
  const seconds = Math.max(0, ...joinMs) / 1000
  const total = (performance.now() - t0) / 1000
  burst = {
    n: BURST,
    joined: joinMs.length,
    seconds: r1(seconds),
    joinsPerSec: r1(joinMs.length / seconds),
    joinMsP50: Math.round(pct(joinMs, 50)),
    joinMsP99: Math.round(pct(joinMs, 99)),
    failed,
    busyRefusals,
    serverConnectsPerSec: serverRate,
  }
  console.log(
    `burst: ${burst.joined} of ${BURST} listeners joined at once in ${burst.seconds} s (${r1(total)} s in all) ` +
      `(${burst.joinsPerSec} joins/s), ` +
      `join p50 ${burst.joinMsP50} ms p99 ${burst.joinMsP99} ms${failed ? `, ${failed} failed` : ''}` +
      `, ${burst.busyRefusals} media_busy refusals (retried); ` +
      `the server connected ${lastConnects - connectsBefore} in ${r1(serverSpan)} s (${serverRate}/s)`,
  )
  await closeAll(bots)
  await speaker.ws.request('room.end', { roomId }).catch(() => {})
  await speaker.close()
}

const largest = results.reduce((a, b) => (b.n > a.n ? b : a))
finished = true
serverChild.send('quit')
await new Promise((r) => child.once('exit', r))
console.log(JSON.stringify({ ...largest, burst }))
process.exit(0)
