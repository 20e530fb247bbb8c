// [H85] The several-node deployment, checked statically: compose.yaml, docs/deploy/Caddyfile.cluster and .env.example
// agree with each other and with what the nodes need (test/deploy/compose-check.sh runs them for real, with Docker).
import { expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { OPTIONS } from '../../server/config'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const ROOT = join(import.meta.dir, '..', '..')
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8')

interface Service {
  image: string
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  healthcheck?: { test: string[] }
  stop_grace_period?: string
  restart?: string
  depends_on?: Record<string, { condition: string }>
}
const compose = Bun.YAML.parse(read('compose.yaml')) as { services: Record<string, Service>; volumes: object }
const services = compose.services
const nodes = Object.entries(services).filter(([, s]) => s.image === 'townhall')
const caddyfile = read('docs/deploy/Caddyfile.cluster')
const envExample = read('.env.example')

/** "30s" | "1m30s" | "500ms" → ms. */
function duration(s: string): number {
  let ms = 0
  for (const [, n, unit] of s.matchAll(/(\d+)(ms|s|m|h)/g))
    ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']
  return ms
}
/** `${NAME}` as compose writes a reference to a variable of .env. */
const ref = (name: string) => '$'.concat('{', name, '}')
/** A `${NAME:-default}` value's default, else the value. */
const withDefault = (v: string) => /^\$\{[A-Z_]+:-(.*)\}$/.exec(v)?.[1] ?? v

test('[H85] compose.yaml: two or more Townhall nodes, each with what a node of a cluster needs', () => {
  expect(nodes.length).toBeGreaterThanOrEqual(2)
  const known = new Set(Object.values(OPTIONS).map((o) => o.env))
  for (const [name, s] of nodes) {
    const env = s.environment ?? {}
    for (const k of [
      'REDIS_URL',
      'DATABASE_URL',
      'PUBLIC_URL',
      'TRUST_PROXY',
      'PUBLIC_IP',
      'RTC_PORT',
      'ROOM_DRAIN_MS',
    ])
      expect(env[k], `${name}: ${k}`).toBeTruthy()
    // Every variable is one the server reads (a typo would be ignored silently); DATABASE_URL is let through only
    // by a server that has no Postgres yet.
    for (const k of Object.keys(env))
      if (k !== 'DATABASE_URL' || known.has(k)) expect(known.has(k), `${name}: ${k} is a setting`).toBe(true)
    expect(env.TRUST_PROXY).toBe('true')
    expect(env.REDIS_URL).toBe('redis://redis:6379')
    expect(env.DATABASE_URL).toStartWith('postgres://')
    expect(env.DATABASE_URL).toContain('@postgres:5432/')
    expect(s.volumes).toContain('townhall-data:/data')
    expect(s.healthcheck?.test).toEqual(['CMD', 'townhall', 'healthcheck'])
    expect(s.restart).toBe('unless-stopped')
    expect(s.depends_on?.redis?.condition).toBe('service_healthy')
    expect(s.depends_on?.postgres?.condition).toBe('service_healthy')
    // Docker waits this long after SIGTERM before SIGKILL: the drain must fit, with room for the stop itself.
    expect(duration(s.stop_grace_period ?? '10s')).toBeGreaterThanOrEqual(
      Number(withDefault(env.ROOM_DRAIN_MS!)) + 10_000,
    )
  }
})

test('[H85] compose.yaml: each node publishes its own UDP range, starting at its RTC_PORT', () => {
  const ranges = nodes.map(([name, s]) => {
    const rtc = Number(s.environment!.RTC_PORT)
    const udp = (s.ports ?? []).find((p) => p.endsWith('/udp'))
    const m = /^(\d+)-(\d+):(\d+)-(\d+)\/udp$/.exec(udp ?? '')
    expect(m, `${name}: a published UDP range`).not.toBeNull()
    const [lo, hi, clo, chi] = m!.slice(1).map(Number) as [number, number, number, number]
    // The same numbers outside and inside: the offer carries RTC_PORT, which the client reaches as published.
    expect([lo, hi]).toEqual([clo, chi])
    expect(lo).toBe(rtc)
    // No TCP port of a node is published: HTTP and WebSockets go through Caddy.
    expect((s.ports ?? []).filter((p) => !p.endsWith('/udp'))).toEqual([])
    return [lo, hi] as const
  })
  for (const [i, [lo, hi]] of ranges.entries())
    for (const [lo2, hi2] of ranges.slice(i + 1)) expect(hi < lo2 || hi2 < lo).toBe(true)
})

test('[H85] Caddyfile.cluster proxies to every node and nothing else, with a health check on /healthz', () => {
  const upstreams = /^\s*reverse_proxy ([^{\n]+)\{/m.exec(caddyfile)![1]!.trim().split(/\s+/)
  expect(upstreams.sort()).toEqual(nodes.map(([name]) => `${name}:3000`).sort())
  expect(caddyfile).toMatch(/^\s*health_uri \/healthz$/m)
  expect(caddyfile).toMatch(/^\s*lb_try_duration \d+s$/m)
  expect(caddyfile).toContain('{$DOMAIN} {')
  expect(services.caddy!.volumes).toContain('./docs/deploy/Caddyfile.cluster:/etc/caddy/Caddyfile:ro')
  expect(services.caddy!.environment!.DOMAIN).toBe(ref('DOMAIN'))
})

test('[H85] every variable compose.yaml requires is in .env.example; Postgres has its volume and password', () => {
  const text = read('compose.yaml')
  const required = new Set([...text.matchAll(/\$\{([A-Z_]+):\?/g)].map((m) => m[1]!))
  expect([...required].sort()).toEqual(['DOMAIN', 'POSTGRES_PASSWORD', 'PUBLIC_IP'])
  for (const k of required) expect(envExample).toMatch(new RegExp(`^${k}=.+$`, 'm'))
  const pg = services.postgres!
  expect(pg.environment!.POSTGRES_PASSWORD).toBe(ref('POSTGRES_PASSWORD'))
  expect(pg.volumes).toContain('postgres-data:/var/lib/postgresql/data')
  expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['townhall-data', 'postgres-data', 'caddy-data']))
  expect(read('.gitignore')).toMatch(/^\.env$/m)
})
