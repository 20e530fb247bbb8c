// The client half of test/deploy/compose-check.sh: members of a Townhall running from compose.yaml, reached only
// through Caddy (https with Caddy's internal CA: NODE_EXTRA_CA_CERTS names its root certificate). Checks: the admin
// signs in, a member signs up by invite, their sockets land on different nodes, a DM reaches the other node live;
// in a live room the admin speaks and bob hears, both peers connected to the room's node (werift bots, as in the
// tests); then the node holding the room is stopped (docker compose stop: SIGTERM) and drains: the node left takes
// the room over (W45: its people are told it moves and join it again there), its sockets are sent on, the node exits
// 0 within its grace period, the sockets reconnect through Caddy to the node left, and a DM still arrives.
// Usage: bun test/deploy/compose-check.ts URL ORIGIN ADMIN_PASSWORD INVITE_URL
//   env COMPOSE: the compose command line (e.g. "docker-compose -p x --env-file f -f compose.yaml"),
//   NODES: {"<node id>":"<service>",…} from the nodes' "cluster: node … slot …" log lines, DRAIN_MS: ROOM_DRAIN_MS.
// Prints one "OK …" or "FAIL …" line per check; exits 1 if any failed.
import { Bot } from '../helpers/bot'
import { until, WAIT } from '../helpers/limits'
import { Client } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'

const [url, origin, adminPassword, inviteUrl] = process.argv.slice(2) as [string, string, string, string]
const compose = (process.env.COMPOSE ?? 'docker compose').split(' ').filter(Boolean)
const nodes = JSON.parse(process.env.NODES ?? '{}') as Record<string, string>
const drainMs = Number(process.env.DRAIN_MS ?? 10_000)
let fails = 0
const okLine = (s: string) => console.log(`   OK   ${s}`)
const fail = (s: string) => {
  fails++
  console.log(`   FAIL ${s}`)
}
const check = (cond: boolean, good: string, bad: string) => (cond ? okLine(good) : fail(bad))
/** Connection ids are slot × 2³² + n (server/realtime/redis.ts): the node a socket is on. */
const slotOf = (ws: { hello: { conn: number } }) => Math.floor(ws.hello.conn / 2 ** 32)
const server = { url, origin }
const sockets: WsClient[] = []
const open = async (c: Client) => {
  const ws = await connectWs(url, { cookie: c.cookie, origin })
  sockets.push(ws)
  return ws
}
async function run(args: string[]) {
  const p = Bun.spawn([...compose, ...args], { stdout: 'pipe', stderr: 'pipe' })
  const out = await new Response(p.stdout).text()
  return { code: await p.exited, out: out.trim(), err: (await new Response(p.stderr).text()).trim() }
}

try {
  // 1. Sign in and sign up through Caddy.
  const admin = new Client(server)
  let r = await admin.post('/api/auth/login', { username: 'admin', password: adminPassword })
  check(
    r.status === 200,
    'the admin (made by `townhall admin create`) signs in through Caddy',
    `admin login: ${r.text}`,
  )
  const bob = new Client(server)
  const invite = inviteUrl.slice(inviteUrl.lastIndexOf('/') + 1)
  r = await bob.post('/api/auth/register', { invite, username: 'bob', password: 'compose-check-bob' })
  check(r.status === 201, 'bob signs up through Caddy with an invite made by `townhall invite create`', r.text)

  // 2. Sockets on two nodes (least_conn spreads them), then a DM.
  let aWs = await open(admin)
  let bWs = await open(bob)
  for (let i = 0; i < 8 && slotOf(bWs) === slotOf(aWs); i++) {
    bWs.close()
    bWs = await open(bob)
  }
  check(
    slotOf(bWs) !== slotOf(aWs),
    `sockets on two nodes: the admin's on slot ${slotOf(aWs)}, bob's on slot ${slotOf(bWs)}`,
    `every socket landed on slot ${slotOf(aWs)}`,
  )
  const thread = await aWs.request('bc.dm', { username: 'bob' })
  if (!thread.ok) throw new Error(`bc.dm: ${JSON.stringify(thread.error)}`)
  const threadId = thread.thread.id as number
  const sendDm = async (body: string) => {
    const s = await aWs.request('bc.send', { threadId, clientId: crypto.randomUUID(), body })
    if (!s.ok) throw new Error(`bc.send: ${JSON.stringify(s.error)}`)
    return s.message as { id: number }
  }
  const t0 = performance.now()
  const sent = await sendDm('hello from the other node')
  const got = await bWs.next('bc.message', (e) => e.message.id === sent.id, WAIT)
  check(
    got.message.body === 'hello from the other node',
    `a DM from slot ${slotOf(aWs)} reached bob on slot ${slotOf(bWs)} live in ${Math.round(performance.now() - t0)} ms`,
    `DM body ${got.message.body}`,
  )

  // 3. A live room; its holder (the room's lease in Redis) is stopped and drains.
  r = await admin.post('/api/rooms', { title: 'Compose drain check', kind: 'open' })
  if (r.status !== 201 && r.status !== 200) throw new Error(`create room: ${r.status} ${r.text}`)
  const roomId = r.json.room.id as number
  const holderId = (await run(['exec', '-T', 'redis', 'redis-cli', 'GET', `th:room:${roomId}`])).out
  const holder = nodes[holderId]
  if (!holder) throw new Error(`room ${roomId}: holder ${holderId} is none of ${JSON.stringify(nodes)}`)
  okLine(`room ${roomId} is held by ${holder}`)
  const holderSlot = await slotOfService(holder)
  // Bob listens from the other node (an edge: his audio comes from his own node, which the room's node relays to).
  // (least_conn: the old socket stays open while a new one is tried, else the node it leaves is always the least.)
  for (let i = 0; i < 12 && slotOf(bWs) === holderSlot; i++) {
    const next = await open(bob)
    if (slotOf(next) === holderSlot) next.close()
    else {
      bWs.close()
      bWs = next
    }
  }
  const edge = Object.values(nodes).find((n) => n !== holder)!
  check(slotOf(bWs) !== holderSlot, `bob's socket is on ${edge}, not the room's node`, 'bob stayed on the holder')
  // The admin (the host, who speaks) on the room's node, so that its drain has a socket to send on: the room was made
  // live by an HTTP request, which Caddy may have sent to the other node than the admin's socket.
  for (let i = 0; i < 12 && slotOf(aWs) !== holderSlot; i++) {
    const next = await open(admin)
    if (slotOf(next) !== holderSlot) next.close()
    else {
      aWs.close()
      aWs = next
    }
  }
  check(slotOf(aWs) === holderSlot, `the admin's socket is on ${holder}, the room's node`, 'the admin is not on it')
  for (const ws of [aWs, bWs]) {
    const j = await ws.request('room.join', { roomId })
    if (!j.ok) throw new Error(`room.join: ${JSON.stringify(j.error)}`)
  }
  // Audio: the admin (the room's host) speaks to the room's node; bob, a listener, gets it from his own node, which
  // the room's node relays the speaker to (MEDIA_EDGE); each peer on the UDP port its node announced (PUBLIC_IP and
  // its RTC_PORT, published by compose.yaml), and the relay between the nodes the same way.
  const unmuted = await aWs.request('room.mute', { roomId, muted: false })
  if (!unmuted.ok) throw new Error(`room.mute: ${JSON.stringify(unmuted.error)}`)
  const speaker = new Bot(aWs, 'HOST')
  const listener = new Bot(bWs, 'LIS')
  const a0 = performance.now()
  await speaker.connectAudio(roomId)
  await listener.connectAudio(roomId)
  const connectMs = Math.round(performance.now() - a0)
  speaker.speak(20)
  const since = Date.now()
  await until(() => listener.heardFrom(since).has('HOST'), 'bob hearing the admin')
  await Bun.sleep(2000)
  const packets = listener.received.filter((x) => x.at >= since && x.from === 'HOST').length
  check(
    packets > 50,
    `audio: the admin connected to ${holder}, bob to ${slotOf(bWs) === holderSlot ? holder : edge}, in ` +
      `${connectMs} ms; bob got ${packets} packets from the admin in ${((Date.now() - since) / 1000).toFixed(1)} s`,
    `audio: ${packets} packets`,
  )
  await speaker.closeAudio()
  await listener.closeAudio()

  const onHolder = [aWs, bWs].filter((ws) => slotOf(ws) === holderSlot)
  const elsewhere = [aWs, bWs].find((ws) => slotOf(ws) !== holderSlot)!
  const stopAt = Date.now()
  const stopping = run(['stop', holder])
  for (const ws of onHolder) await ws.next('node.draining', () => true, WAIT)
  // The drain began about now (the compose command itself takes a while to send SIGTERM).
  const drainAt = Date.now()
  check(
    onHolder.length > 0,
    `${onHolder.length} socket(s) on ${holder} were told node.draining ${((drainAt - stopAt) / 1000).toFixed(1)} s ` +
      'after `compose stop` was run',
    'no socket on it',
  )
  // The other node takes the room over (W45): its people are told it moves, and it goes on there.
  await elsewhere.next('room.moving', (e) => e.roomId === roomId, WAIT)
  const rejoined = await elsewhere.request('room.join', { roomId })
  check(
    rejoined.ok,
    `the room moved to the node left ${((Date.now() - drainAt) / 1000).toFixed(1)} s after the drain began, and ` +
      `its member on it joined it again there (ROOM_DRAIN_MS ${drainMs} not waited)`,
    `room.join after the move: ${rejoined.ok ? 'ok' : rejoined.error.code}`,
  )
  const stopped = await stopping
  const exit = await run(['ps', '-q', holder])
  const inspect = Bun.spawnSync(['docker', 'inspect', '-f', '{{.State.ExitCode}}', exit.out])
  const code = inspect.stdout.toString().trim()
  check(
    stopped.code === 0 && code === '0',
    `docker compose stop ${holder} returned after ${((Date.now() - stopAt) / 1000).toFixed(1)} s, exit code ${code}`,
    `stop: ${stopped.code} ${stopped.err}; exit code ${code}`,
  )

  // 4. Everyone reconnects through Caddy: the node left takes them, and a DM still arrives.
  for (const ws of onHolder) ws.close()
  const t1 = performance.now()
  const again = await open(onHolder.includes(bWs) ? bob : admin)
  check(
    slotOf(again) !== holderSlot,
    `reconnected through Caddy to slot ${slotOf(again)} in ${Math.round(performance.now() - t1)} ms`,
    `reconnected to the stopped node's slot ${holderSlot}`,
  )
  const bobNow = onHolder.includes(bWs) ? again : bWs
  const adminNow = onHolder.includes(aWs) ? again : aWs
  const s2 = await adminNow.request('bc.send', { threadId, clientId: crypto.randomUUID(), body: 'after the drain' })
  const got2 = s2.ok ? await bobNow.next('bc.message', (e) => e.message.id === s2.message.id, WAIT) : null
  check(got2?.message.body === 'after the drain', 'a DM after the drain arrived', `after the drain: ${s2.ok}`)
} catch (e) {
  fail(`${(e as Error).message}`)
} finally {
  for (const ws of sockets) ws.close()
}
process.exit(fails ? 1 : 0)

/** A service's slot, from its "cluster: node <id>, slot <n>" log line. */
async function slotOfService(service: string) {
  const logs = await run(['logs', '--no-color', service])
  const m = /cluster: node [0-9a-f-]+, slot (\d+)/.exec(logs.out + logs.err)
  if (!m) throw new Error(`no slot line in the logs of ${service}`)
  return Number(m[1])
}
