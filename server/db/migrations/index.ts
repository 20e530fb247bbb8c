// Append-only: each migration is a numbered SQL file embedded in the binary; its position is its version.
import m0001 from './0001_init.sql' with { type: 'text' }

export const MIGRATIONS: string[] = [m0001]
