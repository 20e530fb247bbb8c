// How long the server stops answering during a backup: a real server (in this process) with a large database
// (STALL_DB_MB of 16 KiB random rows, default 210) and STALL_UPLOADS files of 1 MiB (default 200); /healthz is asked
// over and over (one at a time) while a backup is written, once on the server's thread (as before D60: the same
// work, VACUUM INTO and the tar, without the worker) and once through createBackup (the worker).
// Usage: bun test/bench/backup-stall.ts   Reports, for each, the backup's time and /healthz's p50, p99 and worst wait;
// the last line is one JSON object.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { backupDir, createBackup, writeBackup } from '../../server/db/backup'
import { startTestServer } from '../helpers/server'

const DB_MB = Number(process.env.STALL_DB_MB ?? 210)
const UPLOADS = Number(process.env.STALL_UPLOADS ?? 200)

const s = await startTestServer()
const db = s.ctx.core.db
db.exec('CREATE TABLE bench_bulk (id INTEGER PRIMARY KEY, data BLOB NOT NULL)')
db.exec(
  `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${DB_MB * 64})
   INSERT INTO bench_bulk (id, data) SELECT i, randomblob(16384) FROM n`,
)
db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
const uploads = join(s.dataDir, 'uploads', 'backchannel')
mkdirSync(uploads, { recursive: true })
for (let i = 0; i < UPLOADS; i++)
  writeFileSync(join(uploads, `bench-${i}.bin`), crypto.getRandomValues(new Uint8Array(1 << 20)))

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

async function measure(label: string, backup: () => Promise<{ file: string; size: number }>) {
  let done = false
  const waits: number[] = []
  const probe = (async () => {
    while (!done) {
      const t = performance.now()
      await (await fetch(`${s.url}/healthz`)).arrayBuffer()
      waits.push(performance.now() - t)
    }
  })()
  const t0 = performance.now()
  const r = await backup()
  const ms = performance.now() - t0
  done = true
  await probe
  rmSync(r.file, { force: true })
  waits.sort((a, b) => a - b)
  const row = {
    label,
    backupMs: Math.round(ms),
    tarMB: Math.round(r.size / 1e6),
    healthz: waits.length,
    p50: +pct(waits, 50).toFixed(1),
    p99: +pct(waits, 99).toFixed(1),
    worst: Math.round(waits.at(-1)!),
  }
  console.log(
    `${label}: backup ${row.backupMs} ms (${row.tarMB} MB); /healthz ×${row.healthz}: ` +
      `p50 ${row.p50} ms, p99 ${row.p99} ms, worst ${row.worst} ms`,
  )
  return row
}

const target = () => join(backupDir(s.dataDir), `bench-${crypto.randomUUID()}.tar`)
const rows = [
  await measure('on the server thread (before)', () => writeBackup(db.filename, s.dataDir, target())),
  await measure('in the backup worker (after)', () => createBackup(db, s.dataDir, target())),
]
await s.stop()
console.log(JSON.stringify({ dbMB: DB_MB, uploads: UPLOADS, rows }))
