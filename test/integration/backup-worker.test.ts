// [D60]–[D61] A backup does not stop the server: the snapshot (VACUUM INTO) and the tar are written by a worker with
// its own connection, so while a backup of a large database is being written, /healthz answers, a WebSocket ping
// makes its round trip and writes commit; and the snapshot is consistent (integrity, a pair of tables written in one
// transaction have the same count). Ordering assertions only: what completes before what, never how long.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { BackupRunningError, createBackup } from '../../server/db/backup'
import { backupDatabase } from '../helpers/backup'
import { TEST_LIMIT } from '../helpers/limits'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
/** Rows of 16 KiB of random bytes: about 160 MiB, so that the snapshot takes a noticeable while. */
const ROWS = 10_000

beforeAll(async () => {
  s = await startTestServer()
  const db = s.ctx.core.db
  db.exec('CREATE TABLE test_bulk (id INTEGER PRIMARY KEY, data BLOB NOT NULL)')
  db.exec('CREATE TABLE test_pair_a (id INTEGER PRIMARY KEY)')
  db.exec('CREATE TABLE test_pair_b (id INTEGER PRIMARY KEY)')
  db.exec(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS})
     INSERT INTO test_bulk (id, data) SELECT i, randomblob(16384) FROM n`,
  )
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
})
afterAll(async () => {
  await s.stop()
})

const backups = () => readdirSync(join(s.dataDir, 'backups'))
const turn = () => new Promise<void>((r) => setImmediate(r))

test('[D60] while a backup of a large database is written, /healthz, a WebSocket ping and writes go on', async () => {
  const admin = await signedInClient(s, 'bwadmin', 'admin')
  const ws = await connectWs(s.url, { cookie: admin.cookie })
  const db = s.ctx.core.db
  const pair = db.transaction((i: number) => {
    db.query('INSERT INTO test_pair_a (id) VALUES (?)').run(i)
    db.query('INSERT INTO test_pair_b (id) VALUES (?)').run(i)
  })
  const order: string[] = []
  let finished = false
  const made = admin.post('/api/admin/backups').then((r) => {
    finished = true
    order.push('backup')
    return r
  })
  // The snapshot is under way once its file exists; the tar (`.partial`) is only started after it.
  while (!finished && !backups().some((n) => n.startsWith('.snapshot-'))) await turn()
  expect(finished).toBe(false)
  const snapshotting = () => {
    const names = backups()
    return !finished && names.some((n) => n.startsWith('.snapshot-')) && !names.some((n) => n.endsWith('.partial'))
  }
  const health = fetch(`${s.url}/healthz`).then(async (r) => {
    expect(r.status).toBe(200)
    order.push(snapshotting() ? 'healthz during the snapshot' : 'healthz')
  })
  const ping = ws.request('ping').then((r) => {
    expect(r.ok).toBe(true)
    order.push(snapshotting() ? 'ping during the snapshot' : 'ping')
  })
  // Writes go on: one pair of rows per turn of the event loop, each pair in one transaction.
  let written = 0
  let duringSnapshot = 0
  while (!finished) {
    pair(++written)
    if (snapshotting()) duringSnapshot++
    await turn()
  }
  await Promise.all([health, ping])
  const res = await made
  expect(res.status).toBe(201)
  expect(res.json.backup.integrity).toBe('ok')
  // The server answered while the snapshot was being taken, well before the backup was done.
  expect(order).toContain('healthz during the snapshot')
  expect(order).toContain('ping during the snapshot')
  expect(order.at(-1)).toBe('backup')
  expect(duringSnapshot).toBeGreaterThan(0)
  ws.close()

  // The snapshot is consistent: sound, every bulk row, and the pairs whole (a transaction is in or out).
  const copy = new Database(await backupDatabase(join(s.dataDir, 'backups', res.json.backup.name)), { readonly: true })
  try {
    expect(copy.query<{ integrity_check: string }, []>('PRAGMA integrity_check').get()!.integrity_check).toBe('ok')
    const count = (t: string) => copy.query<{ n: number }, []>(`SELECT COUNT(*) AS n FROM ${t}`).get()!.n
    expect(count('test_bulk')).toBe(ROWS)
    expect(count('test_pair_a')).toBe(count('test_pair_b'))
    expect(count('test_pair_a')).toBeLessThanOrEqual(written)
    const users = copy.query<{ n: number }, [string]>('SELECT COUNT(*) AS n FROM users WHERE username = ?')
    expect(users.get('bwadmin')!.n).toBe(1)
  } finally {
    copy.close()
  }
  // The server's own database has every pair.
  expect(db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM test_pair_b').get()!.n).toBe(written)
  // Nothing left behind: no snapshot, no partial file.
  expect(backups().filter((n) => n.startsWith('.') || n.endsWith('.partial'))).toEqual([])
})

test('[D61] one backup at a time: a second one meanwhile is refused; a stopped one leaves nothing', async () => {
  const admin = await signedInClient(s, 'bwadmin2', 'admin')
  const first = admin.post('/api/admin/backups')
  while (!backups().some((n) => n.startsWith('.snapshot-'))) await turn()
  await expect(createBackup(s.ctx.core.db, s.dataDir)).rejects.toBeInstanceOf(BackupRunningError)
  const second = await admin.post('/api/admin/backups')
  expect(second.status).toBe(409)
  expect(second.json.error.code).toBe('backup_running')
  expect((await first).status).toBe(201)

  // Stopped (the server's stop): the worker ends at its next file and removes its partial files.
  const stop = new AbortController()
  const target = join(s.dataDir, 'stopped.tar')
  const running = createBackup(s.ctx.core.db, s.dataDir, target, stop.signal)
  while (!backups().some((n) => n.startsWith('.snapshot-'))) await turn()
  stop.abort()
  await expect(running).rejects.toThrow('stopped')
  expect(existsSync(target)).toBe(false)
  expect(existsSync(`${target}.partial`)).toBe(false)
  expect(backups().filter((n) => n.startsWith('.'))).toEqual([])
})
