// Backups of a server on Postgres (DATABASE_URL) and their restore: the same one-file tar as SQLite's (backup.ts: the
// files of DATA_DIR and a manifest with every file's SHA-256), with the database as
//   - `postgres.dump`: pg_dump's custom format, where pg_dump is found (PATH, or Debian's /usr/lib/postgresql/<v>/bin;
//     PG_DUMP names another or turns it off); restored by pg_restore in one transaction;
//   - else a logical export: `postgres/<table>.jsonl` (each row as Postgres's own row_to_json, every table of the
//     schema, read from one REPEATABLE READ snapshot through a cursor) and `postgres/sequences.json`; restored by this
//     Townhall alone: the migrations up to the backup's schema version, then the rows, all in one transaction.
// A restore goes into an empty database only (no table in its schema): it never merges into or replaces a community.
import { spawn } from 'node:child_process'
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { createInterface } from 'node:readline'
import { backupDir, writeArchive, type BackupResult, type Manifest } from './backup'
import { PG_MIGRATIONS } from './migrations/pg'
import type { PgConn } from './postgres'

export const PG_DUMP_FILE = 'postgres.dump'
export const PG_EXPORT_DIR = 'postgres'
const SEQUENCES = 'sequences.json'
/** Rows per FETCH of the export and per INSERT of its restore. */
const BATCH = 2000

export class PgRestoreError extends Error {}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`

/**
 * pg_dump or pg_restore: `setting` is PG_DUMP (auto, off, or pg_dump's path: pg_restore is looked for beside it);
 * auto takes PATH's, else the newest of Debian's /usr/lib/postgresql/<v>/bin. Null: none (or off).
 */
function pgTool(name: 'pg_dump' | 'pg_restore', setting: string): string | null {
  if (setting === 'off') return null
  if (setting !== 'auto') {
    const path = name === 'pg_dump' ? setting : join(setting, '..', 'pg_restore')
    return existsSync(path) ? path : null
  }
  const onPath = Bun.which(name)
  if (onPath) return onPath
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', name)))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length ? join(root, versions[0]!, 'bin', name) : null
}

/** Runs a Postgres client tool against `url`: the password goes by PGPASSWORD, never on the command line. */
function runTool(
  tool: string,
  args: string[],
  url: string,
  signal?: AbortSignal,
): Promise<{ code: number; err: string }> {
  const u = new URL(url)
  const password = decodeURIComponent(u.password)
  u.password = ''
  return new Promise((done, failed) => {
    const p = spawn(tool, [...args, '--dbname', u.toString()], {
      env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) },
      stdio: ['ignore', 'ignore', 'pipe'],
      // A backup stopped with the server stops pg_dump (its partial file is removed with the work folder).
      ...(signal ? { signal, killSignal: 'SIGTERM' as const } : {}),
    })
    let err = ''
    p.stderr.on('data', (d) => {
      if (err.length < 4000) err += d
    })
    p.on('error', (e) => failed(signal?.aborted ? new Error('backup: stopped') : e))
    p.on('close', (code) => done({ code: code ?? 1, err: err.trim() }))
  })
}

/** The schema version the database is at (0: none). */
async function versionOf(sql: PgConn['sql']): Promise<number> {
  const [t] = await sql`SELECT to_regclass('schema_version') IS NOT NULL AS x`
  if (!t?.x) return 0
  const [row] = await sql`SELECT MAX(version) AS v FROM schema_version`
  return Number(row?.v ?? 0)
}

/** Writes the backup of a Postgres server: the database (pg_dump or the logical export), then the files. */
export async function pgBackup(
  conn: PgConn,
  dataDir: string,
  target: string,
  opts: { pgDump: string; stopped: () => boolean; signal?: AbortSignal; warn?: (message: string) => void },
): Promise<BackupResult> {
  const check = () => {
    if (opts.stopped()) throw new Error('backup: stopped')
  }
  const dir = backupDir(dataDir)
  mkdirSync(dir, { recursive: true })
  const work = join(dir, `.pg-${process.pid}-${crypto.randomUUID()}`)
  mkdirSync(work)
  try {
    let tool = pgTool('pg_dump', opts.pgDump)
    let files: { name: string; path: string }[] = []
    let version = 0
    if (tool) {
      version = await versionOf(conn.sql)
      const path = join(work, PG_DUMP_FILE)
      const args = ['--format=custom', '--no-owner', '--no-privileges', '--file', path]
      const r = await runTool(tool, args, conn.url, opts.signal)
      check()
      files = [{ name: PG_DUMP_FILE, path }]
      if (r.code !== 0) {
        const why = `backup: ${tool} failed: ${r.err || `exit ${r.code}`}`
        // A pg_dump found on its own (auto) may be older than the server: the logical export needs none (H77).
        if (opts.pgDump !== 'auto') throw new Error(`${why} (PG_DUMP=off takes a logical export)`)
        opts.warn?.(`${why}; taking a logical export instead`)
        tool = null
      }
    }
    if (!tool) ({ files, version } = await exportLogical(conn, work, check))
    check()
    const dump = tool ? 'pg_dump' : 'logical'
    const n = await writeArchive(dataDir, target, files, { schemaVersion: version, database: 'postgres', dump }, check)
    return { file: target, name: basename(target), size: statSync(target).size, files: n, integrity: dump }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** Every table of the schema as JSON lines, and every sequence's position, from one snapshot. */
async function exportLogical(conn: PgConn, work: string, check: () => void) {
  mkdirSync(join(work, PG_EXPORT_DIR))
  const files: { name: string; path: string }[] = []
  let version = 0
  await conn.sql.begin(async (tx) => {
    await tx`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`
    version = await versionOf(tx)
    const tables = (await tx`
      SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`) as {
      name: string
    }[]
    for (const { name } of tables) {
      check()
      const entry = `${PG_EXPORT_DIR}/${name}.jsonl`
      const path = join(work, entry)
      const out = Bun.file(path).writer()
      try {
        await tx.unsafe(
          `DECLARE townhall_export NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${ident(name)} t`,
        )
        for (;;) {
          const rows = (await tx.unsafe(`FETCH ${BATCH} FROM townhall_export`)) as { j: string }[]
          for (const r of rows) out.write(`${r.j}\n`)
          await out.flush()
          check()
          if (rows.length < BATCH) break
        }
        await tx.unsafe('CLOSE townhall_export')
      } finally {
        await out.end()
      }
      files.push({ name: entry, path })
    }
    const seqs = (await tx`
      SELECT relname AS name FROM pg_class
       WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace ORDER BY relname`) as { name: string }[]
    const positions: { name: string; value: string; called: boolean }[] = []
    for (const { name } of seqs) {
      const [s] = await tx.unsafe(`SELECT last_value::text AS value, is_called AS called FROM ${ident(name)}`)
      positions.push({ name, value: s.value, called: s.called })
    }
    const entry = `${PG_EXPORT_DIR}/${SEQUENCES}`
    await Bun.write(join(work, entry), `${JSON.stringify(positions, null, 2)}\n`)
    files.push({ name: entry, path: join(work, entry) })
  })
  return { files, version }
}

/** Refuses a database that holds any table: a restore goes into a new one. */
export async function assertEmpty(conn: PgConn) {
  const [row] = await conn.sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = current_schema()`
  const n = Number(row?.n ?? 0)
  if (n > 0)
    throw new PgRestoreError(
      `the Postgres database of DATABASE_URL is not empty (${n} tables): restore into a new, empty database ` +
        '(createdb), then point DATABASE_URL at it',
    )
}

/** Restores the database of a Postgres backup extracted into `staging` into the empty database of `conn`. */
export async function pgRestore(conn: PgConn, staging: string, m: Manifest, pgDump: string): Promise<void> {
  if (m.schemaVersion > PG_MIGRATIONS.length)
    throw new PgRestoreError(
      `the backup's database is schema version ${m.schemaVersion}, but this Townhall knows only up to ` +
        `${PG_MIGRATIONS.length}: restore it with Townhall ${m.townhall} or newer`,
    )
  await assertEmpty(conn)
  if (m.dump === 'pg_dump') {
    const tool = pgTool('pg_restore', pgDump === 'off' ? 'auto' : pgDump)
    if (!tool)
      throw new PgRestoreError(
        'this backup was made with pg_dump: restoring it needs pg_restore (Debian: apt-get install postgresql-client)',
      )
    const r = await runTool(
      tool,
      ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', join(staging, PG_DUMP_FILE)],
      conn.url,
    )
    if (r.code !== 0) throw new PgRestoreError(`pg_restore failed (nothing was restored): ${r.err}`)
    return
  }
  if (m.dump !== 'logical') throw new PgRestoreError(`unknown kind of Postgres backup: ${m.dump}`)
  await restoreLogical(conn, staging, m.schemaVersion)
}

/** The logical export back: the schema of its version, its rows, its sequences, in one transaction. */
async function restoreLogical(conn: PgConn, staging: string, version: number) {
  const dir = join(staging, PG_EXPORT_DIR)
  const tables = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => f.slice(0, -'.jsonl'.length))
    .filter((t) => t !== 'schema_version')
  const positions = JSON.parse(readFileSync(join(dir, SEQUENCES), 'utf8')) as {
    name: string
    value: string
    called: boolean
  }[]
  await conn.sql.begin(async (tx) => {
    await tx`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`
    for (let i = 0; i < version; i++) {
      await tx.unsafe(PG_MIGRATIONS[i]!)
      await tx`INSERT INTO schema_version (version, applied_at) VALUES (${i + 1}, ${Date.now()})`
    }
    const columns = (await tx`
      SELECT table_name AS table, column_name AS name FROM information_schema.columns
       WHERE table_schema = current_schema() AND is_generated <> 'ALWAYS' ORDER BY table_name, ordinal_position`) as {
      table: string
      name: string
    }[]
    const missing = tables.filter((t) => !columns.some((c) => c.table === t))
    if (missing.length)
      throw new PgRestoreError(`the backup holds tables this schema does not have: ${missing.join(', ')}`)
    const fks = (await tx`
      SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
        FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`) as {
      tbl: string
      name: string
      def: string
    }[]
    for (const fk of fks) await tx.unsafe(`ALTER TABLE ${fk.tbl} DROP CONSTRAINT ${ident(fk.name)}`)
    for (const t of tables) {
      const cols = columns
        .filter((c) => c.table === t)
        .map((c) => ident(c.name))
        .join(', ')
      await tx.unsafe(`ALTER TABLE ${ident(t)} DISABLE TRIGGER USER`)
      // A migration's own rows (a counter's) are replaced by the backup's.
      await tx.unsafe(`DELETE FROM ${ident(t)}`)
      const insert =
        `INSERT INTO ${ident(t)} (${cols}) ` +
        `SELECT ${cols} FROM json_populate_recordset(NULL::${ident(t)}, $1::text::json)`
      let batch: string[] = []
      const flush = async () => {
        if (!batch.length) return
        await tx.unsafe(insert, [`[${batch.join(',')}]`])
        batch = []
      }
      const lines = createInterface({ input: createReadStream(join(dir, `${t}.jsonl`)), crlfDelay: Infinity })
      for await (const line of lines) {
        if (!line) continue
        batch.push(line)
        if (batch.length >= BATCH) await flush()
      }
      await flush()
      await tx.unsafe(`ALTER TABLE ${ident(t)} ENABLE TRIGGER USER`)
    }
    // Postgres checks every restored row against each key here.
    for (const fk of fks) await tx.unsafe(`ALTER TABLE ${fk.tbl} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}`)
    for (const s of positions) await tx`SELECT setval(${ident(s.name)}, ${s.value}::bigint, ${s.called})`
  })
}
