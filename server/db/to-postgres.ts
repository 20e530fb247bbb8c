// `townhall migrate-to-postgres URL` (issue 11): a one-way copy of a SQLite community into an empty Postgres
// database. The Postgres schema is brought to the SQLite database's version (server/db/migrations/pg), then in one
// Postgres transaction: the foreign keys are dropped, every table's rows are copied from one SQLite read transaction
// (a consistent snapshot, as a backup's), the foreign keys are added back (Postgres checks every row against them
// then), the identity sequences move past the copied ids and the counts are compared. Either all of it is in
// Postgres or none of it. Nothing is written to the SQLite file.
import type { Database } from 'bun:sqlite'
import type { SQL } from 'bun'
import { PG_MIGRATIONS } from './migrations/pg'
import { schemaVersion } from './migrate'
import { migratePg, pgSchemaVersion } from './postgres'

export class MigrateToPostgresError extends Error {}

interface CopyReport {
  schemaVersion: number
  tables: { name: string; rows: number }[]
  rows: number
  ms: number
}

interface PgColumn {
  table: string
  name: string
  type: string
  generated: boolean
  identity: boolean
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`
/** Rows per INSERT: within Postgres's 65,535 parameters, and small enough to keep each statement's memory low. */
const batchSize = (columns: number) => Math.max(1, Math.min(1000, Math.floor(60_000 / Math.max(1, columns))))

/**
 * The tables SQLite's schema holds, but its own, the FTS5 search index's (with bc_fts_mark: which messages bc_fts
 * holds; Postgres's generated search column needs no mark) and schema_version.
 */
function sqliteTables(db: Database): string[] {
  const rows = db
    .query<{ name: string; sql: string | null }, []>(
      "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all()
  const virtual = rows.filter((r) => /^CREATE VIRTUAL TABLE/i.test(r.sql ?? '')).map((r) => r.name)
  return rows
    .map((r) => r.name)
    .filter((n) => n !== 'schema_version' && !virtual.some((v) => n === v || n.startsWith(`${v}_`)))
}

/** A SQLite value as the Postgres column of `type` takes it. */
function toPg(v: unknown, type: string): unknown {
  if (v === null || v === undefined) return null
  if (type === 'boolean') return v === 1 || v === true || v === '1'
  if ((type === 'text' || type.startsWith('character')) && typeof v !== 'string') return String(v)
  return v
}

export async function copyToPostgres(db: Database, sql: SQL, log: (line: string) => void = () => {}) {
  const started = performance.now()
  const version = schemaVersion(db)
  if (version > PG_MIGRATIONS.length)
    throw new MigrateToPostgresError(
      `the SQLite database is at schema version ${version}; this Townhall's Postgres schema stops at ` +
        `${PG_MIGRATIONS.length}`,
    )
  const pgVersion = await pgSchemaVersion(sql)
  if (pgVersion > version)
    throw new MigrateToPostgresError(
      `the Postgres database is at schema version ${pgVersion}, newer than the SQLite one (${version}): ` +
        'upgrade the SQLite community first (start the server once, or `townhall migrate`)',
    )
  await migratePg(sql, PG_MIGRATIONS.slice(0, version))

  const columns = (await sql`
    SELECT c.table_name AS table, c.column_name AS name, c.data_type AS type,
           c.is_generated = 'ALWAYS' AS generated, c.is_identity = 'YES' AS identity
      FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_version'
     ORDER BY c.table_name, c.ordinal_position`) as PgColumn[]
  const pgTables = new Map<string, PgColumn[]>()
  for (const c of columns) pgTables.set(c.table, [...(pgTables.get(c.table) ?? []), c])

  const sqlite = sqliteTables(db)
  // A migration that forgot its Postgres side must not lose data silently.
  const missing = sqlite.filter((t) => !pgTables.has(t))
  if (missing.length)
    throw new MigrateToPostgresError(`no Postgres table for SQLite's ${missing.join(', ')}: nothing was copied`)
  const onlyPg = [...pgTables.keys()].filter((t) => !sqlite.includes(t))
  if (onlyPg.length) log(`Postgres-only tables, left empty: ${onlyPg.join(', ')}`)
  const tables = [...pgTables.keys()].filter((t) => sqlite.includes(t))

  // Empty: no row in any table with ids of its own (users, messages, rooms, …). A migration's own rows (the seq
  // counter's) are replaced by the copy.
  for (const t of new Set(columns.filter((c) => c.identity).map((c) => c.table))) {
    const [row] = await sql.unsafe(`SELECT EXISTS (SELECT 1 FROM ${ident(t)}) AS x`)
    if (row.x)
      throw new MigrateToPostgresError(
        `the Postgres database is not empty (table ${t} has rows): migrate-to-postgres copies into an empty one`,
      )
  }

  const report: CopyReport = { schemaVersion: version, tables: [], rows: 0, ms: 0 }
  // One read transaction: every table from the same snapshot, even while a server writes (WAL).
  db.exec('BEGIN')
  try {
    await sql.begin(async (tx) => {
      const fks = (await tx`
        SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def
          FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`) as {
        tbl: string
        name: string
        def: string
      }[]
      for (const fk of fks) await tx.unsafe(`ALTER TABLE ${fk.tbl} DROP CONSTRAINT ${ident(fk.name)}`)
      for (const t of tables) await tx.unsafe(`ALTER TABLE ${ident(t)} DISABLE TRIGGER USER`)

      for (const t of tables) {
        const cols = pgTables.get(t)!.filter((c) => !c.generated)
        const have = new Set(
          db
            .query<{ name: string }, []>(`SELECT name FROM pragma_table_info('${t.replace(/'/g, "''")}')`)
            .all()
            .map((c) => c.name),
        )
        const absent = cols.filter((c) => !have.has(c.name))
        if (absent.length)
          throw new MigrateToPostgresError(`SQLite's ${t} has no column ${absent.map((c) => c.name).join(', ')}`)
        const names = cols.map((c) => c.name)
        await tx.unsafe(`DELETE FROM ${ident(t)}`)
        const select = db.query<Record<string, unknown>, []>(`SELECT ${names.map(ident).join(', ')} FROM ${ident(t)}`)
        const size = batchSize(names.length)
        let batch: Record<string, unknown>[] = []
        let n = 0
        const flush = async () => {
          if (!batch.length) return
          await tx`INSERT INTO ${tx(t)} ${tx(batch, ...names)}`
          n += batch.length
          batch = []
        }
        for (const r of select.iterate()) {
          const out: Record<string, unknown> = {}
          for (const c of cols) out[c.name] = toPg(r[c.name], c.type)
          batch.push(out)
          if (batch.length >= size) await flush()
        }
        await flush()
        const expected = db.query<{ n: number }, []>(`SELECT count(*) AS n FROM ${ident(t)}`).get()!.n
        const [got] = await tx.unsafe(`SELECT count(*)::bigint AS n FROM ${ident(t)}`)
        if (Number(got.n) !== expected || n !== expected)
          throw new MigrateToPostgresError(`${t}: ${expected} rows in SQLite, ${Number(got.n)} in Postgres`)
        report.tables.push({ name: t, rows: n })
        report.rows += n
        log(`${t}: ${n} rows`)
      }

      for (const t of tables) await tx.unsafe(`ALTER TABLE ${ident(t)} ENABLE TRIGGER USER`)
      // Postgres checks every copied row against each key here: a dangling reference stops the whole copy.
      for (const fk of fks) await tx.unsafe(`ALTER TABLE ${fk.tbl} ADD CONSTRAINT ${ident(fk.name)} ${fk.def}`)
      // New rows on Postgres take ids after the copied ones.
      for (const c of columns.filter((c) => c.identity && tables.includes(c.table)))
        await tx.unsafe(
          `SELECT setval(pg_get_serial_sequence('${ident(c.table)}', '${c.name}'),
                         GREATEST(COALESCE(MAX(${ident(c.name)}), 0), 1), MAX(${ident(c.name)}) IS NOT NULL)
             FROM ${ident(c.table)}`,
        )
      await afterCopy(tx)
    })
  } finally {
    db.exec('COMMIT')
  }
  report.ms = Math.round(performance.now() - started)
  return report
}

/**
 * What moves other than row by row: Backchannel's seq, a sequence on Postgres beside the counter row copied from
 * SQLite (pg/0003_backchannel.sql), continues after the last seq handed out.
 */
async function afterCopy(tx: SQL) {
  const [seq] = await tx`SELECT 1 AS x FROM pg_class WHERE relkind = 'S' AND relname = 'bc_seq'`
  if (!seq) return
  const [counter] = await tx`SELECT seq FROM bc_counter WHERE id = 1`
  const last = Number(counter?.seq ?? 0)
  await tx`SELECT setval('bc_seq', ${Math.max(last, 1)}, ${last > 0})`
}
