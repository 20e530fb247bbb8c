// The settings store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-settings.test.ts).
import type { PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { SettingsStore } from './store'

export class PgSettingsStore implements SettingsStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  async all(tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT key, value FROM settings ORDER BY key`
    return rows.map((r: { key: string; value: string }) => ({ key: r.key, value: r.value }))
  }
  async get(key: string, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT value FROM settings WHERE key = ${key}`
    return row ? (row.value as string) : null
  }
  async set(key: string, value: string, tx?: Tx) {
    await this.conn.on(tx)`
      INSERT INTO settings (key, value) VALUES (${key}, ${value})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`
  }
  async setIfAbsent(key: string, value: string, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      INSERT INTO settings (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO NOTHING RETURNING key`
    return rows.length === 1
  }
}
