// [H10] The townhall command run as a real child process: --help, config errors, migrate, first-run setup,
// admin create, invite create, healthcheck; the CLI works on the data folder while the server runs.
// [H9] migrations: schema_version, refusing a newer database.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MIGRATIONS } from '../../server/db/migrations'
import { OPTIONS } from '../../server/config'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { cleanEnv, MAIN, townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'
import { backupDatabase } from '../helpers/backup'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-cli-'))

let dir: string
let s: TestServer
beforeAll(async () => {
  dir = join(tmp, 'shared')
  s = await startTestServer({}, { keepDir: dir })
})
afterAll(async () => {
  await s.stop()
  rmSync(tmp, { recursive: true, force: true })
})

test('[H8] --help prints the commands and every variable of the options table', async () => {
  const r = await townhall(['--help'], {})
  expect(r.code).toBe(0)
  for (const cmd of ['serve', 'admin create', 'invite create', 'healthcheck', 'migrate', 'backup'])
    expect(r.out).toContain(cmd)
  for (const o of Object.values(OPTIONS)) expect(r.out).toContain(o.env)
})

test('[H8] a bad value stops start-up with a message naming the variable', async () => {
  const r = await townhall(['serve'], { PORT: 'eighty', DATA_DIR: join(tmp, 'bad') })
  expect(r.code).toBe(2)
  expect(r.err).toContain('PORT')
  expect(r.err).toContain('eighty')
  const u = await townhall(['frobnicate'], { DATA_DIR: join(tmp, 'bad') })
  expect(u.code).toBe(2)
  expect(u.err).toContain('unknown command')
})

test('[H9] migrate applies every migration once, recorded in schema_version', async () => {
  const d = join(tmp, 'migrate')
  const first = await townhall(['migrate'], { DATA_DIR: d })
  expect(first.code).toBe(0)
  expect(first.out).toContain(`migrated from version 0 to ${MIGRATIONS.length}`)
  const again = await townhall(['migrate'], { DATA_DIR: d })
  expect(again.out).toContain(`up to date (version ${MIGRATIONS.length})`)
  const db = new Database(join(d, 'townhall.db'), { readonly: true })
  expect(
    db
      .query<{ version: number }, []>('SELECT version FROM schema_version ORDER BY version')
      .all()
      .map((r) => r.version),
  ).toEqual(MIGRATIONS.map((_, i) => i + 1))
  expect(db.query<{ journal_mode: string }, []>('PRAGMA journal_mode').get()!.journal_mode).toBe('wal')
  db.close()
})

test('[H9] a database newer than this Townhall is refused by serve and by migrate', async () => {
  const d = join(tmp, 'newer')
  expect((await townhall(['migrate'], { DATA_DIR: d })).code).toBe(0)
  const db = new Database(join(d, 'townhall.db'))
  db.run('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)', [MIGRATIONS.length + 5, Date.now()])
  db.close()
  for (const cmd of ['serve', 'migrate']) {
    const r = await townhall([cmd], { DATA_DIR: d, PORT: '0' })
    expect(r.code).toBe(2)
    expect(r.err).toContain(`version ${MIGRATIONS.length + 5}`)
    expect(r.err).toContain('upgrade Townhall')
  }
})

test('[A6] serve with no admin prints a one-time setup link that creates the admin once', async () => {
  const d = join(tmp, 'firstrun')
  const p = Bun.spawn([process.execPath, MAIN, 'serve'], {
    env: cleanEnv({ DATA_DIR: d, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' }),
    stdout: 'pipe',
    stderr: 'pipe',
  })
  try {
    const reader = p.stdout.getReader()
    let out = ''
    while (!/\/setup\/\S+\n/.test(out)) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`serve ended: ${out}`)
      out += new TextDecoder().decode(value)
    }
    reader.releaseLock()
    const link = /(http:\/\/localhost:(\d+))\/setup\/(\S+)/.exec(out)!
    const [, origin, port, token] = link
    const server = { url: `http://127.0.0.1:${port}`, origin: origin! }
    expect((await new Client(server).get(`/api/setup/${token}`)).json).toEqual({ needed: true, valid: true })
    expect((await new Client(server).get(`/setup/${token}`)).text).toContain('<div id="app">')
    const wrong = await new Client(server).post('/api/setup', {
      token: 'x' + token,
      username: 'owner',
      password: PASSWORD,
    })
    expect(wrong.json.error.code).toBe('setup_token_invalid')
    const owner = new Client(server)
    const r = await owner.post('/api/setup', { token, username: 'owner', password: PASSWORD })
    expect(r.status).toBe(201)
    expect(r.json.user).toMatchObject({ username: 'owner', role: 'admin' })
    expect((await owner.get('/api/admin/invite-tree')).status).toBe(200)
    const twice = await new Client(server).post('/api/setup', { token, username: 'owner2', password: PASSWORD })
    expect(twice.json.error.code).toBe('setup_done')
    expect((await new Client(server).get(`/api/setup/${token}`)).json).toEqual({ needed: false, valid: false })
  } finally {
    p.kill('SIGTERM')
    expect(await p.exited).toBe(0)
  }
})

test('[H10] admin create reads the password from --password-file or stdin, and checks it', async () => {
  const pwFile = join(tmp, 'pw')
  writeFileSync(pwFile, PASSWORD + '\n')
  const a = await townhall(['admin', 'create', '--username', 'boss', '--password-file', pwFile], { DATA_DIR: dir })
  expect(a.err).toBe('')
  expect(a.code).toBe(0)
  expect(a.out).toContain('admin @boss created')
  const b = await townhall(['admin', 'create', '--username', 'boss2'], { DATA_DIR: dir }, 'another good password\n')
  expect(b.code).toBe(0)
  // The running server signs both in at once, and knows them from then on (its directory reads them then).
  expect((await new Client(s).post('/api/auth/login', { username: 'boss', password: PASSWORD })).status).toBe(200)
  expect(s.ctx.accounts.api.byName('boss')!.role).toBe('admin')
  expect(
    (await new Client(s).post('/api/auth/login', { username: 'boss2', password: 'another good password' })).status,
  ).toBe(200)

  const short = await townhall(['admin', 'create', '--username', 'boss3'], { DATA_DIR: dir }, 'short\n')
  expect(short.code).toBe(2)
  expect(short.err).toContain('10 to 256')
  const badName = await townhall(['admin', 'create', '--username', 'no way!', '--password-file', pwFile], {
    DATA_DIR: dir,
  })
  expect(badName.code).toBe(2)
  const taken = await townhall(['admin', 'create', '--username', 'BOSS', '--password-file', pwFile], { DATA_DIR: dir })
  expect(taken.code).toBe(2)
  expect(taken.err).toContain('taken')
})

test('[H10] invite create prints the invite URL as its last line; the URL works while the server runs', async () => {
  const r = await townhall(['invite', 'create', '--uses', '2', '--expires', '7d', '--note', 'from the CLI'], {
    DATA_DIR: dir,
    PORT: String(s.port),
  })
  expect(r.code).toBe(0)
  const last = r.out.trim().split('\n').at(-1)!
  expect(last).toMatch(new RegExp(`^http://localhost:${s.port}/invite/[A-Za-z0-9_-]{43}$`))
  const token = last.split('/invite/')[1]!
  expect((await new Client(s).get(`/api/invites/${token}/check`)).json.invite).toMatchObject({
    usesLeft: 2,
    invitedBy: null,
  })
  expect(
    (await new Client(s).post('/api/auth/register', { username: 'clia', password: PASSWORD, invite: token })).status,
  ).toBe(201)
  expect(
    (await new Client(s).post('/api/auth/register', { username: 'clib', password: PASSWORD, invite: token })).status,
  ).toBe(201)
  expect(
    (await new Client(s).post('/api/auth/register', { username: 'clic', password: PASSWORD, invite: token })).json.error
      .code,
  ).toBe('invite_used_up')
  const inv = (await s.ctx.invites.service.list(0, true)).find((i) => i.note === 'from the CLI')!
  expect(inv.expiresAt! - Date.now()).toBeGreaterThan(6.9 * 86_400_000)

  const withUrl = await townhall(['invite', 'create'], { DATA_DIR: dir, PUBLIC_URL: 'https://town.example.org' })
  expect(withUrl.out.trim().split('\n').at(-1)).toMatch(/^https:\/\/town\.example\.org\/invite\/[\w-]{43}$/)
  for (const bad of [
    ['--uses', '0'],
    ['--uses', 'lots'],
    ['--expires', 'soon'],
  ]) {
    const x = await townhall(['invite', 'create', ...bad], { DATA_DIR: dir })
    expect(x.code).toBe(2)
    expect(x.err).toContain(bad[0]!)
  }
})

test('[H10] the CLI on the data folder of a running server leaves its live rooms live', async () => {
  const host = await signedInClient(s, 'clihost')
  const made = await host.post('/api/rooms', { title: 'Still on air', kind: 'open' })
  expect(made.status).toBe(201)
  const id = made.json.room.id as number
  const state = () => (s.ctx.core.db.query('SELECT state FROM rooms WHERE id = ?').get(id) as { state: string }).state
  expect(state()).toBe('live')
  for (const args of [['invite', 'create'], ['migrate'], ['backup']]) {
    expect((await townhall(args, { DATA_DIR: dir, PORT: String(s.port) })).code).toBe(0)
    expect(state()).toBe('live')
  }
  expect(s.ctx.rooms.api.room(id)!.state).toBe('live')
})

test('[H10] backup writes a consistent copy while the server runs', async () => {
  const r = await townhall(['backup'], { DATA_DIR: dir })
  expect(r.code).toBe(0)
  const file = r.out.trim()
  expect(file).not.toContain('\n')
  expect(file).toStartWith(join(dir, 'backups', 'townhall-'))
  const db = new Database(await backupDatabase(file), { readonly: true })
  expect(db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM users').get()!.n).toBeGreaterThanOrEqual(4)
  db.close()
})

test('[H10] a port in use or a data folder that cannot be written stops start-up with a one-line reason', async () => {
  const busy = await townhall(['serve'], { DATA_DIR: join(tmp, 'busy'), PORT: String(s.port), HOST: '127.0.0.1' })
  expect(busy.code).toBe(2)
  expect(busy.err).toContain('EADDRINUSE')
  expect(busy.err.trim().split('\n').length).toBeLessThanOrEqual(3)
  writeFileSync(join(tmp, 'a-file'), 'not a folder')
  const bad = await townhall(['migrate'], { DATA_DIR: join(tmp, 'a-file', 'data') })
  expect(bad.code).toBe(2)
  expect(bad.err).toMatch(/^townhall: .*(ENOTDIR|EEXIST)/m)
})

test('[H10] healthcheck exits 0 when the server on PORT answers and 1 when none does', async () => {
  const up = await townhall(['healthcheck'], { PORT: String(s.port), HOST: '127.0.0.1' })
  expect(up.code).toBe(0)
  expect(up.out).toContain('200 ok')
  // A port nobody listens on: bind one, note it, close it.
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const free = probe.port
  probe.stop(true)
  const down = await townhall(['healthcheck'], { PORT: String(free) })
  expect(down.code).toBe(1)
  expect(down.err).toContain(`no answer on port ${free}`)
})
