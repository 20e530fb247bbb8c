import { Database } from 'bun:sqlite'
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

/** Opens a backup read-only and runs `PRAGMA integrity_check`; "ok" when the copy is sound. */
export function verifyBackup(file: string): string {
  const db = new Database(file, { readonly: true })
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
