// The client's HTTP seam: components call the typed functions of client/app (one module per domain); only those
// modules use the low-level helper client/app/api.ts, and only that helper calls fetch (the service worker aside).
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const CLIENT = join(import.meta.dir, '..', '..', 'client')
const files = (pattern: string) => [...new Bun.Glob(pattern).scanSync({ cwd: CLIENT })].sort()
const source = (file: string) => readFileSync(join(CLIENT, file), 'utf8')

test('no component imports client/app/api.ts or calls fetch', () => {
  const components = files('components/**/*.ts')
  expect(components.length).toBeGreaterThan(10)
  const offenders = components.filter((f) => /from '[./]*\/app\/api'/.test(source(f)) || /\bfetch\(/.test(source(f)))
  expect(offenders).toEqual([])
})

test('in client/app, only api.ts calls fetch, and every call through it names what it returns', () => {
  const offenders: string[] = []
  for (const f of files('app/*.ts').filter((x) => x !== 'app/api.ts')) {
    const s = source(f)
    if (/\bfetch\(/.test(s)) offenders.push(`${f}: fetch`)
    // The helpers this module imports from ./api, each called with its result type: get<T>(…), never get(…).
    const names =
      /import \{([^}]*)\} from '\.\/api'/
        .exec(s)?.[1]
        ?.split(',')
        .map((n) => n.trim()) ?? []
    const calls = names.filter((n) => ['api', 'get', 'post', 'put', 'patch', 'del'].includes(n))
    if (!calls.length) continue
    const untyped = new RegExp(`(?<![.\\w$])(?:${calls.join('|')})\\(`, 'g')
    for (const m of s.matchAll(untyped)) offenders.push(`${f}: untyped call at ${m.index}`)
  }
  expect(offenders).toEqual([])
})
