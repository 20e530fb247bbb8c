// [H50]–[H52] A restart does not end the live rooms: a server with a live room (a speaking host, a speaker, a listener
// with a raised hand, werift bots) stops gracefully; a new server on the same data folder and port resumes the room;
// the clients reconnect and rejoin the way the app does (a new socket, room.join, then the audio: rtc.restart finds no
// peer on the new server, so rtc.connect anew) with their role and hand, and audio flows again.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../helpers/server'
import { Bot, until } from '../helpers/bot'
import { bringUp, createRoom, member, ok, type Member } from '../helpers/members'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts), away from every ephemeral port and other files'.
const ports = await reservePorts()

const dir = mkdtempSync(join(tmpdir(), 'townhall-restart-'))
const ENV = { ROOM_GRACE_MS: '60000' }
const bots: Bot[] = []
const servers: TestServer[] = []

afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const s of servers) await s.stop().catch(() => {})
  Bot.portRange = undefined
  await ports.release()
  rmSync(dir, { recursive: true, force: true })
})

const heard = (bot: Bot, tag: string, mark = 0) => bot.received.slice(mark).filter((r) => r.from === tag).length

/** What the app does after its socket comes back: a new socket, room.join (the resume hook), then the audio. */
async function rejoin(s: TestServer, m: Member, tag: string, roomId: number) {
  m.ws = await connectWs(s.url, { cookie: m.http.cookie, origin: s.origin })
  const snap = await ok(m, 'room.join', { roomId })
  // The app's peer still exists: it asks for an ICE restart; the new server has no peer for it: connect anew.
  expect((await m.ws.request('rtc.restart', { roomId })).error.code).toBe('media_no_peer')
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  await bot.connectAudio(roomId)
  return { snap, bot }
}

test('[H50] after a graceful restart the room is live again: same roles, same hand, audio flows again', async () => {
  Bot.portRange = ports.range(0, 999)
  const first = await startTestServer(ENV, { keepDir: dir })
  servers.push(first)
  const host = await member(first, 'rh'),
    speaker = await member(first, 'rs'),
    listener = await member(first, 'rl')
  const room = await createRoom(host, { title: 'Through the upgrade' })
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  for (const m of [speaker, listener]) await ok(m, 'room.join', { roomId: room.id })
  await bringUp(host, speaker, room.id)
  await ok(listener, 'room.hand', { roomId: room.id, up: true })
  const before = new Map<Member, Bot>()
  for (const [m, tag] of [
    [host, 'HOST'],
    [speaker, 'SPK'],
    [listener, 'LIS'],
  ] as const) {
    const bot = new Bot(m.ws, tag)
    bots.push(bot)
    await bot.connectAudio(room.id)
    before.set(m, bot)
  }
  before.get(speaker)!.speak(10)
  await until(() => heard(before.get(listener)!, 'SPK') >= 10, 'the listener hears the speaker before the restart')
  const hand = (await ok(listener, 'room.join', { roomId: room.id })).me.hand
  expect(hand).not.toBeNull()
  const port = first.port

  // A graceful stop (what SIGTERM does): the sockets close with 1001, the rooms' seats are saved.
  await first.stop()
  servers.length = 0
  for (const m of [host, speaker, listener]) expect((await m.ws.waitClosed()).code).toBe(1001)
  for (const b of before.values()) b.silence()

  const second = await startTestServer({ ...ENV, PORT: String(port) }, { keepDir: dir })
  servers.push(second)
  expect(second.port).toBe(port)
  expect(second.ctx.rooms.api.room(room.id)!.state).toBe('live')
  // The hallway lists it while its people come back.
  expect((await host.http.get('/api/rooms')).json.live.map((r: { id: number }) => r.id)).toContain(room.id)

  const h = await rejoin(second, host, 'HOST', room.id)
  expect(h.snap.me).toMatchObject({ role: 'host', muted: false })
  const sp = await rejoin(second, speaker, 'SPK', room.id)
  expect(sp.snap.me).toMatchObject({ role: 'speaker', muted: false })
  const li = await rejoin(second, listener, 'LIS', room.id)
  expect(li.snap.me).toMatchObject({ role: 'audience', hand })
  // Everyone is present again (nobody away), with the roles they had.
  const people = li.snap.participants
  expect(Object.fromEntries(people.map((p) => [p.user.username, p.role]))).toEqual({
    [host.name]: 'host',
    [speaker.name]: 'speaker',
    [listener.name]: 'audience',
  })
  await until(() => second.ctx.rooms.api.participants(room.id).length === 3, 'three participants after the restart')
  // The hand queue is the same: a moderator still sees it raised.
  const hostView = await ok(host, 'room.join', { roomId: room.id })
  expect(hostView.participants.find((p) => p.user.username === listener.name)!.hand).toBe(hand)
  expect(hostView.participants.every((p) => !p.away)).toBe(true)

  sp.bot.speak(10)
  h.bot.speak(20)
  await until(() => heard(li.bot, 'SPK') >= 10, 'the listener hears the speaker after the restart')
  await until(() => heard(li.bot, 'HOST') >= 10, 'the listener hears the host after the restart')
  await until(() => heard(h.bot, 'SPK') >= 10, 'the host hears the speaker after the restart')
  sp.bot.silence()
  h.bot.silence()

  // The room goes on as before: the host acts on the listener's hand.
  await bringUp(host, listener, room.id)
  await ok(host, 'room.end', { roomId: room.id })
})

test('[H51] a room whose people never come back ends after ROOM_RESUME_MS; a crash resumes roles', async () => {
  const crashDir = mkdtempSync(join(tmpdir(), 'townhall-crash-'))
  const first = await startTestServer(ENV, { keepDir: crashDir })
  const host = await member(first, 'ch'),
    sp = await member(first, 'cs')
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(sp, 'room.join', { roomId: room.id })
  await bringUp(host, sp, room.id)
  // A crash saves nothing: the next start rebuilds the seats from the open participation stretches.
  first.ctx.rooms.service.suspend = async () => {}
  await first.stop()
  // 20 s: the seats must still be there once the server has started, also on a loaded machine (5 s was not always).
  const second = await startTestServer({ ...ENV, ROOM_RESUME_MS: '20000' }, { keepDir: crashDir })
  try {
    expect(second.ctx.rooms.api.participant(room.id, `u:${sp.id}`)).toMatchObject({ role: 'speaker' })
    expect(second.ctx.rooms.api.participant(room.id, `u:${host.id}`)).toMatchObject({ role: 'host' })
    await until(() => second.ctx.rooms.api.room(room.id)!.state === 'ended', 'the room ends: nobody came back')
    expect(second.ctx.rooms.service.timers()).toBe(0)
    const reasons = second.ctx.core.db
      .query<{ end_reason: string }, [number]>('SELECT end_reason FROM room_participation WHERE room_id = ?')
      .all(room.id)
      .map((r) => r.end_reason)
    expect(reasons.every((r) => r !== null)).toBe(true)
  } finally {
    await second.stop()
    rmSync(crashDir, { recursive: true, force: true })
  }
})
