// RP30–RP32: the mix job on a real server (real SQLite file, the replay worker): a pending replay becomes ready with
// its progress told as it goes; a withdrawal mixes it again without the speaker; a server SIGKILLed while it mixes
// mixes the replay again from the start when it restarts.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ReplayEvents } from '../../server/contracts'
import type { ReplayRow } from '../../server/replays/store'
import { TEST_LIMIT, until } from '../helpers/limits'
import { blocksWithTone, decodeWithFfmpeg, probe, recordingChild, seedReplay } from '../helpers/replays'
import { startTestServer, type TestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const row = (db: Database, id: number) => db.query<ReplayRow, [number]>('SELECT * FROM replays WHERE id = ?').get(id)!

const SPEAKERS = [
  { username: 'ann', tones: [{ startMs: 0, durationMs: 4000, freq: 440 }] },
  { username: 'bob', tones: [{ startMs: 4000, durationMs: 4000, freq: 660 }] },
  { username: 'dee', tones: [{ startMs: 8000, durationMs: 3000, freq: 1000 }] },
]

let s: TestServer | null = null
const children = new Set<ChildProcess>()
const dirs: string[] = []
afterAll(async () => {
  await s?.stop()
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

test('[RP30][RP32] pending → mixing → ready with progress; a withdrawal mixes again; none left: failed', async () => {
  s = await startTestServer()
  const db = s.ctx.core.db
  const events: ReplayEvents['mix'][] = []
  s.ctx.replays.api.on('mix', (e) => events.push(e))
  const seeded = seedReplay(db, s.dataDir, SPEAKERS, { questions: [{ atMs: 5000, body: 'and 660?', author: 'ann' }] })
  // The speakers and the room were written straight into the database: the running server's directories read them.
  await s.ctx.accounts.load()
  await s.ctx.rooms.service.directory.reload(seeded.roomId)
  const [ann, bob, dee] = seeded.userIds as [number, number, number]
  // Dee refused when she came on stage: the replay row says so, her file is not mixed.
  db.query('UPDATE replays SET left_out = ? WHERE id = ?').run(JSON.stringify([dee]), seeded.replayId)
  db.query('INSERT INTO replay_withdrawals (replay_id, user_id, at) VALUES (?, ?, ?)').run(seeded.replayId, dee, 1)
  s.ctx.replays.api.remix()
  await until(
    () => row(db, seeded.replayId).state === 'ready',
    () => JSON.stringify(row(db, seeded.replayId)),
  )

  const r = row(db, seeded.replayId)
  expect(r.path).toBe(join('replays', `${seeded.replayId}.opus`))
  const file = join(s.dataDir, r.path!)
  expect(r.bytes).toBe(statSync(file).size)
  expect(r.progress).toBe(1)
  expect(r.error).toBeNull()
  expect(r.ready_at).toBeGreaterThan(0)
  expect(JSON.parse(r.speakers)).toEqual([ann, bob])
  expect(JSON.parse(r.left_out)).toEqual([dee])
  expect(JSON.parse(r.chapters)).toMatchObject([
    { kind: 'speaker', title: 'ann', userId: ann, startMs: 0 },
    { kind: 'speaker', title: 'bob', userId: bob },
    { kind: 'question', title: 'Question: and 660?', userId: ann },
  ])
  expect(JSON.parse(r.timeline)).toHaveLength(1)
  const p = await probe(file)
  expect(p.codec).toBe('opus')
  expect(Math.abs(p.durationMs - 8000)).toBeLessThan(160)
  expect(Math.abs(r.duration_ms - 8000)).toBeLessThan(160)
  const pcm = await decodeWithFfmpeg(file)
  expect(blocksWithTone(pcm, 440)).toBeGreaterThanOrEqual(35)
  expect(blocksWithTone(pcm, 660)).toBeGreaterThanOrEqual(35)
  expect(blocksWithTone(pcm, 1000)).toBe(0)
  // The events: mixing first, ready last, progress never going back.
  const mine = events.filter((e) => e.replayId === seeded.replayId)
  expect(mine[0]).toMatchObject({ state: 'mixing', progress: 0, roomId: seeded.roomId })
  expect(mine.at(-1)).toMatchObject({ state: 'ready', progress: 1 })
  for (let i = 1; i < mine.length; i++) expect(mine[i]!.progress).toBeGreaterThanOrEqual(mine[i - 1]!.progress)

  // Bob withdraws after the fact (the replay-app sets the replay back to 'pending'): mixed again without him.
  events.length = 0
  db.query('INSERT INTO replay_withdrawals (replay_id, user_id, at) VALUES (?, ?, ?)').run(seeded.replayId, bob, 2)
  db.query("UPDATE replays SET state = 'pending' WHERE id = ?").run(seeded.replayId)
  s.ctx.replays.api.remix()
  await until(() => events.some((e) => e.state === 'ready'), 'the mix again')
  const again = row(db, seeded.replayId)
  expect(JSON.parse(again.speakers)).toEqual([ann])
  expect(JSON.parse(again.left_out)).toEqual([bob, dee])
  expect(JSON.parse(again.chapters).filter((c: { kind: string }) => c.kind === 'speaker')).toEqual([
    { kind: 'speaker', title: 'ann', userId: ann, startMs: 0 },
  ])
  const pcm2 = await decodeWithFfmpeg(join(s.dataDir, again.path!))
  expect(blocksWithTone(pcm2, 440)).toBeGreaterThanOrEqual(35)
  expect(blocksWithTone(pcm2, 660)).toBe(0)
  expect(blocksWithTone(pcm2, 1000)).toBe(0)

  // Ann withdraws too: nothing is left to mix; the replay fails and its file is removed.
  events.length = 0
  db.query('INSERT INTO replay_withdrawals (replay_id, user_id, at) VALUES (?, ?, ?)').run(seeded.replayId, ann, 3)
  db.query("UPDATE replays SET state = 'pending' WHERE id = ?").run(seeded.replayId)
  s.ctx.replays.api.remix()
  await until(() => events.some((e) => e.state === 'failed'), 'the failed mix')
  const gone = row(db, seeded.replayId)
  expect(gone).toMatchObject({ state: 'failed', path: null, bytes: 0, duration_ms: 0 })
  expect(gone.error).toContain('nothing to mix')
  expect(JSON.parse(gone.left_out)).toEqual([ann, bob, dee])
  expect(existsSync(join(s.dataDir, 'replays', `${seeded.replayId}.opus`))).toBe(false)
})

const child = async (dataDir: string) => (await recordingChild(dataDir, children)).proc

test('[RP31] a server SIGKILLed while it mixes mixes the replay again from the start on its next start', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'townhall-mixcrash-'))
  dirs.push(dataDir)
  // A first start makes the database; the room is seeded while no server runs.
  const first = await child(dataDir)
  first.stdin!.write('quit\n')
  await new Promise((r) => first.once('exit', r))
  const db = new Database(join(dataDir, 'townhall.db'))
  // Two minutes of two speakers: long enough to be killed in the middle (a mix of them takes seconds; the kill
  // follows its first progress, 2 %, within a poll).
  const minutes = 2
  const turns = (freq: number, offset: number) =>
    Array.from({ length: minutes * 2 }, (_, i) => ({ startMs: i * 30_000 + offset, durationMs: 15_000, freq }))
  const seeded = seedReplay(db, dataDir, [
    { username: 'ann', tones: turns(440, 0) },
    { username: 'bob', tones: turns(660, 15_000) },
  ])

  const second = await child(dataDir)
  await until(() => {
    const r = row(db, seeded.replayId)
    return r.state === 'mixing' && r.progress > 0
  }, 'the mix under way')
  const before = row(db, seeded.replayId)
  expect(before.progress).toBeLessThan(1)
  second.kill('SIGKILL')
  await new Promise((r) => second.once('exit', r))
  // Killed mid-mix: the row is still 'mixing', no replay file is in place (only, perhaps, its temporary file).
  expect(row(db, seeded.replayId).state).toBe('mixing')
  expect(existsSync(join(dataDir, 'replays', `${seeded.replayId}.opus`))).toBe(false)

  const restartedAt = Date.now()
  const third = await child(dataDir)
  let sawRestart = false
  await until(
    () => {
      const r = row(db, seeded.replayId)
      if (r.state === 'mixing' && r.progress < before.progress) sawRestart = true
      return r.state === 'ready'
    },
    () => JSON.stringify(row(db, seeded.replayId)),
    TEST_LIMIT - 30_000,
  )
  const r = row(db, seeded.replayId)
  const p = await probe(join(dataDir, r.path!))
  expect(p.codec).toBe('opus')
  expect(Math.abs(p.durationMs - minutes * 60_000)).toBeLessThan(minutes * 60_000 * 0.02)
  expect(JSON.parse(r.speakers)).toEqual(seeded.userIds)
  expect(JSON.parse(r.chapters)).toHaveLength(minutes * 4)
  // Mixed by the third server, again from the beginning.
  expect(r.ready_at).toBeGreaterThan(restartedAt)
  expect(sawRestart).toBe(true)
  third.stdin!.write('quit\n')
  await new Promise((r) => third.once('exit', r))
  db.close()
})
