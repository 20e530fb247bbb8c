// Restore: checks a backup completely (every file against the manifest's size and SHA-256, the database's
// integrity, a schema this Townhall knows) in a staging folder inside DATA_DIR, then swaps it in. Whatever the data
// folder held (database, its -wal/-shm, uploads) is moved aside into DATA_DIR/replaced-<time>/, never deleted.
// A data folder whose database a running server holds open is refused. A backup of a Postgres server (backup-pg.ts)
// goes into the empty Postgres database of DATABASE_URL, its files into DATA_DIR.
import { Database } from 'bun:sqlite'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { latestVersion, schemaVersion } from './migrate'
import { DB_FILE } from './open'
import { DATA_FOLDERS, integrityOf, MANIFEST, SNAPSHOT, type Manifest } from './backup'
import { assertEmpty, PG_DUMP_FILE, PG_EXPORT_DIR, pgRestore, PgRestoreError } from './backup-pg'
import { PgConn } from './postgres'
import { extractTar, TarError } from './tar'

export class RestoreError extends Error {}

/**
 * True when another connection (a running server, in this process or another) has the database open: SQLite keeps a
 * shared lock on a WAL database while a connection is open, so an exclusive lock cannot be taken. Not a pid file: it
 * holds across containers and pid reuse.
 */
function databaseInUse(dataDir: string): boolean {
  const file = join(dataDir, DB_FILE)
  if (!existsSync(file)) return false
  let db: Database | null = null
  try {
    db = new Database(file, { readwrite: true, create: false })
    db.exec('PRAGMA busy_timeout = 0')
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    db.exec('BEGIN EXCLUSIVE')
    db.exec('COMMIT')
    return false
  } catch (e) {
    if (/locked|busy/i.test((e as Error).message)) return true
    // Not a database SQLite can read (damaged: the reason to restore): no server can be running on it.
    return false
  } finally {
    db?.close()
  }
}

const allowed = (name: string) =>
  name === MANIFEST ||
  name === SNAPSHOT ||
  name === PG_DUMP_FILE ||
  /^postgres\/[a-z0-9_]+\.(jsonl|json)$/.test(name) ||
  DATA_FOLDERS.some((f) => name.startsWith(`${f}/`))

/** Reads and checks the manifest against what was extracted; returns it. */
function checkManifest(staging: string, got: Map<string, { size: number; sha256: string }>): Manifest {
  if (!got.has(MANIFEST)) throw new RestoreError('not a Townhall backup: it has no manifest.json')
  let m: Manifest
  try {
    m = JSON.parse(readFileSync(join(staging, MANIFEST), 'utf8'))
  } catch {
    throw new RestoreError('the backup is damaged: its manifest is not valid JSON')
  }
  if (m?.format !== 'townhall-backup' || (m.formatVersion !== 1 && m.formatVersion !== 2) || !Array.isArray(m.files))
    throw new RestoreError('not a Townhall backup (or one from a newer Townhall): unknown manifest format')
  if (m.formatVersion === 2 && m.database !== 'postgres')
    throw new RestoreError('not a Townhall backup (or one from a newer Townhall): unknown database')
  const listed = new Set<string>()
  for (const f of m.files) {
    const have = got.get(f.name)
    if (!have) throw new RestoreError(`the backup is damaged: ${f.name} is missing`)
    if (have.size !== f.size || have.sha256 !== f.sha256)
      throw new RestoreError(`the backup is damaged: ${f.name} does not match its checksum`)
    listed.add(f.name)
  }
  for (const name of got.keys())
    if (name !== MANIFEST && !listed.has(name))
      throw new RestoreError(`the backup is damaged: ${name} is not in its manifest`)
  const holds =
    m.database === 'postgres'
      ? listed.has(PG_DUMP_FILE) || listed.has(`${PG_EXPORT_DIR}/sequences.json`)
      : listed.has(SNAPSHOT)
  if (!holds) throw new RestoreError('the backup is damaged: it holds no database')
  return m
}

export interface RestoreResult {
  manifest: Manifest
  /** Where the previous contents went (null: the folder held nothing). */
  movedAside: string | null
  warnings: string[]
}

/**
 * Checks `file` and restores it into `dataDir` (created if needed), or with `databaseUrl` a Postgres server's backup
 * into that empty database and its files into `dataDir`. Throws RestoreError with the reason.
 */
export async function restoreBackup(
  file: string,
  dataDir: string,
  opts: { databaseUrl?: string; pgDump?: string } = {},
): Promise<RestoreResult> {
  if (!existsSync(file)) throw new RestoreError(`no such file: ${file}`)
  mkdirSync(dataDir, { recursive: true })
  if (opts.databaseUrl) {
    const conn = new PgConn(opts.databaseUrl, { max: 1 })
    try {
      return await restorePostgres(file, dataDir, conn, opts.pgDump ?? 'auto')
    } catch (e) {
      if (e instanceof PgRestoreError) throw new RestoreError(e.message)
      throw e
    } finally {
      await conn.close()
    }
  }
  // Looked at before the lock check: opening the database to check it replays and removes a stale -wal.
  const warnings: string[] = []
  for (const n of ['-wal', '-shm'])
    if (existsSync(join(dataDir, DB_FILE + n)))
      warnings.push(`${DB_FILE}${n} was left beside the old database; it was moved aside with it`)
  if (databaseInUse(dataDir))
    throw new RestoreError(`a Townhall server is using ${dataDir} (its database is open): stop it, then restore`)
  const { stamp, staging } = stagingIn(dataDir)
  try {
    const manifest = await unpack(file, staging)
    if (manifest.database === 'postgres')
      throw new RestoreError(
        'this is the backup of a server on Postgres: set DATABASE_URL to a new, empty Postgres database and restore ' +
          'again',
      )
    const db = join(staging, SNAPSHOT)
    const integrity = integrityOf(db)
    if (integrity !== 'ok') throw new RestoreError(`the backup's database fails its integrity check: ${integrity}`)
    const conn = new Database(db, { readonly: true })
    const version = (() => {
      try {
        return schemaVersion(conn)
      } catch {
        return -1
      } finally {
        conn.close()
      }
    })()
    if (version > latestVersion())
      throw new RestoreError(
        `the backup's database is schema version ${version}, but this Townhall knows only up to ` +
          `${latestVersion()}: restore it with Townhall ${manifest.townhall} or newer`,
      )

    // Move aside what the folder holds: the database with its -wal and -shm (a -wal left by a server that stopped
    // abruptly belongs to that database only: beside the restored one it would corrupt it), and the data folders.
    const aside = join(dataDir, `replaced-${stamp}`)
    const present = [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`, ...DATA_FOLDERS].filter((n) =>
      existsSync(join(dataDir, n)),
    )
    const emptyUploads = present.length > 0 && present.every((n) => DATA_FOLDERS.includes(n as never))
    let movedAside: string | null = null
    if (present.length && !(emptyUploads && present.every((n) => isEmptyDir(join(dataDir, n))))) {
      mkdirSync(aside)
      for (const n of present) renameSync(join(dataDir, n), join(aside, n))
      movedAside = aside
    } else for (const n of present) rmSync(join(dataDir, n), { recursive: true, force: true })
    renameSync(db, join(dataDir, DB_FILE))
    for (const f of DATA_FOLDERS) if (existsSync(join(staging, f))) renameSync(join(staging, f), join(dataDir, f))
    return { manifest, movedAside, warnings }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/** A Postgres server's backup: its database into the empty one of `conn`, then its files into DATA_DIR. */
async function restorePostgres(file: string, dataDir: string, conn: PgConn, pgDump: string): Promise<RestoreResult> {
  // Before unpacking anything: a database in use is refused at once.
  await assertEmpty(conn)
  const { stamp, staging } = stagingIn(dataDir)
  try {
    const manifest = await unpack(file, staging)
    if (manifest.database !== 'postgres')
      throw new RestoreError(
        'this backup holds a SQLite database: restore it without DATABASE_URL, then copy it into Postgres with ' +
          '`townhall migrate-to-postgres`',
      )
    // All of the database or none of it; the files move only after it.
    await pgRestore(conn, staging, manifest, pgDump)
    const present = DATA_FOLDERS.filter((n) => existsSync(join(dataDir, n)) && !isEmptyDir(join(dataDir, n)))
    let movedAside: string | null = null
    if (present.length) {
      movedAside = join(dataDir, `replaced-${stamp}`)
      mkdirSync(movedAside)
      for (const n of present) renameSync(join(dataDir, n), join(movedAside, n))
    }
    for (const f of DATA_FOLDERS) {
      rmSync(join(dataDir, f), { recursive: true, force: true })
      if (existsSync(join(staging, f))) renameSync(join(staging, f), join(dataDir, f))
    }
    return { manifest, movedAside, warnings: [] }
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

function isEmptyDir(path: string): boolean {
  try {
    return readdirSync(path, { recursive: true, withFileTypes: true }).every((d) => d.isDirectory())
  } catch {
    return false
  }
}

/** A fresh staging folder in DATA_DIR for a restore (the caller removes it after), named with the restore's time. */
function stagingIn(dataDir: string) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const staging = join(dataDir, `.restore-${stamp}`)
  rmSync(staging, { recursive: true, force: true })
  mkdirSync(staging)
  return { stamp, staging }
}

/** Unpacks a backup into `staging` and checks every file against its manifest; returns the manifest. */
async function unpack(file: string, staging: string) {
  let got: Map<string, { size: number; sha256: string }>
  try {
    got = await extractTar(file, staging, allowed)
  } catch (e) {
    if (e instanceof TarError) throw new RestoreError(`the backup is damaged or not a Townhall backup: ${e.message}`)
    throw e
  }
  return checkManifest(staging, got)
}
