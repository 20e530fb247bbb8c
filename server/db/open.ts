import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { latestVersion, migrate, schemaVersion } from './migrate'
import { preMigrateBackup } from './backup'

export const DB_FILE = 'townhall.db'
/** SQLite's page cache per connection (KiB). */
export const CACHE_KIB = 65536
/** WAL pages after which a commit checkpoints (SQLite's default is 1,000). */
export const CHECKPOINT_PAGES = 10000

/** Opens (creating if needed) the data folder's database with the pragmas the server relies on, and migrates it. */
export function openDatabase(dataDir: string, opts: { migrate?: boolean } = {}): Database {
  mkdirSync(dataDir, { recursive: true })
  for (const sub of ['uploads', 'backups']) mkdirSync(join(dataDir, sub), { recursive: true })
  const db = new Database(join(dataDir, DB_FILE), { create: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = FULL')
  db.exec('PRAGMA foreign_keys = ON')
  db.exec('PRAGMA busy_timeout = 5000')
  // Under load (B63): a page cache that holds the hot pages of Backchannel's indexes (up to 64 MiB, taken as pages are
  // used), and a checkpoint every ~40 MB of WAL rather than every 4 MB, so that the commit that runs it copies each hot
  // page once for many commits. Durability is unchanged: every commit still waits for the WAL's fsync.
  db.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  db.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT_PAGES}`)
  if (opts.migrate !== false) migrateWithBackup(db, dataDir)
  return db
}

/**
 * Applies the pending migrations; when the database already holds data at an older schema, a copy of it is taken
 * first (DATA_DIR/backups/pre-migrate-<from>-to-<to>-<time>.db). Returns the versions applied.
 */
export function migrateWithBackup(db: Database, dataDir: string): number[] {
  const from = schemaVersion(db)
  if (from > 0 && from < latestVersion()) preMigrateBackup(db, dataDir, from, latestVersion())
  return migrate(db)
}
