// The Postgres migrations: version N here is the same schema as ../000N_*.sql on SQLite, in Postgres's dialect
// (docs/ARCHITECTURE.md, "Stores"): the same tables, columns and indexes, except full-text search (FTS5 tables there,
// a generated tsvector column `search` with a GIN index here: bc_messages in 0003, rooms in 0005; SQLite's mark of
// the messages indexed, bc_fts_mark in 0010, has no table here) and the sequence bc_seq (0003) for Backchannel's seq
// across nodes. Every version of SQLite's has its file; append-only once Postgres ships.
import m0001 from './0001_init.sql' with { type: 'text' }
import m0002 from './0002_rooms.sql' with { type: 'text' }
import m0003 from './0003_backchannel.sql' with { type: 'text' }
import m0004 from './0004_admin.sql' with { type: 'text' }
import m0005 from './0005_social_events.sql' with { type: 'text' }
import m0006 from './0006_bc_media.sql' with { type: 'text' }
import m0007 from './0007_ops_data.sql' with { type: 'text' }
import m0008 from './0008_social_inbox.sql' with { type: 'text' }
import m0009 from './0009_replays.sql' with { type: 'text' }
import m0010 from './0010_bc_search_deferred.sql' with { type: 'text' }
import m0011 from './0011_setup_token.sql' with { type: 'text' }

export const PG_MIGRATIONS: string[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0009, m0010, m0011]
