// The probe of `bench:sfu`, in its own process so that the load generator's busy event loop (hundreds of werift
// listeners) does not count in what it measures: a few guest listeners that note when each packet arrives (epoch
// ms by RTP sequence number), `GET /healthz` every 50 ms and a Backchannel DM every 100 ms (send → delivery).
// argv: url origin roomId listeners. Prints "ready" once its listeners are connected; on "start" it probes, on
// "stop" it prints one JSON line of what it measured and exits. It exits too when its stdin closes.
import { Client } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { Bot, sleep } from '../helpers/bot'

const [url, origin, room, count] = process.argv.slice(2)
const server = { url: url!, origin: origin! }
const roomId = Number(room)
const epoch = () => performance.timeOrigin + performance.now()

process.on('uncaughtException', (e: any) => {
  if (e?.code !== 'ECONNREFUSED') {
    console.error(e)
    process.exit(1)
  }
})
process.stdin.on('end', () => process.exit(0))

async function signIn(username: string) {
  const c = new Client(server)
  const r = await c.post('/api/auth/login', { username, password: 'bench password 1' })
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`)
  return c
}

const bots: Bot[] = []
const arrivals: Map<number, number>[] = []
for (let i = 0; i < Number(count); i++) {
  const ws = await connectWs(server.url, { origin: server.origin })
  const bot = new Bot(ws, 'P')
  bot.keep = false
  const r = await ws.request('room.join', { roomId }, 60_000)
  if (!r.ok) throw new Error(`probe join: ${r.error.code}`)
  // A listener that cannot connect (a saturated machine) is left out; the others measure.
  const up = await bot.connectAudio(roomId, 120_000).then(
    () => true,
    () => false,
  )
  if (!up) {
    await bot.close().catch(() => {})
    continue
  }
  bot.countRawOnly()
  // A slot carrying one speaker keeps the speaker's sequence numbers (the first source has no offset).
  const seen = new Map<number, number>()
  arrivals.push(seen)
  ;(bot.pc as any).iceTransports[0].connection.onData.subscribe((d: Buffer) => {
    const pt = d.length > 12 ? d[1]! & 0x7f : 0
    if (d[0]! >> 6 === 2 && (pt < 64 || pt > 95) && !seen.has(d.readUInt16BE(2))) seen.set(d.readUInt16BE(2), epoch())
  })
  bots.push(bot)
}

const alice = await signIn('alice')
const bob = await signIn('bob')
const aWs = await connectWs(server.url, { cookie: alice.cookie, origin: server.origin })
const bWs = await connectWs(server.url, { cookie: bob.cookie, origin: server.origin })
const dm = await aWs.request('bc.dm', { username: 'bob' })
if (!dm.ok) throw new Error(`bc.dm: ${dm.error.code}`)
const threadId = dm.thread.id as number
console.log('ready')

// How late this process's own loop runs (a late loop delays everything it measures).
let maxLag = 0
let expected = performance.now() + 100
setInterval(() => {
  const now = performance.now()
  maxLag = Math.max(maxLag, now - expected)
  expected = now + 100
}, 100)

const health: number[] = []
const chat: number[] = []
let stop = false
let loops: Promise<unknown>[] = []

function start() {
  for (const a of arrivals) a.clear()
  maxLag = 0
  loops = [
    (async () => {
      while (!stop) {
        const t0 = performance.now()
        await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(30_000) })
          .then((r) => r.text())
          .catch(() => {})
        health.push(performance.now() - t0)
        await sleep(50)
      }
    })(),
    (async () => {
      let k = 0
      while (!stop) {
        const body = `probe ${process.pid} ${++k}`
        const t0 = performance.now()
        const got = bWs.next('bc.message', (e) => e.message.body === body, 30_000)
        // The client id is unique to this probe: the server answers a repeated one with the message it already has
        // (an idempotent send), and the probe of the next N would wait for a delivery that never comes again.
        aWs.request('bc.send', { threadId, clientId: `p${process.pid}-${k}`, body }, 30_000).catch(() => {})
        // Not delivered within 30 s: counted as 30 s (the figure is a p99, a lost probe must not vanish).
        await got.catch(() => {})
        chat.push(performance.now() - t0)
        await sleep(100)
      }
    })(),
  ]
}

async function finish() {
  stop = true
  await Promise.all(loops)
  console.log(JSON.stringify({ health, chat, arrivals: arrivals.map((a) => [...a]), maxLagMs: Math.round(maxLag) }))
  for (const b of bots) await b.close().catch(() => {})
  aWs.close()
  bWs.close()
  process.exit(0)
}

let buf = ''
process.stdin.on('data', (d) => {
  buf += d.toString()
  let i: number
  while ((i = buf.indexOf('\n')) >= 0) {
    const cmd = buf.slice(0, i).trim()
    buf = buf.slice(i + 1)
    if (cmd === 'start') start()
    if (cmd === 'stop') void finish()
  }
})
