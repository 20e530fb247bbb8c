// The settings store: its contract (SettingsStore, asynchronous: docs/ARCHITECTURE.md, "Stores") and its SQLite
// implementation through the gate. The Postgres one is store-pg.ts; test/integration/store-settings.test.ts runs the
// same tests against both. SettingsService (index.ts) caches what it reads.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'

/** The settings table: JSON text by key. */
export interface SettingsStore extends Transactor {
  /** Every row, by key. */
  all(tx?: Tx): Promise<{ key: string; value: string }[]>
  get(key: string, tx?: Tx): Promise<string | null>
  /** Writes (inserts or replaces) the value of a key. */
  set(key: string, value: string, tx?: Tx): Promise<void>
  /** Writes the value only if the key has none: false when it had one (another node was first). Atomic. */
  setIfAbsent(key: string, value: string, tx?: Tx): Promise<boolean>
}

const statements = (gate: SqliteGate) => ({
  all: gate.db.prepare<{ key: string; value: string }, []>('SELECT key, value FROM settings ORDER BY key'),
  get: gate.db.prepare<{ value: string }, [string]>('SELECT value FROM settings WHERE key = ?'),
  set: gate.db.prepare<never, [string, string]>(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  ),
  setIfAbsent: gate.db.prepare<never, [string, string]>(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING',
  ),
})

export class SqliteSettingsStore implements SettingsStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  all(tx?: Tx) {
    return this.gate.run(tx, () => this.q.all.all())
  }
  get(key: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.get.get(key)?.value ?? null)
  }
  set(key: string, value: string, tx?: Tx) {
    return this.gate.run(tx, () => {
      this.q.set.run(key, value)
    })
  }
  setIfAbsent(key: string, value: string, tx?: Tx) {
    return this.gate.run(tx, () => this.q.setIfAbsent.run(key, value).changes === 1)
  }
}
