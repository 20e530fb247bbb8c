// The Postgres migrations: version N here is the same schema as ../000N_*.sql on SQLite, in Postgres's dialect
// (docs/ARCHITECTURE.md, "Stores"). Append-only once Postgres ships; the list catches up with SQLite's domain by
// domain (today: 0001, the accounts' and invites' tables).
import m0001 from './0001_init.sql' with { type: 'text' }

export const PG_MIGRATIONS: string[] = [m0001]
