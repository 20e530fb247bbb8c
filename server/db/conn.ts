// Which database a server runs on (docs/ARCHITECTURE.md, "Stores"): SQLite in DATA_DIR (the default), or Postgres
// with DATABASE_URL. Either way the stores are built on one Transactor, `core.conn`: a SqliteGate or a PgConn; each
// domain's index.ts picks its store class with `byDialect`. DATA_DIR holds the files on both (uploads, replays,
// recordings, backups).
import type { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase } from './open'
import { preMigratePgBackup } from './backup'
import { migratePgGuarded, PgConn } from './postgres'
import { SqliteGate } from './sqlite-gate'

/** The connection the stores are built on: its transactions, a health query, and closing it at stop. */
export type Conn = SqliteGate | PgConn

/** The store of the connection's dialect: `sqlite(gate)` or `pg(conn)`. */
export const byDialect = <S>(conn: Conn, sqlite: (gate: SqliteGate) => S, pg: (conn: PgConn) => S): S =>
  conn instanceof PgConn ? pg(conn) : sqlite(conn)

/** The folders DATA_DIR holds besides SQLite's database file. */
const FOLDERS = ['uploads', 'backups'] as const

/**
 * Opens the database the config names: DATA_DIR's SQLite file (created and migrated here, synchronously, as always),
 * or DATABASE_URL's Postgres pool (nothing connects until `migrateConn`, which startServer and the CLI await first).
 * `db` is SQLite's bun:sqlite connection, null on Postgres.
 */
export function openConn(config: { dataDir: string; databaseUrl: string }): { conn: Conn; db: Database | null } {
  if (!config.databaseUrl) {
    const db = openDatabase(config.dataDir)
    return { conn: new SqliteGate(db), db }
  }
  for (const sub of FOLDERS) mkdirSync(join(config.dataDir, sub), { recursive: true })
  return { conn: new PgConn(config.databaseUrl), db: null }
}

/**
 * Brings the database to this Townhall's schema before anything reads it: Postgres's migrations under their advisory
 * lock (nodes starting together migrate once), a backup of a database that has data taken first under the same lock
 * (`backedUp` is told its path); SQLite's already ran when it was opened, after its own copy. Returns the versions
 * applied.
 */
export async function migrateConn(
  conn: Conn,
  opts: { dataDir: string; pgDump: string; backedUp: (file: string, from: number, to: number) => void },
): Promise<number[]> {
  if (!(conn instanceof PgConn)) return []
  return migratePgGuarded(conn.sql, async (from, to) => {
    const r = await preMigratePgBackup(conn, opts.dataDir, from, to, opts.pgDump)
    opts.backedUp(r.file, from, to)
  })
}
