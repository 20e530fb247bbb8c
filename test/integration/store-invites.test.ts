// The invites store contract (server/invites/store.ts), one suite run twice: on SQLite (a real database file,
// migrated as the server does, through the gate) always, and on Postgres (a throwaway cluster,
// test/helpers/postgres.ts, migrated by migratePg) when it can start. Both must behave the same: rows, atomic spends
// and revokes, transactions that commit or roll back as one, and statements outside a transaction that neither see
// nor join it. Then the Postgres schema against SQLite's at the same version, and the Postgres migration runner.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { SQL } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MIGRATIONS } from '../../server/db/migrations'
import { PG_MIGRATIONS } from '../../server/db/migrations/pg'
import { migrate } from '../../server/db/migrate'
import { openDatabase } from '../../server/db/open'
import { migratePg, PgConn, pgSchemaVersion } from '../../server/db/postgres'
import { SqliteGate } from '../../server/db/sqlite-gate'
import type { Transactor } from '../../server/db/store'
import { SqliteInvitesStore, type InvitesStore, type NewInvite } from '../../server/invites/store'
import { PgInvitesStore } from '../../server/invites/store-pg'
import { hashToken, newToken } from '../../server/lib/crypto'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

interface Backend {
  store: InvitesStore
  /** Another store's connection to the same kind of database (its transactions are not this store's). */
  other: Transactor
  /** A user row to own invites (the users table is the accounts domain's: written here directly, as a fixture). */
  addUser(name: string): Promise<number>
  close(): Promise<void>
}

const dirs: string[] = []
function sqliteDb(): Database {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-store-'))
  dirs.push(dir)
  return openDatabase(dir)
}

async function sqliteBackend(): Promise<Backend> {
  const db = sqliteDb()
  const gate = new SqliteGate(db)
  return {
    store: new SqliteInvitesStore(gate),
    other: new SqliteGate(sqliteDb()),
    addUser: async (name) =>
      db
        .query<{ id: number }, [string, number]>(
          "INSERT INTO users (username, password_hash, created_at) VALUES (?, 'x', ?) RETURNING id",
        )
        .get(name, Date.now())!.id,
    close: async () => db.close(),
  }
}

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

let pgDatabases = 0
async function pgBackend(): Promise<Backend> {
  const conn = new PgConn(await pg!.database(`store_invites_${++pgDatabases}`))
  await migratePg(conn.sql)
  const other = new PgConn(await pg!.database(`store_invites_${++pgDatabases}`))
  return {
    store: new PgInvitesStore(conn),
    other,
    addUser: async (name) => {
      const [r] = await conn.sql`
        INSERT INTO users (username, password_hash, created_at) VALUES (${name}, 'x', ${Date.now()}) RETURNING id`
      return Number(r.id)
    },
    close: async () => {
      await conn.close()
      await other.close()
    },
  }
}

const invite = (over: Partial<NewInvite> = {}): NewInvite => ({
  creatorId: null,
  tokenHash: hashToken(newToken()),
  usesAllowed: 1,
  expiresAt: null,
  note: '',
  ...over,
})

function contract(name: 'sqlite' | 'postgres', make: () => Promise<Backend>) {
  describe(`invites store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] an invite reads back whole by id and by its hash, in one shape (numbers, bytes, nulls)', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const before = Date.now()
      const i = invite({ creatorId: ann, usesAllowed: 3, expiresAt: before + 60_000, note: 'book club' })
      const id = await store.insert(i)
      expect(Number.isInteger(id)).toBe(true)
      const row = await store.byId(id)
      expect(row).toEqual({
        id,
        creator_id: ann,
        token_hash: i.tokenHash,
        uses_allowed: 3,
        uses: 0,
        expires_at: before + 60_000,
        revoked_at: null,
        note: 'book club',
        created_at: expect.any(Number),
      })
      expect(row!.token_hash).toBeInstanceOf(Uint8Array)
      expect(row!.created_at).toBeGreaterThanOrEqual(before)
      expect(await store.byHash(i.tokenHash)).toEqual(row)
      const cli = await store.byId(await store.insert(invite()))
      expect(cli!.creator_id).toBeNull()
      expect(cli!.expires_at).toBeNull()
      expect(await store.byId(id + 1000)).toBeNull()
      expect(await store.byHash(hashToken('nobody has this'))).toBeNull()
    })

    test('[H70] use spends one use at a time and refuses once used up, also when many spend at once', async () => {
      const { store } = await fresh()
      const two = await store.insert(invite({ usesAllowed: 2 }))
      expect(await store.use(two)).toBe(true)
      expect(await store.use(two)).toBe(true)
      expect(await store.use(two)).toBe(false)
      expect((await store.byId(two))!.uses).toBe(2)
      // Ten sign-ups racing for the last use, each in its own transaction: exactly one gets it.
      const one = await store.insert(invite())
      const won = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => store.use(one, tx))))
      expect(won.filter(Boolean)).toHaveLength(1)
      expect((await store.byId(one))!.uses).toBe(1)
      expect(await store.use(one + 1000)).toBe(false)
    })

    test('[H70] revoke marks it once: a second revoke, or one of a missing invite, is false', async () => {
      const { store } = await fresh()
      const id = await store.insert(invite())
      const before = Date.now()
      const twice = await Promise.all([store.revoke(id), store.revoke(id)])
      expect(twice.filter(Boolean)).toHaveLength(1)
      expect((await store.byId(id))!.revoked_at).toBeGreaterThanOrEqual(before)
      expect(await store.revoke(id)).toBe(false)
      expect(await store.revoke(id + 1000)).toBe(false)
    })

    test('[H70] list: one creator’s invites or everyone’s, newest first', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const a1 = await store.insert(invite({ creatorId: ann }))
      const b1 = await store.insert(invite({ creatorId: ben }))
      const a2 = await store.insert(invite({ creatorId: ann }))
      const c1 = await store.insert(invite())
      expect((await store.list(ann)).map((r) => r.id)).toEqual([a2, a1])
      expect((await store.list(ben)).map((r) => r.id)).toEqual([b1])
      expect((await store.list(null)).map((r) => r.id)).toEqual([c1, a2, b1, a1])
      expect((await store.list(null))[0]!.token_hash).toBeInstanceOf(Uint8Array)
    })

    test('[H70] pending: members’ invites usable at a time (not revoked, used up, expired or the CLI’s)', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const now = Date.now()
      const open = await store.insert(invite({ creatorId: ann, usesAllowed: 2 }))
      const later = await store.insert(invite({ creatorId: ann, expiresAt: now + 60_000 }))
      await store.insert(invite({ creatorId: ann, expiresAt: now })) // expired at `now`
      const usedUp = await store.insert(invite({ creatorId: ann }))
      await store.use(usedUp)
      const revoked = await store.insert(invite({ creatorId: ann }))
      await store.revoke(revoked)
      await store.insert(invite()) // the CLI's
      await store.use(open) // one of two uses left
      expect(await store.pending(now)).toEqual([
        { id: open, creator_id: ann },
        { id: later, creator_id: ann },
      ])
      expect(await store.pending(now + 60_000)).toEqual([{ id: open, creator_id: ann }])
    })

    test('[H70] a transaction commits as one, and rolls back every statement when it throws', async () => {
      const { store } = await fresh()
      const id = await store.transaction(async (tx) => {
        const id = await store.insert(invite({ usesAllowed: 2 }), tx)
        expect(await store.use(id, tx)).toBe(true)
        expect((await store.byId(id, tx))!.uses).toBe(1)
        return id
      })
      expect((await store.byId(id))!.uses).toBe(1)

      const lost = invite()
      const failed = store.transaction(async (tx) => {
        await store.insert(lost, tx)
        await store.use(id, tx)
        await store.revoke(id, tx)
        throw new Error('refused')
      })
      await expect(failed).rejects.toThrow('refused')
      expect(await store.byHash(lost.tokenHash)).toBeNull()
      expect(await store.byId(id)).toMatchObject({ uses: 1, revoked_at: null })
    })

    test('[H70] a statement outside an open transaction neither sees its writes nor rolls back with it', async () => {
      const { store } = await fresh()
      let hold!: () => void
      const held = new Promise<void>((r) => {
        hold = r
      })
      let inside!: () => void
      const started = new Promise<void>((r) => {
        inside = r
      })
      const mine = invite()
      const theirs = invite()
      const tx = store.transaction(async (tx) => {
        await store.insert(mine, tx)
        inside()
        await held // the transaction stays open while the others run
        throw new Error('rolled back')
      })
      await started
      const seen = store.byHash(mine.tokenHash)
      const written = store.insert(theirs)
      hold()
      await expect(tx).rejects.toThrow('rolled back')
      expect(await seen).toBeNull()
      const id = await written
      expect((await store.byHash(theirs.tokenHash))!.id).toBe(id)
      expect(await store.byHash(mine.tokenHash)).toBeNull()
    })

    test('[H70] a transaction of another database is refused, and so is a transaction that has ended', async () => {
      const { store, other } = await fresh()
      await expect(other.transaction((tx) => store.insert(invite(), tx))).rejects.toThrow('another database')
      expect(await store.list(null)).toEqual([])
      let ended: Parameters<Parameters<InvitesStore['transaction']>[0]>[0] | null = null
      await store.transaction(async (tx) => {
        ended = tx
      })
      await expect(store.insert(invite(), ended!)).rejects.toThrow()
      expect(await store.list(null)).toEqual([])
    })
  })
}

contract('sqlite', sqliteBackend)
describe.skipIf(!pg)('postgres', () => {
  contract('postgres', pgBackend)

  test('[H70] Postgres has SQLite’s tables, columns, types, nullability and indexes at the same version', async () => {
    // SQLite at the last version Postgres has too.
    const at = new Database(':memory:')
    migrate(at, MIGRATIONS.slice(0, PG_MIGRATIONS.length))
    const sql = new SQL({ url: await pg!.database('store_schema'), max: 1 })
    try {
      await migratePg(sql)
      // Full-text search differs on purpose (pg/0003 and pg/0005 say how): SQLite's FTS5 virtual tables (bc_fts,
      // room_fts) and the shadow tables FTS5 keeps for them are Postgres's generated `search` columns (a tsvector)
      // and their GIN indexes; SQLite's bc_fts_mark (0010: which messages bc_fts holds) has nothing to mark here.
      // Everything else is the same.
      const ftsTable = /_fts(_(data|idx|docsize|config|content|mark))?$/
      const pgSearchColumn = 'search'
      const pgSearchIndexes = ['bc_messages_search', 'rooms_search']
      const liteTables = at
        .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((t) => t.name)
        .filter((n) => !ftsTable.test(n))
      const pgTables = (
        await sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`
      ).map((t: { name: string }) => t.name)
      expect(pgTables).toEqual(liteTables)
      expect(liteTables).toContain('invites')
      expect(liteTables).toContain('clips')
      // Types loosely: whole numbers (INTEGER there; INTEGER or BIGINT here), text, bytes, floating point.
      const liteKind = (t: string) => ({ INTEGER: 'int', TEXT: 'text', BLOB: 'bytes', REAL: 'float' })[t] ?? t
      const pgKind = (t: string) =>
        ({ integer: 'int', bigint: 'int', text: 'text', bytea: 'bytes', 'double precision': 'float' })[t] ?? t
      for (const table of liteTables) {
        const liteCols = at
          .query<{ name: string; type: string; notnull: number; pk: number }, []>(`PRAGMA table_info(${table})`)
          .all()
          .map((c) => `${c.name} ${liteKind(c.type)}${c.notnull || c.pk ? ' not null' : ''}`)
        const pgCols = (
          await sql`SELECT column_name AS name, data_type AS type, is_nullable AS n FROM information_schema.columns
                     WHERE table_schema = 'public' AND table_name = ${table} ORDER BY ordinal_position`
        )
          .filter((c: { name: string }) => c.name !== pgSearchColumn)
          .map(
            (c: { name: string; type: string; n: string }) =>
              `${c.name} ${pgKind(c.type)}${c.n === 'NO' ? ' not null' : ''}`,
          )
        expect({ table, columns: pgCols }).toEqual({ table, columns: liteCols })
      }
      // The search columns are where pg/0003 and pg/0005 put them, generated.
      const search = await sql`SELECT table_name AS t FROM information_schema.columns WHERE table_schema = 'public'
                                 AND column_name = ${pgSearchColumn} AND is_generated = 'ALWAYS' ORDER BY 1`
      expect(search.map((c: { t: string }) => c.t)).toEqual(['bc_messages', 'rooms'])
      // Named indexes (SQLite's automatic ones for UNIQUE and keys are Postgres's constraints).
      const liteIndexes = at
        .query<{ name: string }, []>(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .all()
        .map((i) => i.name)
      const pgIndexes = (
        await sql`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'
                   AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY 1`
      ).map((i: { name: string }) => i.name)
      expect(pgIndexes).toEqual(expect.arrayContaining(pgSearchIndexes))
      // users_username is Postgres's form of SQLite's `UNIQUE COLLATE NOCASE` on the column.
      expect(pgIndexes.filter((n: string) => n !== 'users_username' && !pgSearchIndexes.includes(n))).toEqual(
        liteIndexes,
      )
      // Case is ignored in usernames, as on SQLite.
      await sql`INSERT INTO users (username, password_hash, created_at) VALUES ('Ann', 'x', 1)`
      await expect(sql`INSERT INTO users (username, password_hash, created_at) VALUES ('aNN', 'x', 1)`).rejects.toThrow(
        'users_username',
      )
    } finally {
      at.close()
      await sql.close()
    }
  })

  test('[H70] migratePg applies each version once, also from two nodes at once; refuses a newer database', async () => {
    const url = await pg!.database('store_migrate')
    const a = new SQL({ url, max: 2 })
    const b = new SQL({ url, max: 2 })
    try {
      const [fromA, fromB] = await Promise.all([migratePg(a), migratePg(b)])
      expect([...fromA, ...fromB].sort((x, y) => x - y)).toEqual(PG_MIGRATIONS.map((_, i) => i + 1))
      expect(await pgSchemaVersion(a)).toBe(PG_MIGRATIONS.length)
      expect(await migratePg(a)).toEqual([])
      const [count] = await a`SELECT count(*)::int AS n FROM schema_version`
      expect(count.n).toBe(PG_MIGRATIONS.length)
      await a`INSERT INTO schema_version (version, applied_at) VALUES (${PG_MIGRATIONS.length + 1}, 0)`
      await expect(migratePg(b)).rejects.toThrow('upgrade Townhall')
      // A migration that fails leaves nothing behind.
      await a`DELETE FROM schema_version WHERE version = ${PG_MIGRATIONS.length + 1}`
      const broken = [...PG_MIGRATIONS, 'CREATE TABLE half_done (id INTEGER); SELECT no_such_function();']
      await expect(migratePg(a, broken)).rejects.toThrow('rolled back')
      const [half] = await a`SELECT to_regclass('half_done') AS t`
      expect(half.t).toBeNull()
      expect(await pgSchemaVersion(a)).toBe(PG_MIGRATIONS.length)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
