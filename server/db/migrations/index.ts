// Append-only: each migration is a numbered SQL file embedded in the binary; its position is its version.
import m0001 from './0001_init.sql' with { type: 'text' }
import m0002 from './0002_rooms.sql' with { type: 'text' }
import m0003 from './0003_backchannel.sql' with { type: 'text' }
import m0004 from './0004_admin.sql' with { type: 'text' }
import m0005 from './0005_social_inbox.sql' with { type: 'text' }

export const MIGRATIONS: string[] = [m0001, m0002, m0003, m0004, m0005]
