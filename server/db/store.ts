// What every store contract is built on (docs/ARCHITECTURE.md, "Stores"): a store's methods are asynchronous, and a
// service that needs several statements to hold together opens a transaction on the database's connection and passes
// its `Tx` to every store call that belongs to it, in any domain. Two implementations: SqliteGate (the one bun:sqlite
// connection, server/db/sqlite-gate.ts) and PgConn (a Bun.SQL pool, server/db/postgres.ts).

/** A transaction in progress, opaque to services: they only pass it on to store calls (and to other domains). */
export interface Tx {
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * Runs `fn` once the transaction has committed (never after a rollback), before `transaction()` resolves, in the
   * order given: what must only follow a committed write (a node-local cache, a message to the other nodes).
   */
  afterCommit(fn: () => void | Promise<void>): void
}

export interface Transactor {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws (the error is rethrown).
   * Inside, await only store calls given `tx` (and other domains' methods given it): no network, no timers, no
   * password hashing; the transaction holds the database (SQLite: the whole connection) until it ends.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>
}
