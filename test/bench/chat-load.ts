// bench:chat's load generator: one child process holding a share of the sockets (whole groups, so that a message's
// send and its deliveries are timed by the same clock). Driven by chat.ts over stdin/stdout, one JSON object a line:
//   in:  {"run":{"perSocket":<msg/s>,"seconds":<s>}}  |  {"quit":true}
//   out: {"ready":true}  |  {"result":{sent,acked,errors,delivered,doubled,reordered,expected,firstSend,lastAck,
//         lastDelivery,hist:{delivery:[[bin,count]…],ack:[[bin,count]…]}}}
// Times are performance.timeOrigin + performance.now() (ms, comparable across processes on one machine). Latencies
// go into 0.1 ms bins (the last bin holds everything over 10 s). The child exits when its stdin closes.
export {}
/** One URL, or several nodes' (comma-separated): socket k of the whole run connects to node k mod their count. */
const urls = process.env.CHAT_URL!.split(',')
const origin = process.env.CHAT_ORIGIN!
const from = Number(process.env.CHAT_FROM)
const to = Number(process.env.CHAT_TO)
const perThread = Number(process.env.CHAT_PER_THREAD)
/** How long a run waits for what is in flight after its last send (CHAT_DRAIN, seconds). */
const drainMs = Number(process.env.CHAT_DRAIN ?? 30) * 1000
const cookies = (await Bun.file(process.env.CHAT_SEED!).json()) as { cookies: string[]; threadOf: number[] }
/** Sends asked to be answered short (B64), as the app asks; CHAT_ACK=full: answered with the whole message. */
const ACK = process.env.CHAT_ACK === 'full' ? '' : ',"ack":"short"'

const BINS = 100_000
const now = () => performance.timeOrigin + performance.now()
const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`)

interface Phase {
  sent: number
  acked: number
  errors: Record<string, number>
  delivered: number
  doubled: number
  reordered: number
  firstSend: number
  lastAck: number
  lastDelivery: number
  delivery: Uint32Array
  ack: Uint32Array
}
const fresh = (): Phase => ({
  sent: 0,
  acked: 0,
  errors: {},
  delivered: 0,
  doubled: 0,
  reordered: 0,
  firstSend: 0,
  lastAck: 0,
  lastDelivery: 0,
  delivery: new Uint32Array(BINS + 1),
  ack: new Uint32Array(BINS + 1),
})
let phase = fresh()
/** Send time of each message in flight, by client id (`<sender index>-<n>`). */
const sentAt = new Map<string, number>()
const bin = (ms: number) => Math.min(BINS, Math.max(0, Math.floor(ms * 10)))
/** The string value of `"key":"…"` in a frame, without parsing it. */
const field = (s: string, key: string, at = 0) => {
  const i = s.indexOf(key, at)
  if (i < 0) return null
  const start = i + key.length
  return s.slice(start, s.indexOf('"', start))
}

const sockets: WebSocket[] = []
/** Per recipient socket: the last n seen from each sender (a message seen twice is counted as doubled). */
const lastSeen: Map<number, number>[] = []
/** Per recipient socket: the messages that arrived after a later one of their sender (this run). */
const earlyOf: Set<string>[] = []
await Promise.all(
  Array.from(
    { length: to - from },
    (_, k) =>
      new Promise<void>((resolve, reject) => {
        const me = from + k
        const seen = new Map<number, number>()
        lastSeen[k] = seen
        earlyOf[k] = new Set()
        const ws = new WebSocket(urls[me % urls.length]!, {
          headers: { cookie: cookies.cookies[me]!, origin },
        } as never)
        ws.onmessage = (e) => {
          const s = e.data as string
          if (s.startsWith('{"re"')) {
            const t = now()
            if (s.startsWith('"ok":true', s.indexOf(',') + 1)) {
              const cid = field(s, '"clientId":"')
              const at = cid === null ? undefined : sentAt.get(cid)
              if (at !== undefined) {
                phase.acked++
                phase.lastAck = t
                phase.ack[bin(t - at)]!++
              }
            } else {
              const code = field(s, '"code":"') ?? 'unknown'
              phase.errors[code] = (phase.errors[code] ?? 0) + 1
            }
            return
          }
          if (s.includes('"type":"hello"')) return resolve()
          if (!s.startsWith('{"type":"bc.message"')) return
          const cid = field(s, '"clientId":"')
          if (cid === null) return
          const dash = cid.indexOf('-')
          const sender = Number(cid.slice(0, dash))
          if (sender === me) return
          const n = Number(cid.slice(dash + 1))
          const last = seen.get(sender) ?? -1
          // A message seen twice is doubled; one that arrives after a later one of its sender is reordered (B57: a
          // sender's messages take their seqs in the order sent, and a node's go out in seq order, B51), not lost.
          if (n <= last) {
            const early = earlyOf[k]!
            if (n === last || early.has(cid)) {
              phase.doubled++
              return
            }
            early.add(cid)
            phase.reordered++
          } else seen.set(sender, n)
          const at = sentAt.get(cid)
          if (at === undefined) return
          const t = now()
          phase.delivered++
          phase.lastDelivery = t
          phase.delivery[bin(t - at)]!++
        }
        ws.onerror = () => reject(new Error(`socket ${me} failed`))
        ws.onclose = () => reject(new Error(`socket ${me} closed`))
        sockets.push(ws)
      }),
  ),
)
out({ ready: true })

const counters = sockets.map(() => 0)
/** Sends at `perSocket` messages/s from every socket for `seconds`, then waits for what is in flight. */
async function run(perSocket: number, seconds: number) {
  phase = fresh()
  sentAt.clear()
  for (const e of earlyOf) e.clear()
  const rate = perSocket * sockets.length
  const total = Math.round(rate * seconds)
  const t0 = now()
  phase.firstSend = t0
  let next = Math.floor(Math.random() * sockets.length)
  while (phase.sent < total) {
    const due = Math.min(total, Math.floor(((now() - t0) / 1000) * rate) + 1)
    while (phase.sent < due) {
      const k = next
      next = (next + 1) % sockets.length
      const me = from + k
      const n = counters[k]!++
      const clientId = `${me}-${n}`
      sentAt.set(clientId, now())
      sockets[k]!.send(
        `{"id":${n},"type":"bc.send","threadId":${cookies.threadOf[me]},"clientId":"${clientId}",` +
          `"body":"message ${n} from ${me}"${ACK}}`,
      )
      phase.sent++
    }
    await Bun.sleep(2)
  }
  // What is in flight: until every send is answered and deliveries stop growing (at most CHAT_DRAIN, 30 s).
  const deadline = now() + drainMs
  let last = -1
  while (now() < deadline) {
    const answered = phase.acked + Object.values(phase.errors).reduce((a, b) => a + b, 0)
    if (answered >= phase.sent && phase.delivered === last && phase.delivered >= phase.acked * (perThread - 1)) break
    last = phase.delivered
    await Bun.sleep(200)
  }
  const sparse = (h: Uint32Array) => {
    const r: [number, number][] = []
    for (let i = 0; i < h.length; i++) if (h[i]) r.push([i, h[i]!])
    return r
  }
  out({
    result: {
      sent: phase.sent,
      acked: phase.acked,
      errors: phase.errors,
      delivered: phase.delivered,
      doubled: phase.doubled,
      reordered: phase.reordered,
      expected: phase.acked * (perThread - 1),
      firstSend: phase.firstSend,
      lastAck: phase.lastAck,
      lastDelivery: phase.lastDelivery,
      hist: { delivery: sparse(phase.delivery), ack: sparse(phase.ack) },
    },
  })
}

let buf = ''
const decoder = new TextDecoder()
for await (const chunk of Bun.stdin.stream()) {
  buf += decoder.decode(chunk)
  let nl: number
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl)
    buf = buf.slice(nl + 1)
    const cmd = JSON.parse(line) as { run?: { perSocket: number; seconds: number }; quit?: boolean }
    if (cmd.run) await run(cmd.run.perSocket, cmd.run.seconds)
    if (cmd.quit) {
      for (const ws of sockets) ws.onclose = null
      for (const ws of sockets) ws.close()
      process.exit(0)
    }
  }
}
process.exit(0)
