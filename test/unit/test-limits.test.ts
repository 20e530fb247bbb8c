// The suite holds on a busy machine (CONTRIBUTING.md): every test file sets its limit (bun ignores bunfig's timeout
// and would give each test 5 s), no test sets a limit of its own below it, and pages wait for events, not for time.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { TEST_LIMIT, WAIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const ROOT = join(import.meta.dir, '..')
const files = (readdirSync(ROOT, { recursive: true }) as string[]).filter((f) => f.endsWith('.test.ts')).sort()
const source = (f: string) => readFileSync(join(ROOT, f), 'utf8')

test('every test file sets its default limit to TEST_LIMIT, above every wait', () => {
  expect(TEST_LIMIT).toBeGreaterThanOrEqual(3 * WAIT)
  expect(files.length).toBeGreaterThan(20)
  expect(files.filter((f) => !/^setDefaultTimeout\(TEST_LIMIT\)$/m.test(source(f)))).toEqual([])
})

test('no test or hook sets a limit below TEST_LIMIT; no page waits a fixed time; no wait has its own limit', () => {
  const found: string[] = []
  for (const f of files) {
    source(f)
      .split('\n')
      .forEach((line, i) => {
        const at = `${relative(ROOT, join(ROOT, f))}:${i + 1}`
        const own = /^\s*\}, ([\d_]+)\)$/.exec(line) // the third argument of test() / beforeAll()
        if (own && Number(own[1]!.replaceAll('_', '')) < TEST_LIMIT) found.push(`${at} a limit of ${own[1]}`)
        if (/waitForTimeout\(/.test(line)) found.push(`${at} waitForTimeout`)
        if (/\{ timeout: [\d_]+ \}/.test(line)) found.push(`${at} a Playwright timeout (the context's is WAIT)`)
        const wsLimit = /\.waitClosed\([\d_]+\)|\.(next|request)\(.*,\s*[\d_]+\)/
        if (wsLimit.test(line)) found.push(`${at} a WebSocket wait with its own limit`)
      })
  }
  expect(found).toEqual([])
})
