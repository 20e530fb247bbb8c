// [H75] `townhall migrate` on Postgres (DATABASE_URL) and [H76] `townhall backup` / `restore` of a Postgres server: a
// community built through a real server on SQLite is copied into a throwaway Postgres (migrate-to-postgres), with an
// upload in DATA_DIR; the CLI (a child process) backs it up with pg_dump and with the logical export (PG_DUMP=off),
// and restores each backup into a new, empty database: every table holds the same rows (Postgres's own row_to_json,
// row for row), the sequences continue where they were, the upload is back in the new DATA_DIR. A database that is
// not empty, a Postgres backup without DATABASE_URL and a SQLite backup with it are refused with exit status 2.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SQL } from 'bun'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BackupSchedule, createBackup, listBackups } from '../../server/db/backup'
import { PG_MIGRATIONS } from '../../server/db/migrations/pg'
import { migratePg, PgConn } from '../../server/db/postgres'
import { openTownhall } from '../../server/app'
import { loadConfig } from '../../server/config'
import { createLogger } from '../../server/lib/log'
import { extractTar } from '../../server/db/tar'
import { closeAll, dm, follow, person, send, type Person } from '../helpers/backchannel'
import { townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { signedInClient, startTestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-pgcli-'))
const sqliteDir = join(tmp, 'sqlite')
const dataDir = join(tmp, 'data')
const UPLOAD = 'uploads/avatars/kept.webp'

let pg: TestPostgres | null = null
let source = ''

/** Every table's rows (Postgres's row_to_json, sorted) and every sequence's position: the database as data. */
async function contents(url: string) {
  const sql = new SQL({ url, max: 1 })
  try {
    const out: Record<string, string[]> = {}
    const tables = (await sql`
      SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_version'
       ORDER BY tablename`) as { t: string }[]
    for (const { t } of tables)
      out[t] = ((await sql.unsafe(`SELECT row_to_json(x)::text AS j FROM "${t}" x`)) as { j: string }[])
        .map((r) => r.j)
        .sort()
    const seqs = (await sql`
      SELECT relname AS s FROM pg_class WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace
       ORDER BY relname`) as { s: string }[]
    for (const { s } of seqs) {
      const [p] = await sql.unsafe(`SELECT last_value::text AS v, is_called AS c FROM "${s}"`)
      out[`sequence ${s}`] = [`${p.v} ${p.c}`]
    }
    const [v] = await sql`SELECT MAX(version) AS v FROM schema_version`
    out.schema_version = [String(v.v)]
    return out
  } finally {
    await sql.close()
  }
}

async function manifestOf(file: string) {
  const dir = mkdtempSync(join(tmp, 'x-'))
  await extractTar(file, dir, () => true)
  return { dir, manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) }
}

beforeAll(async () => {
  pg = await startPostgres()
  if (!pg) return
  source = await pg.database('pgcli_source')
  const s = await startTestServer({}, { keepDir: sqliteDir })
  const people: Person[] = []
  try {
    const admin = await signedInClient(s, 'pgadmin', 'admin')
    expect((await admin.post('/api/invites', { uses: 3, note: 'for the book club' })).status).toBeLessThan(300)
    const a = await person(s, 'pg')
    const b = await person(s, 'pg')
    people.push(a, b)
    await follow(a, b)
    const thread = await dm(a, b)
    for (let i = 0; i < 3; i++) await send(a, thread, `hello ${i} — ünïcode ✓`)
    const room = await a.http.post('/api/rooms', { title: 'Reading group', kind: 'open', startsAt: Date.now() + 3.6e6 })
    expect(room.status).toBeLessThan(300)
    expect((await b.http.put(`/api/rooms/${room.json.room.id}/rsvp`, { answer: 'yes' })).status).toBe(200)
  } finally {
    closeAll(people)
    await s.stop()
  }
  mkdirSync(join(dataDir, 'uploads/avatars'), { recursive: true })
  writeFileSync(join(dataDir, UPLOAD), 'an avatar')
})

afterAll(async () => {
  await pg?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe('townhall migrate on Postgres', () => {
  test('[H75] migrates an empty database to the latest version, then says it is up to date', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const url = await pg.database('pgcli_migrate')
    const first = await townhall(['migrate'], { DATA_DIR: join(tmp, 'migrate'), DATABASE_URL: url })
    expect(first.err).toBe('')
    expect(first.code).toBe(0)
    const all = PG_MIGRATIONS.map((_, i) => i + 1).join(', ')
    expect(first.out).toContain(`migrated Postgres from version 0 to ${PG_MIGRATIONS.length} (applied ${all})`)
    const again = await townhall(['migrate'], { DATA_DIR: join(tmp, 'migrate'), DATABASE_URL: url })
    expect(again.code).toBe(0)
    expect(again.out).toContain(`Postgres database is up to date (version ${PG_MIGRATIONS.length})`)
    // Nothing of SQLite's was made in DATA_DIR.
    expect(existsSync(join(tmp, 'migrate', 'townhall.db'))).toBe(false)
  })

  test('[H75] a DATABASE_URL that is not postgres://, or a Postgres that is down: one line, exit 2', async () => {
    const r = await townhall(['migrate'], { DATA_DIR: join(tmp, 'migrate'), DATABASE_URL: 'mysql://x@y/z' })
    expect(r.code).toBe(2)
    expect(r.err).toContain('DATABASE_URL')
    const down = 'postgres://townhall:hunter2secret@127.0.0.1:1/townhall'
    const gone = await townhall(['migrate'], { DATA_DIR: join(tmp, 'migrate'), DATABASE_URL: down })
    expect(gone.code).toBe(2)
    expect(gone.err.trim().split('\n')).toHaveLength(1)
    expect(gone.err).toStartWith('townhall: Postgres (DATABASE_URL): ')
    expect(gone.err).not.toContain('hunter2secret')
  })
})

describe('townhall backup and restore on Postgres', () => {
  let before: Record<string, string[]> = {}

  test('[H76] the community is copied into Postgres (the source of the backups)', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const r = await townhall(['migrate-to-postgres', source], { DATA_DIR: sqliteDir })
    expect(r.code).toBe(0)
    before = await contents(source)
    for (const t of ['users', 'invites', 'follows', 'bc_messages', 'rooms', 'room_rsvps'])
      expect(before[t]!.length).toBeGreaterThan(0)
  })

  for (const kind of ['pg_dump', 'logical'] as const)
    test(`[H76] a backup by ${kind} restores into an empty database: every row and sequence, the uploads`, async () => {
      if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
      const env = { DATA_DIR: dataDir, DATABASE_URL: source, PG_DUMP: kind === 'logical' ? 'off' : 'auto' }
      const file = join(tmp, `${kind}.tar`)
      const made = await townhall(['backup', file], env)
      expect(made.code).toBe(0)
      expect(made.out).toBe(`${file}\n`)
      expect(made.err).toBe('') // the summary is for a terminal (D65)
      const { manifest } = await manifestOf(file)
      expect(manifest).toMatchObject({ formatVersion: 2, database: 'postgres', dump: kind })
      expect(manifest.schemaVersion).toBe(PG_MIGRATIONS.length)
      const names = manifest.files.map((f: { name: string }) => f.name)
      expect(names).toContain(UPLOAD)
      expect(names).toContain(kind === 'pg_dump' ? 'postgres.dump' : 'postgres/users.jsonl')
      expect(names).not.toContain('townhall.db')

      const target = await pg.database(`pgcli_${kind}`)
      const into = join(tmp, `restored-${kind}`)
      const r = await townhall(['restore', file], { DATA_DIR: into, DATABASE_URL: target })
      expect(r.err).toBe('')
      expect(r.code).toBe(0)
      expect(r.out).toContain(`and the Postgres database (${kind})`)
      expect(await contents(target)).toEqual(before)
      expect(readFileSync(join(into, UPLOAD), 'utf8')).toBe('an avatar')

      // The restored database is a working one: new ids follow the restored ones.
      const sql = new SQL({ url: target, max: 1 })
      try {
        const [max] = await sql`SELECT MAX(id)::bigint AS id FROM users`
        const [made] = await sql`
          INSERT INTO users (username, password_hash, created_at) VALUES ('newcomer', 'x', ${Date.now()}) RETURNING id`
        expect(Number(made.id)).toBe(Number(max.id) + 1)
      } finally {
        await sql.close()
      }

      // Again into the same database: not empty any more, refused, nothing changed.
      const twice = await townhall(['restore', file], { DATA_DIR: into, DATABASE_URL: target })
      expect(twice.code).toBe(2)
      expect(twice.err).toContain('is not empty')
    })

  test('[H76] a pg_dump found by auto that fails (older than the server) gives way to the logical export', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const bin = join(tmp, 'old-pg-dump')
    mkdirSync(bin, { recursive: true })
    const fake = join(bin, 'pg_dump')
    writeFileSync(fake, '#!/bin/sh\necho "pg_dump: error: aborting because of server version mismatch" >&2\nexit 1\n')
    chmodSync(fake, 0o755)
    const env = { DATA_DIR: dataDir, DATABASE_URL: source, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` }
    const file = join(tmp, 'fallback.tar')
    const made = await townhall(['backup', file], env)
    expect(made.code).toBe(0)
    expect(made.out).toBe(`${file}\n`)
    expect(made.err).toContain('server version mismatch; taking a logical export instead')
    expect((await manifestOf(file)).manifest).toMatchObject({ database: 'postgres', dump: 'logical' })
    // Named by its path, a failing pg_dump is an error: the operator chose it.
    const named = await townhall(['backup', join(tmp, 'named.tar')], { ...env, PG_DUMP: fake })
    expect(named.code).not.toBe(0)
    expect(named.err).toContain('server version mismatch')
  })

  test("[H76] the console's and the schedule's backups on Postgres: the same archive, kept as set", async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const dir = join(tmp, 'scheduled')
    mkdirSync(join(dir, 'uploads'), { recursive: true })
    writeFileSync(join(dir, 'uploads', 'a.txt'), 'a file')
    const conn = new PgConn(source, { max: 2 })
    try {
      // The console's path: createBackup given core.conn.
      const now = await createBackup(conn, dir, undefined, undefined, { pgDump: 'off' })
      expect(now.integrity).toBe('logical')
      expect((await manifestOf(now.file)).manifest).toMatchObject({ database: 'postgres', dump: 'logical' })
      // The schedule's: BACKUP_KEEP applies.
      const made: string[] = []
      const schedule = new BackupSchedule({
        db: conn,
        dataDir: dir,
        everyMs: 3_600_000,
        keep: 2,
        log: createLogger('error', () => {}),
        pgDump: 'auto',
        done: (r) => made.push(r.name),
      })
      for (let i = 0; i < 3; i++) await schedule.run()
      await schedule.stop()
      expect(made).toHaveLength(3)
      expect(listBackups(dir).map((b) => b.name)).toEqual([made[2]!, made[1]!])
      const { manifest } = await manifestOf(join(dir, 'backups', made[2]!))
      expect(manifest).toMatchObject({ database: 'postgres', dump: 'pg_dump' })
      expect(manifest.files.map((f: { name: string }) => f.name)).toContain('uploads/a.txt')
      // Stopped with the server (their signal): pg_dump or the export stops, nothing is left.
      const before = readdirSync(join(dir, 'backups')).sort()
      for (const pgDump of ['auto', 'off']) {
        const stop = new AbortController()
        const under = createBackup(conn, dir, join(dir, 'backups', 'cut.tar'), stop.signal, { pgDump })
        stop.abort()
        await expect(under).rejects.toThrow('backup: stopped')
        expect(readdirSync(join(dir, 'backups')).sort()).toEqual(before)
      }
    } finally {
      await conn.close()
    }
  })

  test('[H76] a Postgres backup without DATABASE_URL, and a SQLite one with it, are refused', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const file = join(tmp, 'logical.tar')
    const noUrl = await townhall(['restore', file], { DATA_DIR: join(tmp, 'nowhere') })
    expect(noUrl.code).toBe(2)
    expect(noUrl.err).toContain('set DATABASE_URL to a new, empty Postgres database')
    expect(existsSync(join(tmp, 'nowhere', 'townhall.db'))).toBe(false)

    const sqliteFile = join(tmp, 'sqlite.tar')
    expect((await townhall(['backup', sqliteFile], { DATA_DIR: sqliteDir })).code).toBe(0)
    const empty = await pg.database('pgcli_empty')
    const withUrl = await townhall(['restore', sqliteFile], { DATA_DIR: join(tmp, 'nowhere'), DATABASE_URL: empty })
    expect(withUrl.code).toBe(2)
    expect(withUrl.err).toContain('this backup holds a SQLite database')
    expect(Object.keys(await contents(empty).catch(() => ({})))).toEqual([])
  })
})

describe('the backup taken before migrating Postgres', () => {
  test('[D66] nodes starting at once at an older schema back it up once, under the lock; it restores', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const url = await pg.database('pgcli_premigrate')
    const latest = PG_MIGRATIONS.length
    const older = latest - 1
    const sql = new SQL({ url, max: 1 })
    try {
      await migratePg(sql, PG_MIGRATIONS.slice(0, older))
      await sql`INSERT INTO users (username, password_hash, created_at) VALUES ('oldtimer', 'x', ${Date.now()})`
    } finally {
      await sql.close()
    }
    const atOlder = await contents(url)
    expect(atOlder.schema_version).toEqual([String(older)])

    // Two nodes start at once on the same database and DATA_DIR (the servers' own start: openTownhall).
    const dir = join(tmp, 'premigrate')
    const config = loadConfig({ DATA_DIR: dir, DATABASE_URL: url, LOG_LEVEL: 'info' })
    const lines: string[] = []
    const log = createLogger('info', (l) => lines.push(l))
    const nodes = await Promise.all([0, 1].map(() => openTownhall(config, { log })))
    await Promise.all(nodes.map((t) => t.core.conn.close()))
    expect((await contents(url)).schema_version).toEqual([String(latest)])
    const copies = listBackups(dir).filter((b) => b.kind === 'pre-migrate')
    expect(copies.map((b) => b.name)).toEqual([
      expect.stringMatching(new RegExp(`^pre-migrate-${older}-to-${latest}-.+\\.tar$`)),
    ])
    const file = join(dir, 'backups', copies[0]!.name)
    expect(lines.filter((l) => l.includes('backed it up to'))).toEqual([
      expect.stringContaining(`from version ${older} to ${latest}, backed it up to ${file}`),
    ])
    const { manifest } = await manifestOf(file)
    expect(manifest).toMatchObject({ database: 'postgres', dump: 'pg_dump', schemaVersion: older })

    // The way back: the copy restores into an empty database at the old schema, every row as it was.
    const target = await pg.database('pgcli_premigrate_back')
    const r = await townhall(['restore', file], { DATA_DIR: join(tmp, 'premigrate-back'), DATABASE_URL: target })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(await contents(target)).toEqual(atOlder)

    // Up to date now: another start (here `townhall migrate`) takes no second copy.
    const again = await townhall(['migrate'], { DATA_DIR: dir, DATABASE_URL: url })
    expect(again.out).toContain(`Postgres database is up to date (version ${latest})`)
    expect(listBackups(dir).filter((b) => b.kind === 'pre-migrate')).toHaveLength(1)
  })

  test('[D66] `townhall migrate` on Postgres backs up first too, and says where', async () => {
    if (!pg) return console.warn('postgres-cli: skipped (no Postgres)')
    const url = await pg.database('pgcli_premigrate_cli')
    const sql = new SQL({ url, max: 1 })
    try {
      await migratePg(sql, PG_MIGRATIONS.slice(0, PG_MIGRATIONS.length - 1))
    } finally {
      await sql.close()
    }
    const dir = join(tmp, 'premigrate-cli')
    const r = await townhall(['migrate'], { DATA_DIR: dir, DATABASE_URL: url, PG_DUMP: 'off' })
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    const [copy] = listBackups(dir).filter((b) => b.kind === 'pre-migrate')
    expect(r.out).toContain(`migrate: backed up the database before migrating: ${join(dir, 'backups', copy!.name)}`)
    expect((await manifestOf(join(dir, 'backups', copy!.name))).manifest).toMatchObject({ dump: 'logical' })
  })
})
