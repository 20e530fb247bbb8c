// [D40]–[D46] Backup and restore for real: a server with members, messages and uploads is backed up over the admin API
// and by the CLI; `townhall restore` (a child process) puts it into a fresh folder where a new server serves the same
// members, messages and files. Restore refuses a folder in use, a damaged file and a newer schema; the schedule keeps
// BACKUP_KEEP; migrations are preceded by a copy of the database.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { closeAll, dm, follow, person, send, type Person } from '../helpers/backchannel'
import { cleanEnv, MAIN, townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'
import { BackupSchedule, createBackup, listBackups, MANIFEST } from '../../server/db/backup'
import { TarWriter } from '../../server/db/tar'
import { MIGRATIONS } from '../../server/db/migrations'
import { migrate } from '../../server/db/migrate'
import { openDatabase } from '../../server/db/open'
import { createLogger } from '../../server/lib/log'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-backup-'))

// A 1×1 PNG.
const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)

let s: TestServer
let a: Person, b: Person
let thread = 0
let avatarUrl = ''
let imageUrl = ''
let backup = ''
const source = join(tmp, 'source')

beforeAll(async () => {
  s = await startTestServer({}, { keepDir: source })
  a = await person(s, 'bk')
  b = await person(s, 'bk')
  await follow(b, a)
  thread = await dm(a, b)
  for (let i = 0; i < 5; i++) await send(a, thread, `message ${i}`)
  const up = await a.http.req('POST', `/api/threads/${thread}/images`, PNG, { 'content-type': 'image/png' })
  imageUrl = (await send(a, thread, '', { image: up.json.image.name })).image!
  const av = await b.http.req('PUT', '/api/me/avatar', PNG, { 'content-type': 'image/png' })
  expect(av.status).toBeLessThan(300)
  avatarUrl = (await b.http.get('/api/me')).json.user.avatar
  expect(avatarUrl).toBeTruthy()
  // A replay and a capture file, as the mix and the recorder leave them (their contents are theirs to test).
  mkdirSync(join(source, 'replays'), { recursive: true })
  writeFileSync(join(source, 'replays', '1.opus'), 'OggS replay')
  mkdirSync(join(source, 'recordings', '1'), { recursive: true })
  writeFileSync(join(source, 'recordings', '1', `${a.id}.cap`), 'THCAP001')
  const admin = await signedInClient(s, 'bkadmin', 'admin')
  const made = await admin.post('/api/admin/backups')
  expect(made.status).toBe(201)
  expect(made.json.backup).toMatchObject({ integrity: 'ok', kind: 'backup' })
  backup = join(source, 'backups', made.json.backup.name)
})
afterAll(async () => {
  closeAll([a, b])
  await s.stop()
  rmSync(tmp, { recursive: true, force: true })
})

test('[D40] one tar: the database, uploads, replays, recordings and a manifest with sizes and SHA-256', async () => {
  const tar = Bun.spawnSync(['tar', 'tf', backup]).stdout.toString()
  const names = tar.trim().split('\n')
  expect(names[0]).toBe('townhall.db')
  expect(names.at(-1)).toBe(MANIFEST)
  expect(names.filter((n) => n.startsWith('uploads/')).length).toBe(2) // the image and the avatar
  expect(names).toEqual(expect.arrayContaining(['replays/1.opus', `recordings/1/${a.id}.cap`]))
  const manifest = JSON.parse(Bun.spawnSync(['tar', 'xOf', backup, MANIFEST]).stdout.toString())
  expect(manifest).toMatchObject({ format: 'townhall-backup', formatVersion: 1, schemaVersion: MIGRATIONS.length })
  for (const f of manifest.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/)
})

test('[D40] restore into a fresh folder: a new server has the same members, messages and uploads', async () => {
  const target = join(tmp, 'restored')
  const r = await townhall(['restore', backup], { DATA_DIR: target })
  expect(r.err).toBe('')
  expect(r.code).toBe(0)
  expect(r.out).toContain('restored into')
  const t = await startTestServer({}, { keepDir: target })
  try {
    const c = new Client(t)
    const login = await c.post('/api/auth/login', { username: a.name, password: PASSWORD })
    expect(login.status).toBe(200)
    const history = await c.get(`/api/threads/${thread}`)
    expect(history.status).toBe(200)
    const bodies = JSON.stringify(history.json)
    for (let i = 0; i < 5; i++) expect(bodies).toContain(`message ${i}`)
    const img = await c.get(imageUrl)
    expect(img.status).toBe(200)
    expect(
      new Uint8Array(await (await fetch(t.url + imageUrl, { headers: { cookie: c.cookie } })).arrayBuffer()),
    ).toEqual(PNG)
    const av = await fetch(t.url + avatarUrl)
    expect(av.status).toBe(200)
    expect(new Uint8Array(await av.arrayBuffer())).toEqual(PNG)
  } finally {
    await t.stop()
  }
})

test('[D41] restore refuses a data folder whose server is running, and changes nothing there', async () => {
  const before = readdirSync(source).sort()
  const r = await townhall(['restore', backup], { DATA_DIR: source })
  expect(r.code).toBe(2)
  expect(r.err).toContain('is using')
  expect(readdirSync(source).sort()).toEqual(before)
})

test('[D42] restore refuses a damaged backup (changed byte, truncated, no tar); the folder is untouched', async () => {
  const bytes = readFileSync(backup)
  const target = join(tmp, 'damaged')
  mkdirSync(join(target, 'uploads'), { recursive: true })
  writeFileSync(join(target, 'uploads', 'keep.txt'), 'mine')
  // A byte of the PNG inside the archive (its content, not a header).
  const at = bytes.indexOf(Buffer.from(PNG.subarray(16, 32)))
  expect(at).toBeGreaterThan(0)
  const flipped = Buffer.from(bytes)
  flipped[at] = flipped[at]! ^ 0xff
  writeFileSync(join(tmp, 'flipped.tar'), flipped)
  const bad = await townhall(['restore', join(tmp, 'flipped.tar')], { DATA_DIR: target })
  expect(bad.code).toBe(2)
  expect(bad.err).toContain('does not match its checksum')
  writeFileSync(join(tmp, 'short.tar'), bytes.subarray(0, Math.floor(bytes.length / 2)))
  const short = await townhall(['restore', join(tmp, 'short.tar')], { DATA_DIR: target })
  expect(short.code).toBe(2)
  expect(short.err).toContain('truncated')
  writeFileSync(join(tmp, 'junk.tar'), 'not a tar at all'.repeat(100))
  const junk = await townhall(['restore', join(tmp, 'junk.tar')], { DATA_DIR: target })
  expect(junk.code).toBe(2)
  expect(readdirSync(target).sort()).toEqual(['uploads'])
  expect(readFileSync(join(target, 'uploads', 'keep.txt'), 'utf8')).toBe('mine')
})

test('[D43] restore refuses a backup whose schema is newer than this Townhall', async () => {
  const dir = join(tmp, 'newer')
  const db = openDatabase(dir)
  db.query('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(MIGRATIONS.length + 1, Date.now())
  const file = join(tmp, 'newer.tar')
  // Written like the server writes it (right hashes, right manifest); only the schema is from the future.
  const snap = join(tmp, 'newer.db')
  db.query('VACUUM INTO ?').run(snap)
  db.close()
  const w = await TarWriter.create(file)
  const entry = (await w.addFile('townhall.db', snap))!
  const manifest = {
    format: 'townhall-backup',
    formatVersion: 1,
    townhall: '9.9.9',
    schemaVersion: MIGRATIONS.length + 1,
    createdAt: new Date().toISOString(),
    files: [entry],
  }
  await w.addBytes(MANIFEST, new TextEncoder().encode(JSON.stringify(manifest)))
  await w.close()
  const target = join(tmp, 'newer-target')
  const r = await townhall(['restore', file], { DATA_DIR: target })
  expect(r.code).toBe(2)
  expect(r.err).toContain(`schema version ${MIGRATIONS.length + 1}`)
  expect(existsSync(join(target, 'townhall.db'))).toBe(false)
})

test('[D44] restore into a stopped folder moves its database, stale -wal/-shm and uploads aside', async () => {
  const target = join(tmp, 'stopped')
  const first = await townhall(['restore', backup], { DATA_DIR: target })
  expect(first.code).toBe(0)
  writeFileSync(join(target, 'townhall.db-wal'), 'a stale write-ahead log')
  writeFileSync(join(target, 'townhall.db-shm'), 'stale')
  const again = await townhall(['restore', backup], { DATA_DIR: target })
  expect(again.code).toBe(0)
  expect(again.err).toContain('townhall.db-wal')
  const aside = readdirSync(target).find((n) => n.startsWith('replaced-'))!
  expect(readdirSync(join(target, aside))).toEqual(expect.arrayContaining(['townhall.db', 'uploads']))
  expect(existsSync(join(target, 'townhall.db-wal'))).toBe(false)
  const db = new Database(join(target, 'townhall.db'), { readonly: true })
  expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
  db.close()
  // A database damaged beyond reading (the reason to restore) is moved aside too.
  writeFileSync(join(target, 'townhall.db'), 'this is not a database, it is a disk error')
  const damaged = await townhall(['restore', backup], { DATA_DIR: target })
  expect(damaged.err).toBe('')
  expect(damaged.code).toBe(0)
})

test('[D45][D65] the CLI backs up a running server to the file named; stdout is its path alone', async () => {
  const file = join(tmp, 'cli-backup.tar')
  const r = await townhall(['backup', file], { DATA_DIR: source })
  expect(r.code).toBe(0)
  // `path=$(townhall backup)`: the path alone on stdout; the summary only for a terminal (stderr here is a pipe).
  expect(r.out).toBe(`${file}\n`)
  expect(r.err).toBe('')
  const restored = await townhall(['restore', file], { DATA_DIR: join(tmp, 'from-cli') })
  expect(restored.code).toBe(0)
  // At a terminal (`script` gives the command one), the summary follows on stderr.
  if (Bun.which('script')) {
    const tty = join(tmp, 'cli-backup-tty.tar')
    const cmd = `"${process.execPath}" "${MAIN}" backup "${tty}"`
    const p = Bun.spawn(['script', '-qec', cmd, '/dev/null'], { env: cleanEnv({ DATA_DIR: source }), stdout: 'pipe' })
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited])
    expect(code).toBe(0)
    expect(out).toContain(tty)
    expect(out).toMatch(/backup: \d+ files, \d+ bytes, database integrity ok/)
  }
})

test('[D46] scheduled backups keep the newest BACKUP_KEEP; off arms nothing', async () => {
  const dir = join(tmp, 'schedule')
  const db = openDatabase(dir)
  const log = createLogger('error', () => {})
  const made: string[] = []
  const schedule = new BackupSchedule({
    db,
    dataDir: dir,
    everyMs: 3_600_000,
    keep: 2,
    log,
    done: (r) => made.push(r.name),
  })
  schedule.start()
  expect(schedule.armed).toBe(true)
  for (let i = 0; i < 4; i++) await schedule.run()
  await schedule.stop()
  expect(schedule.armed).toBe(false)
  expect(made).toHaveLength(4)
  const left = listBackups(dir).map((b) => b.name)
  expect(left).toEqual([made[3]!, made[2]!])
  const off = new BackupSchedule({ db, dataDir: dir, everyMs: 0, keep: 2, log })
  off.start()
  expect(off.armed).toBe(false)
  // Stopping the server stops a backup under way at its next file: no archive, no partial file is left.
  mkdirSync(join(dir, 'uploads', 'many'), { recursive: true })
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'uploads', 'many', `f${i}.bin`), `file ${i}`)
  const cut = new BackupSchedule({ db, dataDir: dir, everyMs: 3_600_000, keep: 9, log })
  const before = readdirSync(join(dir, 'backups')).sort()
  const under = cut.run()
  await cut.stop()
  await under
  expect(readdirSync(join(dir, 'backups')).sort()).toEqual(before)
  db.close()
  // A manual backup is a backup like the others.
  const again = openDatabase(dir)
  expect((await createBackup(again, dir)).integrity).toBe('ok')
  again.close()
})

test('[D47] before migrating a database that has data, the server copies it into backups/pre-migrate-…', async () => {
  const dir = join(tmp, 'upgrade')
  mkdirSync(dir, { recursive: true })
  const old = new Database(join(dir, 'townhall.db'), { create: true })
  migrate(old, MIGRATIONS.slice(0, MIGRATIONS.length - 1))
  old.close()
  const db = openDatabase(dir)
  db.close()
  const copies = listBackups(dir).filter((b) => b.kind === 'pre-migrate')
  expect(copies).toHaveLength(1)
  expect(copies[0]!.name).toStartWith(`pre-migrate-${MIGRATIONS.length - 1}-to-${MIGRATIONS.length}-`)
  const copy = new Database(join(dir, 'backups', copies[0]!.name), { readonly: true })
  expect(copy.query('SELECT MAX(version) AS v FROM schema_version').get()).toEqual({ v: MIGRATIONS.length - 1 })
  copy.close()
  // Up to date: no copy.
  openDatabase(dir).close()
  expect(listBackups(dir).filter((b) => b.kind === 'pre-migrate')).toHaveLength(1)
})
