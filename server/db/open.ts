import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { migrate } from './migrate'

export const DB_FILE = 'townhall.db'

/** Opens (creating if needed) the data folder's database with the pragmas the server relies on, and migrates it. */
export function openDatabase(dataDir: string, opts: { migrate?: boolean } = {}): Database {
  mkdirSync(dataDir, { recursive: true })
  for (const sub of ['uploads', 'backups']) mkdirSync(join(dataDir, sub), { recursive: true })
  const db = new Database(join(dataDir, DB_FILE), { create: true, strict: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = FULL')
  db.exec('PRAGMA foreign_keys = ON')
  db.exec('PRAGMA busy_timeout = 5000')
  if (opts.migrate !== false) migrate(db)
  return db
}
