// Backups: one tar file holding a consistent snapshot of the database (VACUUM INTO, safe while the server runs), the
// uploaded files, and last a manifest (Townhall and schema version, when, every file with its size and SHA-256).
// Scheduled backups keep the newest BACKUP_KEEP; a copy of the database is taken before migrations run. On Postgres
// (DATABASE_URL) the database part is a pg_dump or a logical export instead of the snapshot (backup-pg.ts).
import type { Database } from 'bun:sqlite'
import { Database as SqliteDatabase } from 'bun:sqlite'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs'
import { basename, join, relative, resolve, sep } from 'node:path'
import pkg from '../../package.json'
import type { Logger } from '../lib/log'
import { pgBackup } from './backup-pg'
import type { Conn } from './conn'
import { schemaVersion } from './migrate'
import { PgConn } from './postgres'
import { SqliteGate } from './sqlite-gate'
import { TarWriter, type TarEntry } from './tar'

export const MANIFEST = 'manifest.json'
export const SNAPSHOT = 'townhall.db'
/**
 * Folders of DATA_DIR a backup holds besides the database: the uploads, the replays and their clips, and the
 * recordings (each consenting speaker's capture file: a withdrawal after a restore mixes the replay again from them).
 */
export const DATA_FOLDERS = ['uploads', 'replays', 'recordings'] as const
/** A backup's file name: `townhall-<ISO time>.tar` (colons and dots as dashes). */
const BACKUP_NAME = /^townhall-[0-9A-Za-z-]{10,40}\.tar$/
/**
 * The copy of the database taken before migrating: `pre-migrate-<from>-to-<to>-<time>.db` (SQLite), `….tar` (a
 * Postgres backup).
 */
const PRE_MIGRATE_NAME = /^pre-migrate-\d+-to-\d+-[0-9A-Za-z-]{10,40}\.(db|tar)$/

export interface Manifest {
  format: 'townhall-backup'
  /** 1: a SQLite snapshot (townhall.db); 2: a Postgres database (`database`, `dump`). */
  formatVersion: 1 | 2
  townhall: string
  schemaVersion: number
  createdAt: string
  /** formatVersion 2: which database the backup holds. */
  database?: 'postgres'
  /** formatVersion 2: `pg_dump` (custom format, postgres.dump) or `logical` (postgres/<table>.jsonl). */
  dump?: 'pg_dump' | 'logical'
  files: TarEntry[]
}

export interface BackupResult {
  file: string
  name: string
  size: number
  files: number
  /** SQLite: `PRAGMA integrity_check` of the snapshot ("ok"); Postgres: how it was dumped (pg_dump, logical). */
  integrity: string
}

/** Options of a backup on Postgres: PG_DUMP (auto: pg_dump where found; off: the logical export; or its path). */
export interface BackupOptions {
  pgDump?: string
  /** Told when an automatic pg_dump failed and the logical export was taken instead. */
  warn?: (message: string) => void
}

export const backupDir = (dataDir: string) => join(dataDir, 'backups')
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-')

/** `PRAGMA integrity_check` of a database file opened read-only: "ok" when it is sound. */
export function integrityOf(file: string): string {
  const db = new SqliteDatabase(file, { readonly: true })
  try {
    return db
      .query<{ integrity_check: string }, []>('PRAGMA integrity_check')
      .all()
      .map((r) => r.integrity_check)
      .join('; ')
  } finally {
    db.close()
  }
}

/** Every regular file under a folder, as paths relative to `base` with forward slashes. */
function filesUnder(base: string, folder: string): string[] {
  const root = join(base, folder)
  if (!existsSync(root)) return []
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(base, join(d.parentPath, d.name)).split(sep).join('/'))
    .sort()
}

/**
 * The backup worker's module. From source, beside this file. In the compiled binary every bundled module's
 * import.meta.url is the binary's entry (/$bunfs/root/townhall) and the worker is the second entry point
 * (scripts/build.ts), stored by its path under server/: db/backup-worker (test/integration/binary.test.ts runs it).
 */
const WORKER = new URL(
  import.meta.url.startsWith('file:///$bunfs/') ? './db/backup-worker.ts' : './backup-worker.ts',
  import.meta.url,
).href

/** Thrown when a backup of the same data folder is already being written in this process (one at a time). */
export class BackupRunningError extends Error {}

/** The data folders whose backup this process is writing now (the console, the schedule and the CLI share it). */
const running = new Set<string>()

/**
 * Writes a backup of a running (or stopped) server: the database snapshot first, then the uploads, then the
 * manifest. The archive is written beside its final name and renamed when complete, so a listed backup is whole.
 * `file` defaults to DATA_DIR/backups/townhall-<time>.tar.
 *
 * The work happens off the server's thread [D60]: a Worker (server/db/backup-worker.ts) opens its own connection to
 * the WAL-mode database file and runs `VACUUM INTO` there (a read transaction: the server keeps writing meanwhile and
 * the snapshot is the database as of its start), then writes and hashes the tar. `signal` stops it at its next file
 * (the snapshot itself cannot be interrupted); its partial files are removed. One backup per data folder at a time
 * (BackupRunningError).
 */
export async function createBackup(
  source: Database | Conn,
  dataDir: string,
  file?: string,
  signal?: AbortSignal,
  opts: BackupOptions = {},
): Promise<BackupResult> {
  const key = resolve(dataDir)
  if (running.has(key)) throw new BackupRunningError('backup: a backup of this data folder is already being written')
  signal?.throwIfAborted()
  const target = file ?? join(backupDir(dataDir), `townhall-${stamp()}.tar`)
  // Postgres: pg_dump runs as a process of its own, the logical export streams rows through the pool (no worker).
  if (source instanceof PgConn) {
    running.add(key)
    try {
      return await pgBackup(source, dataDir, target, {
        pgDump: opts.pgDump ?? 'auto',
        stopped: () => !!signal?.aborted,
        signal,
        warn: opts.warn,
      })
    } finally {
      running.delete(key)
    }
  }
  const db = source instanceof SqliteGate ? source.db : source
  running.add(key)
  const worker = new Worker(WORKER)
  try {
    return await new Promise<BackupResult>((done, failed) => {
      const cancel = () => worker.postMessage({ type: 'cancel' } satisfies BackupRequest)
      signal?.addEventListener('abort', cancel, { once: true })
      const finish = () => signal?.removeEventListener('abort', cancel)
      worker.onmessage = (e: MessageEvent<BackupReply>) => {
        finish()
        if (e.data.ok) done(e.data.result)
        else failed(signal?.aborted ? new Error('backup: stopped', { cause: e.data.error }) : new Error(e.data.error))
      }
      worker.onerror = (e) => {
        finish()
        failed(new Error(`backup: the backup worker failed: ${e.message}`))
      }
      // A worker that ends without answering (it cannot load, it is killed): the backup fails rather than hang.
      worker.addEventListener('close', () => {
        finish()
        failed(new Error('backup: the backup worker ended without finishing'))
      })
      worker.postMessage({
        type: 'backup',
        dbFile: db.filename,
        dataDir,
        target,
      } satisfies BackupRequest)
    })
  } finally {
    worker.terminate()
    running.delete(key)
  }
}

/** What the server's thread asks the backup worker. */
export type BackupRequest = { type: 'backup'; dbFile: string; dataDir: string; target: string } | { type: 'cancel' }
/** What the backup worker answers, once. */
export type BackupReply = { ok: true; result: BackupResult } | { ok: false; error: string }

/**
 * The backup itself (run by the worker): a snapshot of the database file through a connection of its own, then the
 * tar. `stopped()` is asked before each file; when it says yes the backup ends with an error and leaves nothing.
 */
export async function writeBackup(
  dbFile: string,
  dataDir: string,
  target: string,
  stopped: () => boolean = () => false,
): Promise<BackupResult> {
  const dir = backupDir(dataDir)
  mkdirSync(dir, { recursive: true })
  const snapshot = join(dir, `.snapshot-${process.pid}-${crypto.randomUUID()}.db`)
  const check = () => {
    if (stopped()) throw new Error('backup: stopped')
  }
  try {
    const src = new SqliteDatabase(dbFile, { readwrite: true, create: false })
    try {
      src.exec('PRAGMA busy_timeout = 5000')
      src.query('VACUUM INTO ?').run(snapshot)
    } finally {
      src.close()
    }
    check()
    const integrity = integrityOf(snapshot)
    const version = (() => {
      const s = new SqliteDatabase(snapshot, { readonly: true })
      try {
        return schemaVersion(s)
      } finally {
        s.close()
      }
    })()
    const n = await writeArchive(
      dataDir,
      target,
      [{ name: SNAPSHOT, path: snapshot }],
      { schemaVersion: version },
      check,
    )
    return { file: target, name: basename(target), size: statSync(target).size, files: n, integrity }
  } finally {
    rmSync(snapshot, { force: true })
  }
}

/**
 * The archive of a backup, on either database: the database's files (`database`, written beforehand), then DATA_DIR's
 * folders, then the manifest; written beside `target` and renamed when whole. Returns how many files it holds.
 */
export async function writeArchive(
  dataDir: string,
  target: string,
  database: { name: string; path: string }[],
  about: Pick<Manifest, 'schemaVersion' | 'database' | 'dump'>,
  check: () => void,
): Promise<number> {
  const partial = `${target}.partial`
  let out: TarWriter | null = null
  try {
    out = await TarWriter.create(partial)
    const files: TarEntry[] = []
    for (const f of database) files.push((await out.addFile(f.name, f.path))!)
    for (const folder of DATA_FOLDERS)
      for (const name of filesUnder(dataDir, folder)) {
        check()
        // A file deleted since the listing (an avatar replaced) is left out; the manifest lists what was copied.
        const entry = await out.addFile(name, join(dataDir, name))
        if (entry) files.push(entry)
      }
    check()
    const manifest: Manifest = {
      format: 'townhall-backup',
      formatVersion: about.database ? 2 : 1,
      townhall: pkg.version,
      schemaVersion: about.schemaVersion,
      createdAt: new Date().toISOString(),
      ...(about.database ? { database: about.database, dump: about.dump } : {}),
      files,
    }
    await out.addBytes(MANIFEST, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`))
    await out.close()
    out = null
    renameSync(partial, target)
    return files.length
  } catch (e) {
    await out?.abort()
    rmSync(partial, { force: true })
    throw e
  }
}

export interface BackupInfo {
  name: string
  size: number
  createdAt: number
  kind: 'backup' | 'pre-migrate'
}

/** The backups in DATA_DIR/backups, newest first: full backups and the database copies taken before migrating. */
export function listBackups(dataDir: string): BackupInfo[] {
  let names: string[] = []
  try {
    names = readdirSync(backupDir(dataDir))
  } catch {
    return []
  }
  return names
    .filter((n) => BACKUP_NAME.test(n) || PRE_MIGRATE_NAME.test(n))
    .map((name) => {
      const st = statSync(join(backupDir(dataDir), name))
      return { name, size: st.size, createdAt: st.mtimeMs, kind: BACKUP_NAME.test(name) ? 'backup' : 'pre-migrate' }
    })
    .sort((a, b) => b.createdAt - a.createdAt || b.name.localeCompare(a.name)) as BackupInfo[]
}

/** Retention: keeps the newest `keep` full backups and deletes the older ones (pre-migrate copies are kept). */
function pruneBackups(dataDir: string, keep: number): string[] {
  const old = listBackups(dataDir)
    .filter((b) => b.kind === 'backup')
    .slice(keep)
  for (const b of old) unlinkSync(join(backupDir(dataDir), b.name))
  return old.map((b) => b.name)
}

/**
 * Before migrations change a database that already has data: a copy of it (VACUUM INTO) in DATA_DIR/backups, so an
 * upgrade can be undone by putting the old binary and this file back. Returns its path.
 */
export function preMigrateBackup(db: Database, dataDir: string, from: number, to: number): string {
  const dir = backupDir(dataDir)
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `pre-migrate-${from}-to-${to}-${stamp()}.db`)
  const partial = join(dir, `.${basename(file)}.partial`)
  db.query('VACUUM INTO ?').run(partial)
  renameSync(partial, file)
  return file
}

/**
 * Before migrations change a Postgres database that has data: a backup of it (as `townhall backup` makes, by pg_dump
 * or the logical export) in DATA_DIR/backups, `pre-migrate-<from>-to-<to>-<time>.tar`, kept like SQLite's copy (the
 * schedule's retention leaves it). `townhall restore` puts it into an empty database for the old binary.
 */
export function preMigratePgBackup(conn: PgConn, dataDir: string, from: number, to: number, pgDump: string) {
  const file = join(backupDir(dataDir), `pre-migrate-${from}-to-${to}-${stamp()}.tar`)
  return createBackup(conn, dataDir, file, undefined, { pgDump })
}

/**
 * Makes a backup every `everyMs` into DATA_DIR/backups and keeps the newest `keep`. The first one is due `everyMs`
 * after the newest backup there (or after start when there is none); a failure is logged and retried at the next turn.
 */
export class BackupSchedule {
  private timer: ReturnType<typeof setTimeout> | null = null
  private running: Promise<unknown> | null = null
  private abort = new AbortController()

  constructor(
    private readonly opts: {
      /** The database: bun:sqlite's connection, or the server's (core.conn: SQLite or Postgres). */
      db: Database | Conn
      dataDir: string
      /** Postgres: PG_DUMP. */
      pgDump?: string
      everyMs: number
      keep: number
      log: Logger
      /** Called after each scheduled backup (the audit log). */
      done?: (r: BackupResult, pruned: string[]) => void
    },
  ) {}

  start() {
    if (this.opts.everyMs <= 0) return
    const last = listBackups(this.opts.dataDir).find((b) => b.kind === 'backup')
    const due = (last?.createdAt ?? Date.now()) + this.opts.everyMs
    this.arm(Math.max(0, due - Date.now()))
  }

  private arm(ms: number) {
    // setTimeout holds at most ~24.8 days; a longer wait is taken in steps.
    const step = Math.min(ms, 2 ** 31 - 1)
    this.timer = setTimeout(() => {
      this.timer = null
      if (step < ms) return this.arm(ms - step)
      this.running = this.run().finally(() => {
        this.running = null
        if (this.stopped) return
        this.arm(this.opts.everyMs)
      })
    }, step)
  }

  private stopped = false

  /** One scheduled backup and the retention that follows it. */
  async run() {
    const { db, dataDir, keep, log } = this.opts
    try {
      const r = await createBackup(db, dataDir, undefined, this.abort.signal, {
        pgDump: this.opts.pgDump,
        warn: (message) => log.warn(message),
      })
      const pruned = pruneBackups(dataDir, keep)
      log.info(`backup: wrote ${r.file} (${r.files} files, ${r.size} bytes); removed ${pruned.length} old`)
      this.opts.done?.(r, pruned)
    } catch (error) {
      if (this.abort.signal.aborted) log.warn('backup: the scheduled backup was stopped with the server')
      else if (error instanceof BackupRunningError) log.warn('backup: skipped, another backup is being written')
      else log.error('backup: the scheduled backup failed', { error })
    }
  }

  /**
   * Stops the timer; a backup under way stops at its next file (its partial file is removed) rather than hold up the
   * server's stop, during which the rooms' seats wait for their owners.
   */
  async stop() {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.abort.abort()
    await this.running
  }

  get armed() {
    return this.timer !== null
  }
}
