// The README documents every configuration variable, every CLI command, and the commands CI runs.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { OPTIONS } from '../../server/config'
import { configTable } from '../../scripts/config-table'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const ROOT = join(import.meta.dir, '..', '..')
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

test('[H15] every server/config.ts variable is in the README table with its default (scripts/config-table.ts)', () => {
  const lines = readme.split('\n')
  const wrong = Object.values(OPTIONS)
    .filter((o) => {
      const row = lines.find((l) => l.startsWith(`| \`${o.env}\``))
      return !row?.includes(o.default === '' ? '| — |' : `| \`${o.default}\` |`)
    })
    .map((o) => o.env)
  expect(wrong).toEqual([])
  // The generated table has the same rows (descriptions may lag until the script runs again).
  expect(configTable().split('\n').length).toBe(lines.filter((l) => /^\| `[A-Z_]+`/.test(l)).length + 2)
})

test('[H15] the README names every CLI command and the quick-start commands', () => {
  for (const c of [
    'townhall serve',
    'townhall admin create',
    'townhall invite create',
    'townhall backup',
    'townhall migrate',
    'townhall healthcheck',
    'townhall --help',
  ])
    expect(readme).toContain(c)
  expect(readme).toContain('npm install && npm start')
  expect(readme).toContain('npm install && npm test')
  expect(readme).toContain('docker run ')
})

test('[H15] CI runs the README test command', () => {
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
  expect(ci).toContain('npm test')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  expect(pkg.scripts.test).toContain('bun test')
  expect(pkg.devDependencies.bun).toMatch(/^\d+\.\d+\.\d+$/)
  // npm blocks dependency install scripts unless allowed; bun's only moves its platform binary into place
  // (@oven/bun-<platform>, an optional dependency). Without it, `npm test` in a fresh clone has no bun to run.
  expect(pkg.allowScripts?.bun).toBe(true)
})
