// [H77] A server on Postgres (DATABASE_URL, a throwaway cluster): setup, sign-up by invite, a follow, a scheduled room
// with an RSVP, a live room and its hallway card, /healthz checking Postgres; a restart on the same database keeps it
// all; the console's backup holds the Postgres database. [W30] Backchannel on Postgres: a DM delivered live, found by
// search, and synced after the restart from the seq the reader had seen; the CLI's invite works on the same database.
// [H86] A server on Postgres stopped right after members left a live room: the rows of those events are written before
// its pool closes, and nothing in its log says a room event failed.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SQL } from 'bun'
import { dm, send } from '../helpers/backchannel'
import { townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'
import { closeAll, createRoom, member, ok, reconnect, type Member } from '../helpers/members'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { Client, PASSWORD, startTestServer, type TestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-pgserver-'))
let pg: TestPostgres | null = null

beforeAll(async () => {
  pg = await startPostgres()
})

afterAll(async () => {
  await pg?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

test('[H77][W30] a server on Postgres: setup, invites, rooms, Backchannel, /healthz, a restart', async () => {
  if (!pg) return console.warn('postgres-server: skipped (no Postgres)')
  const url = await pg.database('pgserver')
  const dataDir = join(tmp, 'server')
  const env = { DATABASE_URL: url, ROOM_GRACE_MS: '60000' }
  const servers: TestServer[] = []
  const people: Member[] = []
  try {
    const s = await startTestServer(env, { keepDir: dataDir })
    servers.push(s)
    expect((await new Client(s).get('/healthz')).json).toMatchObject({ status: 'ok', database: 'ok' })
    // Postgres holds the community; DATA_DIR holds no database.
    expect(await Bun.file(join(dataDir, 'townhall.db')).exists()).toBe(false)

    // Setup: the one-time link makes the admin.
    const token = (await s.ctx.accounts.service.setupTokenFor())!
    const owner = new Client(s)
    expect((await owner.post('/api/setup', { token, username: 'owner', password: PASSWORD })).status).toBe(201)
    // Sign-up by invite.
    const inv = await owner.post('/api/invites', { uses: 1 })
    expect(inv.status).toBeLessThan(300)
    const joiner = new Client(s)
    const reg = await joiner.post('/api/auth/register', {
      username: 'joiner',
      password: PASSWORD,
      invite: inv.json.token,
    })
    expect(reg.status).toBeLessThan(300)
    // A follow.
    expect((await joiner.put('/api/users/owner/follow')).status).toBeLessThan(300)
    // A scheduled room with an RSVP.
    const later = await owner.post('/api/rooms', { title: 'Book club', kind: 'open', startsAt: Date.now() + 3.6e6 })
    expect(later.status).toBe(201)
    expect((await joiner.put(`/api/rooms/${later.json.room.id}/rsvp`, { answer: 'yes' })).status).toBe(200)
    // A live room and its hallway card.
    const host = await member(s, 'pgh')
    people.push(host)
    const live = await createRoom(host, { title: 'On Postgres' })
    await ok(host, 'room.join', { roomId: live.id })
    const hall = (await joiner.get('/api/rooms')).json
    expect(hall.live.map((r: { id: number }) => r.id)).toContain(live.id)
    expect(hall.upcoming.map((r: { id: number }) => r.id)).toContain(later.json.room.id)

    // Backchannel: a DM delivered live and found by Postgres's full-text search.
    const reader = await member(s, 'pgr')
    people.push(reader)
    const thread = await dm(host, reader)
    const live1 = reader.ws.next('bc.message', (e) => e.message.body === 'tulips in amsterdam')
    const sent = await send(host, thread, 'tulips in amsterdam')
    expect((await live1).message.id).toBe(sent.id)
    const found = await ok(reader, 'bc.search', { q: 'tulip' })
    expect(found.results.map((r: { message: { id: number } }) => r.message.id)).toContain(sent.id)
    const seen = sent.seq
    const second = await send(host, thread, 'and windmills')

    // The console's backup: the Postgres database (pg_dump here, or the logical export) and the files, in one tar.
    const backup = await owner.post('/api/admin/backups')
    expect(backup.status).toBe(201)
    expect(['pg_dump', 'logical']).toContain(backup.json.backup.integrity)

    // The rows are Postgres's.
    const sql = new SQL({ url, max: 1 })
    try {
      const [n] = await sql`SELECT count(*)::int AS n FROM users`
      expect(n.n).toBe(4)
    } finally {
      await sql.close()
    }

    // A restart on the same database: everything is still there.
    closeAll(people)
    await s.stop()
    servers.length = 0
    const again = await startTestServer(env, { keepDir: dataDir })
    servers.push(again)
    expect((await new Client(again).get('/healthz')).json).toMatchObject({ status: 'ok', database: 'ok' })
    const back = new Client(again)
    expect((await back.post('/api/auth/login', { username: 'joiner', password: PASSWORD })).status).toBe(200)
    const following = (await back.get('/api/users/joiner/following')).json.users.map(
      (u: { username: string }) => u.username,
    )
    expect(following).toContain('owner')
    const after = (await back.get('/api/rooms')).json
    expect(after.upcoming.map((r: { id: number }) => r.id)).toContain(later.json.room.id)
    expect(after.live.map((r: { id: number }) => r.id)).toContain(live.id)
    expect(await again.ctx.accounts.service.setupTokenFor()).toBeNull()
    // Backchannel after the restart: the reader syncs from the seq of the first DM and gets the second; a new send
    // takes a seq above both.
    await reconnect(again, reader)
    const synced = await ok(reader, 'bc.sync', { after: seen })
    expect(synced.messages.map((m: { id: number }) => m.id)).toContain(second.id)
    const third = await send(await reconnect(again, host), thread, 'after the restart')
    expect(third.seq).toBeGreaterThan(second.seq)
    // The CLI on the same database: an invite made by `townhall invite create` signs a member up.
    const cli = await townhall(['invite', 'create'], { DATA_DIR: dataDir, DATABASE_URL: url })
    expect(cli.code).toBe(0)
    const invite = cli.out.trim().split('\n').at(-1)!.split('/invite/')[1]
    const viaCli = await new Client(again).post('/api/auth/register', {
      username: 'fromcli',
      password: PASSWORD,
      invite,
    })
    expect(viaCli.status).toBeLessThan(300)
  } finally {
    closeAll(people)
    for (const s of servers) await s.stop().catch(() => {})
  }
})

test('[H86] a server on Postgres stopped just after room events writes their rows before its pool closes', async () => {
  if (!pg) return console.warn('postgres-server: skipped (no Postgres)')
  const url = await pg.database('pgstop')
  const lines: string[] = []
  const s = await startTestServer({ DATABASE_URL: url }, { log: (l) => lines.push(l) })
  const people: Member[] = []
  let roomId = 0
  try {
    const host = await member(s, 'pgsh')
    people.push(host)
    for (let i = 0; i < 12; i++) people.push(await member(s, 'pgsl'))
    roomId = (await createRoom(host, { title: 'Stopped live' })).id
    for (const m of people) await ok(m, 'room.join', { roomId })
    // The listeners leave at once and the server stops right after: each 'left' moves a row of the room's chat.
    await Promise.all(people.slice(1).map((m) => ok(m, 'room.leave', { roomId })))
  } finally {
    closeAll(people)
    await s.stop()
  }
  expect(lines.filter((l) => /room event failed|Connection closed/.test(l))).toEqual([])
  const sql = new SQL({ url, max: 1 })
  try {
    const rows = (await sql`
      SELECT m.user_id::int AS id, m.state FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id
       WHERE t.room_id = ${roomId} AND t.kind = 'room_chat'`) as { id: number; state: string }[]
    const state = new Map(rows.map((r) => [r.id, r.state]))
    expect(state.get(people[0]!.id)).toBe('active')
    for (const m of people.slice(1)) expect(state.get(m.id)).toBe('left')
  } finally {
    await sql.close()
  }
})
