// `bun run bench`: every benchmark in test/bench, one after another, each in its own process.
// A bench is a file test/bench/<name>.ts; helpers it spawns are named <name>-server.ts (or -worker, -child) and
// are not run on their own. Arguments after `--` go to every bench; `bun run bench -- foundation` runs only those
// whose name contains one of the given words.
import { readdirSync } from 'node:fs'
import { basename, join } from 'node:path'

const HELPER = /-(server|worker|child|helper)\.ts$/
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const files = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith('.ts') && f !== basename(import.meta.path) && !HELPER.test(f) && !f.endsWith('.d.ts'))
  .filter((f) => only.length === 0 || only.some((w) => f.includes(w)))
  .sort((a, b) => (a === 'foundation.ts' ? -1 : b === 'foundation.ts' ? 1 : a.localeCompare(b)))

let failed = 0
for (const f of files) {
  console.log(`\n=== bench: ${f.replace(/\.ts$/, '')} ===`)
  const t0 = performance.now()
  const p = Bun.spawn([process.execPath, join(import.meta.dir, f)], {
    stdout: 'inherit',
    stderr: 'inherit',
    env: process.env,
  })
  const code = await p.exited
  console.log(
    `=== ${f}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  if (code !== 0) failed++
}
console.log(`\n${files.length - failed} of ${files.length} benches ran${failed ? `, ${failed} failed` : ''}.`)
process.exit(failed ? 1 : 0)
