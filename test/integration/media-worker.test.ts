// [M62] The media plane in its own worker: while the server's main thread is blocked (a long task, a burst of
// messages), the room's audio goes on. The server runs in a child process (test/helpers/media-child.ts) so that the
// bots here keep running while its main thread is held; the same test with MEDIA_WORKERS=0 shows what it prevents.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { Bot } from '../helpers/bot'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { Client, startTestServer } from '../helpers/server'
import { serverSockets } from '../helpers/sockets'
import { connectWs } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

const BLOCK_MS = 2_000
// The file's own block of port numbers (test/helpers/ports.ts): nothing else binds there, not even an ephemeral port.
const ports = await reservePorts()
const RTC_PORT = ports.at(760)
/** Packets counted inside the block, away from its edges (what was queued before it may still arrive early on). */
const EDGE_MS = 300

const children = new Set<ChildProcess>()
const bots: Bot[] = []
afterAll(async () => {
  await Promise.all(bots.map((b) => b.close().catch(() => {})))
  for (const c of children) c.kill('SIGTERM')
  await ports.release()
})

/** The child server: its lines on stdout, one at a time. */
async function child(workers: string) {
  const proc = spawn(process.execPath, [join(import.meta.dir, '../helpers/media-child.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, MEDIA_WORKERS: workers },
  })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  const lines: string[] = []
  let out = ''
  proc.stdout!.on('data', (d) => {
    out += d.toString()
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      lines.push(out.slice(0, i))
      out = out.slice(i + 1)
    }
  })
  const next = async (what: string) => {
    await until(() => lines.length > 0 || proc.exitCode !== null, what, WAIT)
    const l = lines.shift()
    if (l === undefined) throw new Error(`the child server exited (${proc.exitCode}) before ${what}`)
    return JSON.parse(l)
  }
  const server = (await next('the child server listening')) as { url: string; origin: string }
  return { proc, server, next, send: (l: string) => proc.stdin!.write(`${l}\n`) }
}

/** A live room on the child server with the speaker speaking and one guest listener hearing it. */
async function speakingRoom(server: { url: string; origin: string }) {
  const host = new Client(server)
  const login = await host.post('/api/auth/login', { username: 'speaker', password: 'child password 1' })
  expect(login.status).toBe(200)
  const created = await host.post('/api/rooms', { title: 'Worker', kind: 'open' })
  expect(created.status).toBe(201)
  const roomId = created.json.room.id as number
  const speaker = await Bot.connect(server.url, { cookie: host.cookie, origin: server.origin }, 'SPK')
  bots.push(speaker)
  expect((await speaker.ws.request('room.join', { roomId })).ok).toBe(true)
  expect((await speaker.ws.request('room.mute', { roomId, muted: false })).ok).toBe(true)
  await speaker.connectAudio(roomId)
  const listener = new Bot(await connectWs(server.url, { origin: server.origin }), 'L')
  bots.push(listener)
  expect((await listener.ws.request('room.join', { roomId })).ok).toBe(true)
  await listener.connectAudio(roomId)
  speaker.speak(10)
  await until(() => listener.received.length > 20, 'the listener hears the speaker')
  return listener
}

/** Packets the listener got while the child's main thread was blocked. */
async function heardWhileBlocked(workers: string) {
  const c = await child(workers)
  const listener = await speakingRoom(c.server)
  c.send(`block ${BLOCK_MS}`)
  const { from, to } = (await c.next('the end of the block')) as { from: number; to: number }
  const n = listener.received.filter((r) => r.at > from + EDGE_MS && r.at < to - EDGE_MS).length
  c.send('quit')
  return n
}

describe('[M62] a blocked main thread does not stop the audio', () => {
  test(
    '[M62] with a media worker, the listener keeps hearing while the main thread is held for 2 s; in the main ' +
      'thread (MEDIA_WORKERS=0) it hears nothing then',
    async () => {
      // 50 packets a second: ~70 in the 1.4 s counted. Generous: a busy machine may slow the bots themselves.
      expect(await heardWhileBlocked('1')).toBeGreaterThan(20)
      expect(await heardWhileBlocked('0')).toBe(0)
    },
  )
})

describe('[M62] several media workers', () => {
  test('[M62] MEDIA_WORKERS=2: two rooms on two workers, each on its own port (RTC_PORT + n)', async () => {
    const s = await startTestServer({ MEDIA_WORKERS: '2', RTC_PORT: String(RTC_PORT) })
    const members: Member[] = []
    try {
      const ports: number[] = []
      const heard: Bot[] = []
      for (const i of [0, 1]) {
        const host = await member(s, `wh${i}`)
        const l = await member(s, `wl${i}`)
        members.push(host, l)
        const room = await createRoom(host)
        await ok(host, 'room.join', { roomId: room.id })
        await ok(host, 'room.mute', { roomId: room.id, muted: false })
        await ok(l, 'room.join', { roomId: room.id })
        const speaker = new Bot(host.ws, `S${i}`)
        const listener = new Bot(l.ws, `L${i}`)
        bots.push(speaker, listener)
        let offer = ''
        listener.offerFilter = (sdp) => {
          offer = sdp
          return sdp
        }
        await speaker.connectAudio(room.id)
        await listener.connectAudio(room.id)
        ports.push(Number(/ udp \d+ \S+ (\d+) typ host/.exec(offer)![1]))
        speaker.speak(10)
        heard.push(listener)
      }
      expect(ports.sort()).toEqual([RTC_PORT, RTC_PORT + 1])
      for (const l of heard) await until(() => l.received.length > 20, `${l.tag} hears its room's speaker`)
      expect(serverSockets('udp', (p) => p === RTC_PORT || p === RTC_PORT + 1)).toBe(2)
    } finally {
      for (const m of members) m.ws.close()
      await s.stop()
    }
  })
})

describe('[M62] a media worker that ends', () => {
  test('[M62] its peers are expired, another worker takes its port, and a new connect is heard again', async () => {
    const s = await startTestServer({ MEDIA_WORKERS: '1', RTC_PORT: String(RTC_PORT + 5) })
    const members: Member[] = []
    try {
      const host = await member(s, 'dh')
      const l = await member(s, 'dl')
      members.push(host, l)
      const room = await createRoom(host)
      await ok(host, 'room.join', { roomId: room.id })
      await ok(host, 'room.mute', { roomId: room.id, muted: false })
      await ok(l, 'room.join', { roomId: room.id })
      const speaker = new Bot(host.ws, 'DS')
      const listener = new Bot(l.ws, 'DL')
      bots.push(speaker, listener)
      await speaker.connectAudio(room.id)
      await listener.connectAudio(room.id)
      speaker.speak(10)
      await until(() => listener.received.length > 10, 'the listener hears the speaker')
      const media = s.ctx.media.service
      // The worker ends as if it had crashed (the test's hand on the plane; the server never does this).
      const plane = (media as unknown as { planes: { worker: Worker }[] }).planes[0]!
      plane.worker.terminate()
      await until(() => media.stats().peers === 0, 'the peers of the ended worker expired')
      await until(async () => (await media.rtcStats())?.udpPort === RTC_PORT + 5, 'a new worker on the same port')
      // The clients connect again (the app does it when its peer fails): audio flows through the new worker.
      await speaker.closeAudio()
      await listener.closeAudio()
      await speaker.connectAudio(room.id)
      await listener.connectAudio(room.id)
      speaker.speak(10)
      const n = listener.received.length
      await until(() => listener.received.length > n + 10, 'the listener hears the speaker again')
    } finally {
      for (const m of members) m.ws.close()
      await s.stop()
    }
  })
})
