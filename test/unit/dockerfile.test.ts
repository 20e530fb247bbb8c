// [H12] The Dockerfile, checked statically (there is no Docker engine here): dockerfile-utils' linter finds nothing,
// and the properties the image promises are there.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { validate } from 'dockerfile-utils'
import { OPTIONS } from '../../server/config'
import { ALLOCATOR_ENV, allocatorHint } from '../../server/lib/allocator'
import pkg from '../../package.json'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const ROOT = join(import.meta.dir, '..', '..')
const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')

/** Instructions as [KEYWORD, arguments], continuation lines joined, comments dropped. */
function instructions(src: string): [string, string][] {
  const out: [string, string][] = []
  let cur = ''
  for (const line of src.split('\n')) {
    if (/^\s*#/.test(line) && !cur) continue
    cur += line.replace(/\\\s*$/, ' ')
    if (/\\\s*$/.test(line)) continue
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(cur.trim())
    if (m) out.push([m[1]!.toUpperCase(), m[2]!.replace(/\s+/g, ' ').trim()])
    cur = ''
  }
  return out
}
const ins = instructions(text)
const all = (k: string) => ins.filter(([kw]) => kw === k).map(([, a]) => a)
/** Instructions of the last stage (the image that runs). */
const runtime = ins.slice(ins.map(([k]) => k).lastIndexOf('FROM'))
const inRuntime = (k: string) => runtime.filter(([kw]) => kw === k).map(([, a]) => a)

test('[H12] dockerfile-utils finds no problem', () => {
  expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([])
})

test('[H12] multi-stage: the binary is built in oven/bun (the pinned version) and runs on slim Debian', () => {
  const froms = all('FROM')
  expect(froms.length).toBeGreaterThanOrEqual(2)
  expect(froms[0]).toMatch(new RegExp(`^oven/bun:${pkg.devDependencies.bun.replace(/\./g, '\\.')}\\b.* AS build$`))
  expect(froms.at(-1)).toMatch(/^debian:[\w.-]+-slim\b/)
  expect(all('RUN').some((r) => r.includes('scripts/build.ts'))).toBe(true)
  expect(inRuntime('COPY')).toContain('--from=build /src/dist/townhall /usr/local/bin/townhall')
  // Nothing but the binary comes into the runtime image from the build.
  expect(inRuntime('COPY').length).toBe(1)
})

test('[H12] a non-root user, data in the /data volume', () => {
  const user = inRuntime('USER')
  expect(user.length).toBe(1)
  expect(user[0]).not.toMatch(/^(root|0)(:|$)/)
  expect(inRuntime('RUN').join(' ')).toContain(`useradd --system --uid 10001`)
  expect(inRuntime('VOLUME')).toEqual(['/data'])
  expect(inRuntime('ENV').join(' ')).toMatch(/\bDATA_DIR=\/data\b/)
  // The user is set after the steps that need root.
  const kws = runtime.map(([k]) => k)
  expect(kws.indexOf('USER')).toBeGreaterThan(kws.lastIndexOf('RUN'))
})

test('[H12] [M30] ports: HTTP on PORT/tcp, all audio on the same number over UDP (RTC_PORT = PORT)', () => {
  const exposed = inRuntime('EXPOSE').join(' ').split(' ')
  expect(exposed).toContain(`${OPTIONS.port.default}/tcp`)
  expect(OPTIONS.rtcPort.default).toBe('')
  expect(exposed).toContain(`${OPTIONS.port.default}/udp`)
  expect(exposed.filter((p) => p.includes('-'))).toEqual([]) // no port range any more
  const env = inRuntime('ENV').join(' ')
  expect(env).toContain(`PORT=${OPTIONS.port.default}`)
  expect(env).not.toContain('RTC_PORT_MIN')
})

test('[H12] HEALTHCHECK runs `townhall healthcheck`; the entrypoint is the binary', () => {
  const hc = inRuntime('HEALTHCHECK')
  expect(hc.length).toBe(1)
  expect(hc[0]).toMatch(/CMD \["townhall", "healthcheck"\]$/)
  expect(hc[0]).toMatch(/--interval=\d+s/)
  expect(inRuntime('ENTRYPOINT')[0]).toContain('"townhall"')
  expect(inRuntime('CMD')).toEqual(['["serve"]'])
})

test('[H12] .dockerignore keeps node_modules, data and build output out of the context', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
  for (const p of ['node_modules', 'data', 'dist', 'client/dist', '.git']) expect(ignored).toContain(p)
  // …but not what the build stage copies.
  for (const p of ['server', 'client', 'scripts', 'package.json', 'package-lock.json']) expect(ignored).not.toContain(p)
})

test('[H87] the image, `npm start` and `npm run dev` run the server with the allocator keeping freed memory', () => {
  const env = inRuntime('ENV').join(' ')
  for (const [k, v] of Object.entries(ALLOCATOR_ENV)) {
    expect(env).toContain(`${k}=${v}`)
    // The scripts give the same value unless the operator set one.
    for (const script of [pkg.scripts.start, pkg.scripts.dev]) expect(script).toStartWith(`${k}=\${${k}:-${v}} bun `)
  }
  // A server started without it says so at start; with it (or any value the operator chose), nothing.
  expect(allocatorHint({})).toContain('MIMALLOC_PURGE_DELAY=-1')
  expect(allocatorHint({ ...ALLOCATOR_ENV })).toBeNull()
  expect(allocatorHint({ MIMALLOC_PURGE_DELAY: '10' })).toBeNull()
})
