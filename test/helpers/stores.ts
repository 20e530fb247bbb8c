// The two databases a store contract suite runs on (test/integration/store-*.test.ts): SQLite (a real file, migrated
// as the server does, through the gate) always, and Postgres (a database on the throwaway cluster of
// test/helpers/postgres.ts, migrated by migratePg) when the cluster started. Each backend gives the connection a store
// is built on, another connection of the same kind (its transactions are not the store's), and users as fixtures
// (the users table is the accounts domain's: written here directly).
import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../server/db/open'
import { migratePg, PgConn } from '../../server/db/postgres'
import { SqliteGate } from '../../server/db/sqlite-gate'
import type { Transactor } from '../../server/db/store'
import type { TestPostgres } from './postgres'

export interface Backend<S> {
  store: S
  /** Another connection to the same kind of database. */
  other: Transactor
  /**
   * Postgres only: the store again on a second pool to the same database (another node's), and a third pool to read
   * what is committed (its own queries). Closed with the backend.
   */
  twin?: { store: S; sql: PgConn['sql'] }
  /** A member (a users row); its id. */
  addUser(name: string): Promise<number>
  /** An ended open room hosted by a member (a rooms row, the rooms domain's table); its id. */
  addRoom(hostId: number): Promise<number>
  close(): Promise<void>
}

const dirs: string[] = []

/** Removes the SQLite folders made so far (afterAll). */
export function removeSqliteDirs() {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

function sqliteDb() {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-store-'))
  dirs.push(dir)
  return openDatabase(dir)
}

export async function sqliteBackend<S>(make: (gate: SqliteGate) => S): Promise<Backend<S>> {
  const db = sqliteDb()
  const gate = new SqliteGate(db)
  const other = sqliteDb()
  return {
    store: make(gate),
    other: new SqliteGate(other),
    addUser: async (name) =>
      db
        .query<{ id: number }, [string, number]>(
          "INSERT INTO users (username, password_hash, created_at) VALUES (?, 'x', ?) RETURNING id",
        )
        .get(name, Date.now())!.id,
    addRoom: async (hostId) =>
      db
        .query<{ id: number }, [number, number, number]>(
          `INSERT INTO rooms (creator_id, host_id, title, kind, state, created_at)
           VALUES (?, ?, 'A room', 'open', 'ended', ?) RETURNING id`,
        )
        .get(hostId, hostId, Date.now())!.id,
    close: async () => {
      db.close()
      other.close()
    },
  }
}

let databases = 0
export async function pgBackend<S>(pg: TestPostgres, prefix: string, make: (conn: PgConn) => S): Promise<Backend<S>> {
  const url = await pg.database(`${prefix}_${++databases}`)
  const conn = new PgConn(url)
  await migratePg(conn.sql)
  const other = new PgConn(await pg.database(`${prefix}_${++databases}`))
  const second = new PgConn(url)
  const reader = new PgConn(url, { max: 1 })
  return {
    store: make(conn),
    other,
    twin: { store: make(second), sql: reader.sql },
    addUser: async (name) => {
      const [r] = await conn.sql`
        INSERT INTO users (username, password_hash, created_at) VALUES (${name}, 'x', ${Date.now()}) RETURNING id`
      return Number(r.id)
    },
    addRoom: async (hostId) => {
      const [r] = await conn.sql`
        INSERT INTO rooms (creator_id, host_id, title, kind, state, created_at)
        VALUES (${hostId}, ${hostId}, 'A room', 'open', 'ended', ${Date.now()}) RETURNING id`
      return Number(r.id)
    },
    close: async () => {
      await conn.close()
      await other.close()
      await second.close()
      await reader.close()
    },
  }
}

/**
 * Inside a contract suite's describe: `fresh()` closes the backend the last test used and makes a new one (each
 * test starts from an empty database); the last one is closed after the suite.
 */
export function freshBackend<B extends { close(): Promise<void> }>(make: () => Promise<B>): () => Promise<B> {
  let b: B | undefined
  afterAll(() => b?.close())
  return async () => {
    await b?.close()
    b = await make()
    return b
  }
}
