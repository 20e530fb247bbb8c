import type { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { mkdirSync } from 'node:fs'

/** Writes a consistent copy of the live database with VACUUM INTO (safe while the server runs). Returns its path. */
export function createBackup(db: Database, dataDir: string): string {
  const dir = join(dataDir, 'backups')
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const file = join(dir, `townhall-${stamp}.db`)
  db.query('VACUUM INTO ?').run(file)
  return file
}
