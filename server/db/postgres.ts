// The store contracts' Postgres side: a Bun.SQL pool, its transactions (`sql.begin`: the callback's client is the
// Tx's), the migrations of server/db/migrations/pg (schema_version as on SQLite) and the conversions every Postgres
// store shares. A server runs on it with DATABASE_URL (server/db/conn.ts).
import { SQL } from 'bun'
import { PG_MIGRATIONS } from './migrations/pg'
import { SchemaTooNewError } from './migrate'
import type { Transactor, Tx } from './store'

class PgTx implements Tx {
  readonly dialect = 'postgres'
  readonly committed: (() => void | Promise<void>)[] = []
  constructor(
    readonly conn: PgConn,
    readonly sql: SQL,
  ) {}
  afterCommit(fn: () => void | Promise<void>) {
    this.committed.push(fn)
  }
}

export class PgConn implements Transactor {
  readonly dialect = 'postgres'
  readonly sql: SQL
  constructor(
    /** DATABASE_URL (with its password: never logged; pg_dump is given the password by its environment). */
    readonly url: string,
    opts: { max?: number } = {},
  ) {
    this.sql = new SQL({ url, max: opts.max ?? 10 })
  }

  /** The health check's query (throws when the database cannot answer). */
  async ping() {
    await this.sql`SELECT 1`
  }

  /** The client a statement runs on: the transaction's, or the pool. */
  on(tx: Tx | undefined): SQL {
    if (!tx) return this.sql
    if (!(tx instanceof PgTx) || tx.conn !== this) throw new Error('store: a transaction of another database')
    return tx.sql
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    let tx!: PgTx
    const result = (await this.sql.begin((client) => fn((tx = new PgTx(this, client))))) as T
    for (const hook of tx.committed) await hook()
    return result
  }

  /** Several statements as one: in the transaction given, else in one of their own. */
  atomic<T>(tx: Tx | undefined, fn: (tx: Tx) => Promise<T>): Promise<T> {
    return tx ? fn(tx) : this.transaction(fn)
  }

  close() {
    return this.sql.close({ timeout: 5 })
  }
}

/** int8 columns (ids, millisecond times) arrive as strings from Bun.SQL: as numbers (they stay below 2^53). */
export const int = (v: unknown): number => Number(v)
export const intOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))
/** bytea arrives as a Buffer: as a plain Uint8Array, what bun:sqlite gives for a BLOB. */
export const bytes = (v: Uint8Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice()

// Any constant: the advisory lock that lets one node at a time migrate.
const MIGRATE_LOCK = 7_470_001

/** The schema version of a Postgres database (0: empty). */
export function pgSchemaVersion(sql: SQL): Promise<number> {
  // Under the lock: two nodes' `CREATE TABLE IF NOT EXISTS` at once can still collide.
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`
    const [row] = await tx`SELECT MAX(version) AS v FROM schema_version`
    return (row?.v as number | null) ?? 0
  })
}

/**
 * migratePg, with `beforeMigrating(from, to)` first when a database that has data is at an older schema (the backup
 * taken before migrating), all under one hold of the migration's advisory lock by a connection of its own: of nodes
 * starting together one backs up and migrates, the others wait for it and then find nothing pending.
 */
export async function migratePgGuarded(
  sql: SQL,
  beforeMigrating: (from: number, to: number) => Promise<unknown>,
  migrations: readonly string[] = PG_MIGRATIONS,
): Promise<number[]> {
  const held = await sql.reserve()
  try {
    await held`SELECT pg_advisory_lock(${MIGRATE_LOCK})`
    try {
      // The transaction-level holds of pgSchemaVersion and migratePg, on this same session, are granted at once.
      const from = await pgSchemaVersion(held)
      if (from > 0 && from < migrations.length) await beforeMigrating(from, migrations.length)
      return await migratePg(held, migrations)
    } finally {
      await held`SELECT pg_advisory_unlock(${MIGRATE_LOCK})`
    }
  } finally {
    held.release()
  }
}

/**
 * Applies the Postgres migrations the database has not seen, each in its own transaction under an advisory lock (nodes
 * starting together migrate once). Refuses a database written by a newer Townhall. Returns the versions applied.
 */
export async function migratePg(sql: SQL, migrations: readonly string[] = PG_MIGRATIONS): Promise<number[]> {
  const current = await pgSchemaVersion(sql)
  if (current > migrations.length)
    throw new SchemaTooNewError(
      `database schema is version ${current}, ` +
        `but this Townhall knows only up to ${migrations.length}: upgrade Townhall`,
    )
  const applied: number[] = []
  for (let i = current; i < migrations.length; i++) {
    const version = i + 1
    try {
      const done = await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATE_LOCK})`
        const [row] = await tx`SELECT 1 AS x FROM schema_version WHERE version = ${version}`
        if (row) return false // another node applied it meanwhile
        await tx.unsafe(migrations[i]!)
        await tx`INSERT INTO schema_version (version, applied_at) VALUES (${version}, ${Date.now()})`
        return true
      })
      if (done) applied.push(version)
    } catch (e) {
      throw new Error(`migrate: migration ${version} failed and was rolled back: ${(e as Error).message}`, { cause: e })
    }
  }
  return applied
}
