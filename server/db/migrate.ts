import type { Database } from 'bun:sqlite'
import { MIGRATIONS } from './migrations'

export class SchemaTooNewError extends Error {}

export function schemaVersion(db: Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)')
  const row = db.query<{ v: number | null }, []>('SELECT MAX(version) AS v FROM schema_version').get()
  return row?.v ?? 0
}

export const latestVersion = () => MIGRATIONS.length

/**
 * Applies the embedded migrations that the database has not seen, each in its own transaction.
 * Refuses a database written by a newer Townhall. Returns the versions applied.
 */
export function migrate(db: Database, migrations: readonly string[] = MIGRATIONS): number[] {
  const current = schemaVersion(db)
  if (current > migrations.length) {
    throw new SchemaTooNewError(
      `database schema is version ${current}, ` +
        `but this Townhall knows only up to ${migrations.length}: upgrade Townhall`,
    )
  }
  const applied: number[] = []
  migrations.forEach((sql, i) => {
    const version = i + 1
    if (version <= current) return
    try {
      db.transaction(() => {
        db.exec(sql)
        db.query('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(version, Date.now())
      })()
    } catch (e) {
      throw new Error(`migrate: migration ${version} failed and was rolled back: ${(e as Error).message}`, { cause: e })
    }
    applied.push(version)
  })
  return applied
}
