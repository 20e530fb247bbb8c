// The SQLite gate (server/db/sqlite-gate.ts) on a real in-memory database: transactions one at a time in the order
// they were asked for, statements outside a transaction held until it ends, and the mistakes that would otherwise hang
// (a statement inside a transaction without its tx, a nested transaction) failing at once with a clear message.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { SqliteGate } from '../../server/db/sqlite-gate'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

function gate() {
  const db = new Database(':memory:', { strict: true })
  db.exec('CREATE TABLE log (what TEXT NOT NULL)')
  const g = new SqliteGate(db)
  const add = (what: string) => db.query('INSERT INTO log (what) VALUES (?)').run(what)
  const all = () =>
    db
      .query<{ what: string }, []>('SELECT what FROM log ORDER BY rowid')
      .all()
      .map((r) => r.what)
  return { db, g, add, all }
}

test('[H70] transactions run one at a time, in order, and a statement outside waits for the open one', async () => {
  const { g, add, all } = gate()
  const tick = () => new Promise<void>((r) => setTimeout(r, 1))
  const first = g.transaction(async (tx) => {
    await g.run(tx, () => add('a1'))
    await tick() // real time passes: the others must still wait
    await g.run(tx, () => add('a2'))
  })
  const outside = g.run(undefined, () => add('outside'))
  const second = g.transaction(async (tx) => {
    await g.run(tx, () => add('b1'))
  })
  await Promise.all([first, outside, second])
  expect(all()).toEqual(['a1', 'a2', 'outside', 'b1'])
})

test('[H70] a statement inside a transaction without its tx, or a nested transaction, fails at once', async () => {
  const { g, db, add, all } = gate()
  await expect(
    g.transaction(async (tx) => {
      await g.run(tx, () => add('kept?'))
      await g.run(undefined, () => add('forgot tx'))
    }),
  ).rejects.toThrow('was not given its tx')
  await expect(g.transaction(() => g.transaction(async () => {}))).rejects.toThrow('do not nest')
  expect(all()).toEqual([]) // both rolled back
  expect(db.inTransaction).toBe(false)
  // The gate is free again.
  await g.transaction(async (tx) => g.run(tx, () => add('after')))
  expect(all()).toEqual(['after'])
})
