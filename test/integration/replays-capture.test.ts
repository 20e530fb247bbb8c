// Recording with consent (docs/SPEC.md RP): real rooms, werift bots sending packets that name their speaker (or real
// Opus tones, mixed and decoded), the recorder's capture files read back with decodeCapture and held against the
// consent rows (their times).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { Bot, until } from '../helpers/bot'
import { bringUp, createRoom, member, ok, outcome, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'
import { decodeCapture, type CaptureRecord } from '../../server/replays/capture-format'
import { blocksWithTone, decodeWithFfmpeg } from '../helpers/replays'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts), away from every ephemeral port and other files'.
const ports = await reservePorts()

let s: TestServer
const bots: Bot[] = []
const members: Member[] = []

beforeAll(async () => {
  Bot.portRange = ports.range(200, 999)
  // The media plane on the server's own thread: packets' arrival times and the consent rows' come from one clock.
  s = await startTestServer({ ROOM_GRACE_MS: '500', GUESTS: 'true', MEDIA_WORKERS: '0' })
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  await s.stop()
  Bot.portRange = undefined
  await ports.release()
})

async function person(tag: string) {
  const m = await member(s, tag.toLowerCase())
  members.push(m)
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  return Object.assign(m, { bot })
}
type Person = Awaited<ReturnType<typeof person>>

/** A live room (recorded or not) with its host and the speakers on stage, everyone's audio sending. */
async function stage(host: Person, speakers: Person[], body: Record<string, unknown> = {}) {
  const room = await createRoom(host, body)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  for (const p of speakers) {
    await ok(p, 'room.join', { roomId: room.id })
    await bringUp(host, p, room.id)
  }
  for (const p of [host, ...speakers]) {
    await p.bot.connectAudio(room.id)
    p.bot.speak(20)
  }
  return room.id
}

const capPath = (roomId: number, userId: number) => join(s.dataDir, 'recordings', String(roomId), `${userId}.cap`)
function records(roomId: number, userId: number): CaptureRecord[] {
  const p = capPath(roomId, userId)
  return existsSync(p) ? decodeCapture(readFileSync(p)).records : []
}
const tagOf = (payload: Buffer) => payload.toString('latin1', 3, 3 + payload[2]!)
const consents = (roomId: number) =>
  s.ctx.core.db
    .query<{ user_id: number; consent: number; at: number }, [number]>(
      'SELECT user_id, consent, at FROM recording_consents WHERE room_id = ? ORDER BY id',
    )
    .all(roomId)
/** Whether the user's latest answer at `at` was yes (by the kept rows). */
/**
 * A packet's arrival is stamped by the media worker's clock (its time origin plus its monotonic clock), an answer by
 * the main thread's Date.now(): the two may differ by a millisecond or two. The recorder decides by the order it
 * handles them in (a packet handled after a no is dropped), so a packet handled just before a no may carry an
 * arrival time a hair after it.
 */
const CLOCKS_MS = 5
function consentingAt(roomId: number, userId: number, at: number) {
  let yes = false
  for (const c of consents(roomId)) if (c.user_id === userId && c.at <= at) yes = c.consent === 1
  return yes
}
const replayOf = (roomId: number) =>
  s.ctx.core.db
    .query<{ id: number; state: string; left_out: string }, [number]>(
      'SELECT id, state, left_out FROM replays WHERE room_id = ?',
    )
    .get(roomId)

async function end(host: Person, roomId: number, everyone: Person[]) {
  await ok(host, 'room.end', { roomId })
  for (const p of everyone) p.bot.silence()
}

describe('recording with consent', () => {
  const consentTable =
    '[RP6][RP7][RP8][RP9][RP10][RP13][RP14][RP18][RP19] only consenting speakers, while they consent, are written'
  test(consentTable, async () => {
    const host = await person('HOST')
    const yes = await person('YES')
    const no = await person('NO')
    const offAgain = await person('YESNO')
    const late = await person('NOYES')
    const silent = await person('MUM')
    const roomId = await stage(host, [yes, no, offAgain, late, silent], { recording: true })
    const pending: number[] = []
    s.ctx.replays.api.on('pending', (e) => pending.push(e.roomId))

    // Nobody has answered: packets flow (the listeners hear them), nothing is written.
    await until(() => host.bot.heardFrom().has('YES'), 'the host hears YES')
    expect(records(roomId, yes.id)).toEqual([])

    for (const [p, c] of [
      [host, true],
      [yes, true],
      [no, false],
      [offAgain, true],
      [late, false],
    ] as const)
      await ok(p, 'room.consent', { roomId, consent: c })
    // Everyone sees the answers on the participants (RP9).
    const seen = await silent.ws.next('room.participant', (e) => e.participant.user.id === late.id)
    expect(seen.participant.consent).toBe(false)

    await until(() => records(roomId, offAgain.id).length >= 25, 'YESNO is recorded while it consents')
    await ok(offAgain, 'room.consent', { roomId, consent: false })
    await ok(late, 'room.consent', { roomId, consent: true })
    await until(() => records(roomId, late.id).length >= 25, 'NOYES is recorded once it consents')
    // The host goes on speaking well after YESNO said no: YESNO was speaking all along too.
    const noAt = consents(roomId).findLast((c) => c.user_id === offAgain.id)!.at
    await until(() => records(roomId, host.id).some((r) => r.arrivedAt > noAt + 1000), 'a second after YESNO said no')
    await end(host, roomId, [host, yes, no, offAgain, late, silent])
    await until(() => replayOf(roomId) !== null, 'the pending replay')

    // RP6: who has a capture file at all.
    for (const p of [host, yes, offAgain, late]) expect(existsSync(capPath(roomId, p.id))).toBe(true)
    for (const p of [no, silent]) expect(existsSync(capPath(roomId, p.id))).toBe(false)
    // RP7: every record is the speaker's own packet, and arrived while they consented (by the kept rows).
    for (const p of [host, yes, offAgain, late]) {
      const rs = records(roomId, p.id)
      expect(rs.length).toBeGreaterThan(20)
      expect(new Set(rs.map((r) => tagOf(r.payload)))).toEqual(new Set([p.bot.tag]))
      const outside = rs.filter(
        (r) => !consentingAt(roomId, p.id, r.arrivedAt) && !consentingAt(roomId, p.id, r.arrivedAt - CLOCKS_MS),
      )
      expect(outside).toEqual([])
    }
    // The one who changed their mind both ways: records only before the no, only after the yes.
    expect(records(roomId, offAgain.id).every((r) => r.arrivedAt < noAt + CLOCKS_MS)).toBe(true)
    const lateYes = consents(roomId).findLast((c) => c.user_id === late.id)!.at
    expect(records(roomId, late.id).every((r) => r.arrivedAt >= lateYes)).toBe(true)
    // RP8: every answer is kept with its time, in order.
    expect(consents(roomId).map((c) => [c.user_id, c.consent])).toEqual([
      [host.id, 1],
      [yes.id, 1],
      [no.id, 0],
      [offAgain.id, 1],
      [late.id, 0],
      [offAgain.id, 0],
      [late.id, 1],
    ])
    // RP14: the tracks' rows follow the files.
    const tracks = s.ctx.core.db
      .query<{ user_id: number; bytes: number; path: string }, [number]>(
        'SELECT user_id, bytes, path FROM recording_tracks WHERE room_id = ? ORDER BY user_id',
      )
      .all(roomId)
    expect(tracks.map((t) => t.user_id)).toEqual([host.id, yes.id, offAgain.id, late.id].sort((a, b) => a - b))
    for (const t of tracks) expect(t.bytes).toBe(readFileSync(join(s.dataDir, t.path)).length)
    // RP18/RP19: the replay waits for its mix and says who is left out (refused, never answered).
    const replay = replayOf(roomId)!
    // Inserted 'pending'; the mix job (RP30) may already have taken it.
    expect(['pending', 'mixing', 'ready']).toContain(replay.state)
    expect(JSON.parse(replay.left_out).sort()).toEqual([no.id, silent.id].sort((a, b) => a - b))
    expect(pending).toContain(roomId)
  })

  test('[RP6] [RP30] real Opus through the SFU: consenting voices in the mix, not the refusing one', async () => {
    const host = await person('T440')
    const yes = await person('T660')
    // Not 880 Hz: the two voices sounding together make 2·660 − 440 = 880 Hz in the mix (intermodulation).
    const no = await person('T970')
    const roomId = await stage(host, [yes, no], { recording: true })
    for (const [p, c] of [
      [host, true],
      [yes, true],
      [no, false],
    ] as const)
      await ok(p, 'room.consent', { roomId, consent: c })
    await Promise.all([host.bot.sing(440), yes.bot.sing(660), no.bot.sing(970)])
    await until(() => records(roomId, host.id).length >= 150 && records(roomId, yes.id).length >= 150, '3 s of each')
    await end(host, roomId, [host, yes, no])
    await until(() => replayOf(roomId)?.state === 'ready', 'the replay mixed')
    const r = s.ctx.core.db
      .query<{ path: string; left_out: string }, [number]>('SELECT path, left_out FROM replays WHERE room_id = ?')
      .get(roomId)!
    expect(JSON.parse(r.left_out)).toEqual([no.id])
    expect(existsSync(capPath(roomId, no.id))).toBe(false)
    const pcm = await decodeWithFfmpeg(join(s.dataDir, r.path))
    expect(blocksWithTone(pcm, 440)).toBeGreaterThan(20)
    expect(blocksWithTone(pcm, 660)).toBeGreaterThan(20)
    expect(blocksWithTone(pcm, 970)).toBe(0)
  })

  test('[RP4] a room its host did not record writes nothing and has no replay; nobody may consent in it', async () => {
    const host = await person('PLAIN')
    const sp = await person('PLAINSP')
    const roomId = await stage(host, [sp])
    const snap = await ok(sp, 'room.join', { roomId })
    expect(snap.room.recording).toBe(false)
    expect(await outcome(sp, 'room.consent', { roomId, consent: true })).toBe('room_not_recorded')
    await until(() => host.bot.heardFrom().has('PLAINSP'), 'the host hears the speaker')
    await end(host, roomId, [host, sp])
    expect(existsSync(join(s.dataDir, 'recordings', String(roomId)))).toBe(false)
    expect(replayOf(roomId)).toBeNull()
    expect(consents(roomId)).toEqual([])
  })

  test('[RP5] the host turns recording off and on while live; nothing is written while it is off', async () => {
    const host = await person('TOGGLE')
    const sp = await person('TOGGLESP')
    const roomId = await stage(host, [sp], { recording: true })
    await ok(sp, 'room.consent', { roomId, consent: true })
    await until(() => records(roomId, sp.id).length >= 10, 'the speaker is recorded')
    expect(await outcome(sp, 'room.recording', { roomId, on: false })).toBe('room_recording_forbidden')
    await ok(host, 'room.recording', { roomId, on: false })
    const off = await sp.ws.next('room.recording', (e) => e.roomId === roomId && !e.recording)
    expect(off.paused).toBe(false)
    const offAt = Date.now()
    // Off: the speaker's packets go on reaching the host, none is written after the switch.
    const heard = host.bot.received.length
    await until(() => host.bot.received.length > heard + 100, 'the host hears 100 more packets')
    expect(records(roomId, sp.id).filter((r) => r.arrivedAt > offAt)).toEqual([])
    await ok(host, 'room.recording', { roomId, on: true })
    await sp.ws.next('room.recording', (e) => e.roomId === roomId && e.recording)
    const onAt = Date.now()
    await until(() => records(roomId, sp.id).some((r) => r.arrivedAt > onAt + 500), 'recorded again, same file')
    await end(host, roomId, [host, sp])
  })

  test('[RP1][RP2][RP3] the admin turns recording off: no room may be recorded, a recording stops', async () => {
    const host = await person('ADMOFF')
    const sp = await person('ADMOFFSP')
    const roomId = await stage(host, [sp], { recording: true })
    await ok(sp, 'room.consent', { roomId, consent: true })
    await until(() => records(roomId, sp.id).length >= 10, 'the speaker is recorded')
    await s.ctx.core.settings.update({ recording: false })
    try {
      const ev = await sp.ws.next('room.recording', (e) => e.roomId === roomId && !e.recording)
      expect(ev.recording).toBe(false)
      const offAt = Date.now()
      const heard = host.bot.received.length
      await until(() => host.bot.received.length > heard + 100, 'the host hears 100 more packets')
      expect(records(roomId, sp.id).filter((r) => r.arrivedAt > offAt)).toEqual([])
      expect(await outcome(host, 'room.recording', { roomId, on: true })).toBe('recording_disabled')
      expect(await outcome(sp, 'room.consent', { roomId, consent: true })).toBe('room_not_recorded')
      const other = await person('ADMOFF2')
      const r = await other.http.post('/api/rooms', { title: 'Recorded?', recording: true })
      expect([r.status, r.json.error.code]).toEqual([403, 'recording_disabled'])
      const hall = await other.http.get('/api/rooms')
      expect(hall.json.live.find((x: { id: number }) => x.id === roomId)?.recording).toBe(false)
    } finally {
      await s.ctx.core.settings.update({ recording: true })
    }
    // Turned on again, the room stays unrecorded until its host turns it on.
    expect(s.ctx.replays.recorder.stats().rooms).toBe(0)
    await end(host, roomId, [host, sp])
  })

  test('[RP16] a low disk pauses the recording and the room is told; it goes on once there is room', async () => {
    const host = await person('DISK')
    const sp = await person('DISKSP')
    const roomId = await stage(host, [sp], { recording: true })
    await ok(sp, 'room.consent', { roomId, consent: true })
    await until(() => records(roomId, sp.id).length >= 10, 'the speaker is recorded')
    const before = s.ctx.core.config.recordingMinFreeMb
    s.ctx.core.config.recordingMinFreeMb = 100_000_000 // 100 TB: more than any disk here has free
    try {
      const paused = await sp.ws.next('room.recording', (e) => e.roomId === roomId && e.paused)
      expect(paused.recording).toBe(true)
      const pausedAt = Date.now()
      const heard = host.bot.received.length
      await until(() => host.bot.received.length > heard + 100, 'the host hears 100 more packets')
      expect(records(roomId, sp.id).filter((r) => r.arrivedAt > pausedAt)).toEqual([])
      const late = await person('DISKLATE')
      const snap = await ok(late, 'room.join', { roomId })
      expect(snap.recordingPaused).toBe(true)
    } finally {
      s.ctx.core.config.recordingMinFreeMb = before
    }
    await sp.ws.next('room.recording', (e) => e.roomId === roomId && !e.paused)
    const goneOn = Date.now()
    await until(() => records(roomId, sp.id).some((r) => r.arrivedAt > goneOn + 300), 'recorded again')
    await end(host, roomId, [host, sp])
  })
})

test('[RP2][RP4] a scheduled room is recorded as chosen when scheduled or started, not against the admin', async () => {
  const host = await person('SCHED')
  const later = Date.now() + 3600_000
  const a = await createRoom(host, { startsAt: later, recording: true })
  const hall = await host.http.get('/api/rooms')
  expect(hall.json.upcoming.find((x: { id: number }) => x.id === a.id)?.recording).toBe(true)
  // Started with recording turned off by its host: not recorded.
  const started = await host.http.post(`/api/rooms/${a.id}/start`, { recording: false })
  expect([started.status, started.json.room.recording]).toEqual([200, false])
  await ok(host, 'room.join', { roomId: a.id })
  await ok(host, 'room.end', { roomId: a.id })
  const b = await createRoom(host, { startsAt: later })
  await s.ctx.core.settings.update({ recording: false })
  try {
    const refused = await host.http.post(`/api/rooms/${b.id}/start`, { recording: true })
    expect([refused.status, refused.json.error.code]).toEqual([403, 'recording_disabled'])
    expect((await host.http.get(`/api/rooms/${b.id}`)).json.room.state).toBe('scheduled')
  } finally {
    await s.ctx.core.settings.update({ recording: true })
  }
  const c = await host.http.post(`/api/rooms/${b.id}/start`, { recording: true })
  expect([c.status, c.json.room.recording]).toEqual([200, true])
  expect(await outcome(host, 'room.recording', { roomId: b.id, on: 'yes' })).toBe('validation')
  await ok(host, 'room.join', { roomId: b.id })
  await ok(host, 'room.end', { roomId: b.id })
})

describe('[RP12] who may answer the consent question', () => {
  test('listener, speaker, host, another room’s member, guest', async () => {
    const host = await person('PERM')
    const sp = await person('PERMSP')
    const roomId = await stage(host, [sp], { recording: true })
    const listener = await person('PERML')
    await ok(listener, 'room.join', { roomId })
    const elsewhere = await person('PERMX')
    const otherRoom = await createRoom(elsewhere, { recording: true })
    await ok(elsewhere, 'room.join', { roomId: otherRoom.id })
    const guest = { ws: await connectWs(s.url, { origin: s.origin }) }
    await ok(guest as Member, 'room.join', { roomId })
    const table: [string, { ws: Member['ws'] }, string][] = [
      ['host', host, 'ok'],
      ['speaker', sp, 'ok'],
      ['listener', listener, 'not_on_stage'],
      ['another room’s member', elsewhere, 'not_in_room'],
      ['guest', guest as Member, 'unauthorized'],
    ]
    const before = consents(roomId).length
    const got = []
    for (const [, who] of table) got.push(await outcome(who, 'room.consent', { roomId, consent: true }))
    expect(got).toEqual(table.map(([, , want]) => want))
    // Refused answers write nothing.
    expect(consents(roomId).length).toBe(before + 2)
    // Malformed: the schema refuses it before any handler.
    expect(await outcome(sp, 'room.consent', { roomId, consent: 'yes' })).toBe('validation')
    expect(await outcome(sp, 'room.consent', { roomId: 1.5, consent: true })).toBe('validation')
    guest.ws.close()
    await end(host, roomId, [host, sp])
    await ok(elsewhere, 'room.end', { roomId: otherRoom.id })
  })
})
