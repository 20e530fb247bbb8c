// `npm run lint`, last step: no line of code longer than 120 characters. Biome's formatter wraps code but never
// strings, template literals or comments, so this finds what it leaves: path:line, as compilers print it.
// Checks every file git tracks except prose (Markdown), the lockfile and binaries.
const MAX = 120
const SKIP = /(\.md|\.png|\.ico|\.jpg|\.webp|package-lock\.json)$/
/** Released migrations are never edited (CONTRIBUTING.md). */
const FROZEN = new Set(['server/db/migrations/0003_backchannel.sql'])

const ls = Bun.spawnSync(['git', 'ls-files', '-z'], { cwd: `${import.meta.dir}/..` })
if (ls.exitCode !== 0) throw new Error(`long-lines: git ls-files failed: ${ls.stderr.toString()}`)
const files = ls.stdout
  .toString()
  .split('\0')
  .filter((f) => f && !SKIP.test(f) && !FROZEN.has(f))

let found = 0
for (const file of files) {
  const f = Bun.file(`${import.meta.dir}/../${file}`)
  if (!(await f.exists())) continue // deleted, not yet committed
  const text = await f.text()
  text.split('\n').forEach((line, i) => {
    const length = [...line].length
    if (length > MAX) {
      found++
      console.log(`${file}:${i + 1}: ${length} characters`)
    }
  })
}
if (found > 0) {
  console.log(`long-lines: ${found} line(s) over ${MAX} characters (wrap the string, template or comment)`)
  process.exit(1)
}
