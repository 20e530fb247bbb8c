// The asynchronous store contracts over the one bun:sqlite connection. SQLite statements stay synchronous underneath;
// what needs care is the transaction: an async transaction stays open across `await`s, and on one connection any
// statement run meanwhile by other code would fall inside it (and be rolled back with it). So the gate serialises:
// one transaction at a time (FIFO), and a statement outside any transaction waits while one is open. A statement
// given the open transaction's `Tx` runs at once. (Kysely's SQLite driver does the same with its connection mutex.)
//
// Every store goes through the gate (the Backchannel's, the last one converted, with its search index's own
// transaction), so no other request's statement can run inside an open transaction: what runs between two awaits of
// a transaction without its Tx waits for it to end (or throws, when started from inside it). Keep transactions short
// all the same and await only store calls inside them. `tx.afterCommit` hooks run after the gate is released: they
// may run statements of their own.
import type { Database } from 'bun:sqlite'
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Transactor, Tx } from './store'

class SqliteTx implements Tx {
  readonly dialect = 'sqlite'
  open = true
  readonly committed: (() => void | Promise<void>)[] = []
  constructor(readonly gate: SqliteGate) {}
  afterCommit(fn: () => void | Promise<void>) {
    this.committed.push(fn)
  }
}

export class SqliteGate implements Transactor {
  /** The transaction holding the connection, if any. */
  private current: SqliteTx | null = null
  /** Resolves when the current transaction ends. */
  private ended: Promise<void> = Promise.resolve()
  /** Which transaction (if any) the running code was started from: a statement there without its Tx is a bug. */
  private readonly context = new AsyncLocalStorage<SqliteTx>()

  readonly dialect = 'sqlite'
  constructor(readonly db: Database) {}

  /** The health check's query (throws when the database cannot answer). */
  async ping() {
    await this.run(undefined, () => this.db.query('SELECT 1').get())
  }

  async close() {
    this.db.close()
  }

  /**
   * Runs `statement` (synchronous bun:sqlite calls) on the connection: at once inside `tx`, or outside any
   * transaction once none is open.
   */
  async run<T>(tx: Tx | undefined, statement: () => T): Promise<T> {
    if (tx) return this.runNow(tx, statement)
    while (this.current) {
      if (this.context.getStore() === this.current)
        throw new Error('store: a statement inside transaction() was not given its tx (it would wait for itself)')
      await this.ended
    }
    return statement()
  }

  /**
   * Runs `statement` at once (synchronously) inside the open transaction `tx`: the synchronous twins of a store's
   * calls (the batched send's inner loop) go through here, so they too run only inside their own transaction.
   */
  runNow<T>(tx: Tx, statement: () => T): T {
    if (!(tx instanceof SqliteTx) || tx.gate !== this) throw new Error('store: a transaction of another database')
    if (!tx.open) throw new Error('store: the transaction has already ended')
    return statement()
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    while (this.current) {
      if (this.context.getStore() === this.current) throw new Error('store: transactions do not nest')
      await this.ended
    }
    const tx = new SqliteTx(this)
    const result = await this.hold(tx, fn)
    // After the gate is free: the hooks may run statements of their own.
    for (const hook of tx.committed) await hook()
    return result
  }

  private async hold<T>(tx: SqliteTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
    let end!: () => void
    this.current = tx
    this.ended = new Promise((r) => {
      end = r
    })
    try {
      // IMMEDIATE: the write lock is taken now, so another connection (the backup worker's) cannot make us fail
      // half-way with SQLITE_BUSY on the first write.
      this.db.exec('BEGIN IMMEDIATE')
      try {
        const result = await this.context.run(tx, () => fn(tx))
        this.db.exec('COMMIT')
        return result
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK')
        throw e
      }
    } finally {
      tx.open = false
      this.current = null
      end()
    }
  }
}
