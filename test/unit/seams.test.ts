// The seams between the domains, read off the source: every table is touched by its own domain only, only the hub
// holds a socket, and every domain is built by one constructor that app.ts calls.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const SERVER = join(import.meta.dir, '..', '..', 'server')
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
const sources = files(SERVER).map((p) => ({ path: relative(SERVER, p), text: readFileSync(p, 'utf8') }))

/** Which domain owns each table (the migrations create them). */
const OWNER: [RegExp, string][] = [
  [/^(users|sessions|follows|blocks)$/, 'accounts'],
  [/^invites$/, 'invites'],
  [/^(rooms|room_[a-z_]+|recording_consents)$/, 'rooms'],
  [/^(recording_tracks|replays|replay_withdrawals|clips|feed_secrets)$/, 'replays'],
  [/^bc_[a-z_]+$/, 'backchannel'],
  [/^push_[a-z_]+$/, 'push'],
  [/^(audit_log|reports|password_resets)$/, 'admin'],
  [/^activity$/, 'activity'],
  [/^settings$/, 'settings'],
]
const ownerOf = (table: string) => OWNER.find(([re]) => re.test(table))?.[1]

test('[W8] a table is read and written only by the domain that owns it', () => {
  const wrong: string[] = []
  let checked = 0
  for (const { path, text } of sources) {
    if (path.startsWith('db/')) continue // migrations, backups and the pragmas are the database's own
    const domain = path.includes('/') ? path.split('/')[0]! : path
    for (const m of text.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+([a-z_]+)/g)) {
      const owner = ownerOf(m[1]!)
      if (owner) checked++
      if (owner && owner !== domain) wrong.push(`${path}: ${m[0]} (${owner}'s table)`)
    }
  }
  expect(checked).toBeGreaterThan(100)
  expect(wrong).toEqual([])
})

test('[W8] only the hub holds a socket: no other code writes to one or lists connections', () => {
  const wrong = sources
    .filter(({ path }) => !path.startsWith('realtime/'))
    .flatMap(({ path, text }) =>
      [/\.raw\.send\(/, /\bconnectionsOf\(/, /\bnew Hub\(/, /\bRawSocket\b/]
        .filter((re) => re.test(text) && !(path === 'app.ts' && re.source.includes('new Hub')))
        .map((re) => `${path}: ${re.source}`),
    )
  expect(wrong).toEqual([])
})

test('[W8] every domain has one constructor, create<X>(deps), and app.ts calls each once', () => {
  const app = sources.find((s) => s.path === 'app.ts')!.text
  for (const domain of [
    'accounts',
    'invites',
    'push',
    'admin',
    'rooms',
    'media',
    'backchannel',
    'activity',
    'members',
    'realtime',
  ]) {
    const index = sources.find((s) => s.path === `${domain}/index.ts`)
    expect([domain, !!index]).toEqual([domain, true])
    const name = `create${domain[0]!.toUpperCase()}${domain.slice(1)}`
    expect([domain, new RegExp(`export function ${name}\\(`).test(index!.text)]).toEqual([domain, true])
    expect([domain, app.match(new RegExp(`\\b${name}\\(`, 'g'))?.length]).toEqual([domain, 1])
  }
  // No context object with optional parts, no domain wired by assignment after construction.
  expect(sources.some((s) => s.path === 'context.ts')).toBe(false)
})
