// RP15/RP17: a server SIGKILLed while it records leaves capture files that read back whole; the next start records the
// room again, appending to the same file after cutting a torn tail, and what was written before is kept byte for byte.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Bot, until } from '../helpers/bot'
import { Client } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'
import { recordingChild } from '../helpers/replays'
import { decodeCapture, MAX_PAYLOAD, RECORD_HEAD } from '../../server/replays/capture-format'

setDefaultTimeout(TEST_LIMIT)

const dataDir = mkdtempSync(join(tmpdir(), 'townhall-crash-'))
const children = new Set<ChildProcess>()
const bots: Bot[] = []
afterAll(async () => {
  await Promise.all(bots.map((b) => b.close().catch(() => {})))
  for (const c of children) c.kill('SIGKILL')
  rmSync(dataDir, { recursive: true, force: true })
})

const child = () => recordingChild(dataDir, children)

/** The host on the child server: joined, unmuted, consenting, speaking. */
async function speak(server: { url: string; origin: string }, roomId: number | null) {
  const http = new Client(server)
  expect((await http.post('/api/auth/login', { username: 'speaker', password: 'child password 1' })).status).toBe(200)
  if (roomId === null) {
    const created = await http.post('/api/rooms', { title: 'Crash', recording: true })
    expect(created.status).toBe(201)
    roomId = created.json.room.id as number
  }
  const bot = await Bot.connect(server.url, { cookie: http.cookie, origin: server.origin }, 'SPK')
  bots.push(bot)
  const snap = await bot.ws.request('room.join', { roomId })
  expect(snap.ok).toBe(true)
  expect((await bot.ws.request('room.mute', { roomId, muted: false })).ok).toBe(true)
  await bot.connectAudio(roomId)
  bot.speak(20)
  return { roomId, bot, snap, userId: (snap.me.key as string).slice(2) }
}

test('[RP11][RP15][RP17] a SIGKILL while recording leaves a readable file; a restart appends to it', async () => {
  const first = await child()
  const a = await speak(first.server, null)
  expect((await a.bot.ws.request('room.consent', { roomId: a.roomId, consent: true })).ok).toBe(true)
  const file = join(dataDir, 'recordings', String(a.roomId), `${a.userId}.cap`)
  const read = () => {
    try {
      return readFileSync(file)
    } catch {
      return Buffer.alloc(0)
    }
  }
  await until(() => read().length > 0 && decodeCapture(read()).records.length >= 50, '50 packets on disk')
  first.proc.kill('SIGKILL')
  await until(() => first.proc.exitCode !== null || first.proc.signalCode !== null, 'the child is dead')
  const killedAt = Date.now()
  a.bot.silence()

  const bytes = read()
  const written = decodeCapture(bytes)
  expect(written.records.length).toBeGreaterThanOrEqual(50)
  // Whole records only: at most a torn tail past them, never a broken record inside.
  expect(bytes.length - written.validBytes).toBeLessThan(RECORD_HEAD + MAX_PAYLOAD)
  expect(written.records.every((r) => r.payload.toString('latin1', 3, 6) === 'SPK')).toBe(true)
  // A crash in the middle of a write: half a record's head at the end.
  appendFileSync(file, Buffer.from([60, 0, 1, 2, 3, 4, 5]))

  const second = await child()
  const b = await speak(second.server, a.roomId)
  // The room was left live and recorded; the host's answer survived the restart.
  expect(b.snap.room.recording).toBe(true)
  expect(b.snap.participants.find((p) => p.key === b.snap.me.key)?.consent).toBe(true)
  await until(
    () => decodeCapture(read()).records.filter((r) => r.arrivedAt > killedAt).length >= 50,
    '50 more packets after the restart',
  )
  const after = read()
  const again = decodeCapture(after)
  // What the first run wrote is kept byte for byte, the torn tail is gone, and the new records follow.
  expect(after.subarray(0, written.validBytes).equals(bytes.subarray(0, written.validBytes))).toBe(true)
  expect(again.records.slice(0, written.records.length)).toEqual(written.records)
  expect(again.records[written.records.length]!.arrivedAt).toBeGreaterThan(killedAt)
  expect(again.records.every((r) => r.payload.toString('latin1', 3, 6) === 'SPK')).toBe(true)
  b.bot.silence()
  second.proc.stdin!.write('quit\n')
  await until(() => second.proc.exitCode !== null, 'the second child stopped')
})
