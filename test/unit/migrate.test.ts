// [H9] Migrations: each in its own transaction, recorded in schema_version; a failing one leaves nothing behind;
// a newer database is refused; the pragmas the server relies on.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate, schemaVersion, SchemaTooNewError } from '../../server/db/migrate'
import { MIGRATIONS } from '../../server/db/migrations'
import { CACHE_KIB, CHECKPOINT_PAGES, openDatabase } from '../../server/db/open'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const dir = mkdtempSync(join(tmpdir(), 'townhall-migrate-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const tables = (db: Database) =>
  db
    .query<{ name: string }, []>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
    .all()
    .map((r) => r.name)

test('[H9] each migration runs once, in order, and is recorded', () => {
  const db = new Database(':memory:')
  const list = ['CREATE TABLE a (x)', 'CREATE TABLE b (y)']
  expect(migrate(db, list)).toEqual([1, 2])
  expect(migrate(db, list)).toEqual([])
  expect(migrate(db, [...list, 'CREATE TABLE c (z)'])).toEqual([3])
  expect(schemaVersion(db)).toBe(3)
  expect(tables(db)).toEqual(['a', 'b', 'c', 'schema_version'])
  db.close()
})

test('[H9] a failing migration is rolled back whole and stops the ones after it', () => {
  const db = new Database(':memory:')
  const list = ['CREATE TABLE a (x)', 'CREATE TABLE half (x); INSERT INTO nowhere VALUES (1)', 'CREATE TABLE c (z)']
  expect(() => migrate(db, list)).toThrow('migration 2 failed and was rolled back')
  expect(schemaVersion(db)).toBe(1)
  expect(tables(db)).toEqual(['a', 'schema_version'])
  db.close()
})

test('[H9] a database newer than the migrations is refused', () => {
  const db = new Database(':memory:')
  migrate(db, ['CREATE TABLE a (x)', 'CREATE TABLE b (x)'])
  expect(() => migrate(db, ['CREATE TABLE a (x)'])).toThrow(SchemaTooNewError)
  db.close()
})

test('[H9] [B63] openDatabase: WAL, synchronous FULL, foreign keys, busy wait, cache, checkpoint, migrated', () => {
  const db = openDatabase(join(dir, 'd'))
  const pragma = (p: string) => Object.values(db.query(`PRAGMA ${p}`).get() as object)[0]
  expect(pragma('journal_mode')).toBe('wal')
  expect(pragma('synchronous')).toBe(2)
  expect(pragma('foreign_keys')).toBe(1)
  expect(pragma('busy_timeout')).toBe(5000)
  expect(pragma('cache_size')).toBe(-CACHE_KIB)
  expect(pragma('wal_autocheckpoint')).toBe(CHECKPOINT_PAGES)
  expect(schemaVersion(db)).toBe(MIGRATIONS.length)
  expect(tables(db)).toEqual(expect.arrayContaining(['users', 'sessions', 'invites', 'follows', 'blocks', 'settings']))
  db.close()
})
