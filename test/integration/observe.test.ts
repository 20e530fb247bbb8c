// What an admin reads: LOG_FORMAT text or json, one access-log line per request (X-Request-Id echoed), one line per
// failed sign-in with the client's address (what the fail2ban filter in docs/deploy/fail2ban reads), and /metrics.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type Running } from '../../server/app'
import { loadConfig } from '../../server/config'
import { createLogger } from '../../server/lib/log'
import { Client, PASSWORD } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

interface Logged {
  s: Running & { origin: string }
  lines: string[]
  dir: string
}
const servers: Logged[] = []

async function logged(env: Record<string, string>): Promise<Logged> {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-observe-'))
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, METRICS_TOKEN: 'scrape-me', ...env })
  const lines: string[] = []
  const log = createLogger(config.logLevel, (l) => lines.push(l), config.logFormat)
  const s = await startServer(config, { log })
  const out = { s: Object.assign(s, { origin: s.ctx.core.origin() }), lines, dir }
  servers.push(out)
  await s.ctx.accounts.service.createAdmin('watcher', PASSWORD)
  return out
}

let json: Logged
let text: Logged
beforeAll(async () => {
  json = await logged({ LOG_FORMAT: 'json', TRUST_PROXY: 'true' })
  text = await logged({ LOG_FORMAT: 'text' })
})
afterAll(async () => {
  for (const l of servers) {
    await l.s.stop()
    rmSync(l.dir, { recursive: true, force: true })
  }
})

const signIn = (c: Client, password: string, headers: Record<string, string> = {}) =>
  c.req('POST', '/api/auth/login', { username: 'watcher', password }, headers)

test('[H32] LOG_FORMAT=json writes a JSON object a line (time, level, msg first); text: time LEVEL msg', async () => {
  await new Client(json.s).get('/healthz')
  await new Client(text.s).get('/healthz')
  for (const line of json.lines) {
    const o = JSON.parse(line)
    expect(Object.keys(o).slice(0, 3)).toEqual(['time', 'level', 'msg'])
    expect(new Date(o.time).toISOString()).toBe(o.time)
  }
  for (const line of text.lines)
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \S/)
  expect(() => loadConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/)
})

test('[H33] one access-log line per request: method, path (no query, no token), status, ms, member, id', async () => {
  const c = new Client(json.s)
  expect((await signIn(c, PASSWORD)).status).toBe(200)
  const me = await c.req('GET', '/api/me?secret=hunter2', undefined, { 'x-request-id': 'proxy-req-0001' })
  expect(me.headers.get('x-request-id')).toBe('proxy-req-0001')
  const made = (await c.get('/api/threads')).headers.get('x-request-id')!
  expect(made).toMatch(/^[0-9a-f]{16}$/)
  await c.get('/invite/s3cr3tInviteToken')
  await c.req('POST', '/api/auth/logout', {}, { origin: 'https://evil.example' })
  const ws = await connectWs(json.s.url, { cookie: c.cookie, origin: json.s.origin })
  await ws.opened
  ws.close()
  const access = () => json.lines.map((l) => JSON.parse(l)).filter((o) => o.msg.startsWith('http: '))
  await until(() => access().some((o) => o.path === '/ws'))
  const all = access()
  const uid = (await c.get('/api/me')).json.user.id
  expect(all.find((o) => o.requestId === 'proxy-req-0001')).toMatchObject({
    level: 'info',
    method: 'GET',
    path: '/api/me',
    status: 200,
    userId: uid,
  })
  expect(all.find((o) => o.requestId === made)).toMatchObject({ path: '/api/threads', status: 200, userId: uid })
  expect(all.find((o) => o.path.startsWith('/invite/'))).toMatchObject({ path: '/invite/:token', userId: uid })
  expect(all.find((o) => o.path === '/api/auth/logout')).toMatchObject({ status: 403 })
  expect(all.find((o) => o.path === '/ws')).toMatchObject({ status: 101, userId: uid })
  for (const o of all) expect(typeof o.ms).toBe('number')
  // Every line has the client's address, routes without a session (the app's screens, /healthz) too.
  for (const o of all) expect([o.path, o.ip]).toEqual([o.path, '127.0.0.1'])
  expect(JSON.stringify(json.lines)).not.toContain('hunter2')
  expect(JSON.stringify(json.lines)).not.toContain('s3cr3tInviteToken')
  // The text format carries the same line, readable.
  await new Client(text.s).get('/api/rooms')
  // (The line is written once the response went out: waited for, not assumed.)
  await until(() => text.lines.some((l) => /INFO {2}http: GET \/api\/rooms \d{3} [\d.]+ms \{/.test(l)))
})

test('[H34] a failed sign-in writes one line with the client address (X-Forwarded-For with TRUST_PROXY)', async () => {
  const c = new Client(json.s)
  const r = await signIn(c, 'wrong password!', { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' })
  expect(r.status).toBe(401)
  const failed = json.lines.map((l) => JSON.parse(l)).filter((o) => o.msg.startsWith('auth: failed sign-in'))
  expect(failed.at(-1)).toMatchObject({
    level: 'warn',
    msg: 'auth: failed sign-in from 203.0.113.9',
    ip: '203.0.113.9',
    username: 'watcher',
    reason: 'bad_credentials',
  })
  // Without TRUST_PROXY the header is ignored: the address is the socket's.
  await signIn(new Client(text.s), 'wrong password!', { 'x-forwarded-for': '203.0.113.9' })
  expect(text.lines.filter((l) => l.includes('auth: failed sign-in from 127.0.0.1 '))).toHaveLength(1)
  // A successful sign-in is in the audit log with the address.
  await signIn(new Client(json.s), PASSWORD, { 'x-forwarded-for': '192.0.2.44' })
  const audit = await json.s.ctx.audit.service.list(Number.MAX_SAFE_INTEGER, 'auth.login', 10)
  expect(JSON.parse(audit[0]!.details)).toEqual({ ip: '192.0.2.44' })
})

test('[H34] the fail2ban filter in docs/deploy/fail2ban matches both formats and finds the address', async () => {
  const lines = [...json.lines, ...text.lines].filter((l) => l.includes('failed sign-in'))
  expect(lines.length).toBeGreaterThanOrEqual(2)
  const filter = 'docs/deploy/fail2ban/townhall-filter.conf'
  const regex = /^failregex = (.+)$/m.exec(await Bun.file(filter).text())![1]!
  // fail2ban's <ADDR> is an IPv4 or IPv6 address; the same expression in JavaScript:
  const js = new RegExp(regex.replace('<ADDR>', '(?<addr>[0-9a-fA-F.:]+)'))
  expect(lines.map((l) => js.exec(l)?.groups?.addr)).toEqual(
    lines.map((l) => (l.includes('203.0.113.9') ? '203.0.113.9' : '127.0.0.1')),
  )
  // And fail2ban itself, where it is installed (.ci/run installs it).
  const fail2banRegex = '/usr/bin/fail2ban-regex'
  if (!existsSync(fail2banRegex)) {
    console.warn('fail2ban-regex not installed: the filter was checked by its regular expression only')
    return
  }
  const logFile = join(json.dir, 'townhall.log')
  writeFileSync(logFile, lines.join('\n') + '\n')
  const run = spawnSync(fail2banRegex, ['-v', logFile, filter], { encoding: 'utf8' })
  expect(run.status).toBe(0)
  expect(run.stdout).toMatch(new RegExp(`Lines: ${lines.length} lines, 0 ignored, ${lines.length} matched`))
  expect(run.stdout).toContain('203.0.113.9')
})

test('[D30] /metrics: requests by route and status, latency, WebSocket frames, messages, the process', async () => {
  const c = new Client(json.s)
  const before = json.s.ctx.core.traffic.latency.get('/api/rooms')?.count ?? 0
  await c.get('/api/rooms')
  await c.get('/api/rooms')
  await until(() => (json.s.ctx.core.traffic.latency.get('/api/rooms')?.count ?? 0) >= before + 2)
  const r = await c.req('GET', '/metrics', undefined, { authorization: 'Bearer scrape-me' })
  expect(r.status).toBe(200)
  const m = r.text
  const value = (series: string) => {
    const line = m.split('\n').find((l) => l.startsWith(series + ' '))
    return line === undefined ? undefined : Number(line.slice(series.length + 1))
  }
  expect(value('townhall_http_requests_total{method="GET",route="/api/rooms",status="401"}')).toBeGreaterThanOrEqual(2)
  expect(value('townhall_http_requests_total{method="GET",route="/ws",status="101"}')).toBeGreaterThanOrEqual(1)
  expect(m).toContain('# TYPE townhall_http_request_duration_seconds histogram')
  const inf = value('townhall_http_request_duration_seconds_bucket{route="/api/rooms",le="+Inf"}')!
  expect(inf).toBe(value('townhall_http_request_duration_seconds_count{route="/api/rooms"}')!)
  const le10 = value('townhall_http_request_duration_seconds_bucket{route="/api/rooms",le="10"}')!
  expect(le10).toBeLessThanOrEqual(inf)
  expect(value('townhall_ws_messages_total{direction="in"}')).toBeGreaterThanOrEqual(0)
  expect(value('townhall_ws_messages_total{direction="out"}')).toBeGreaterThanOrEqual(1)
  expect(value('townhall_backchannel_messages_sent_total')).toBe(0)
  expect(value('process_resident_memory_bytes')).toBeGreaterThan(1e6)
  expect(value('process_cpu_seconds_total')).toBeGreaterThan(0)
  const start = value('process_start_time_seconds')!
  expect(start).toBeGreaterThan(Date.now() / 1000 - 3600)
  expect(start).toBeLessThanOrEqual(Date.now() / 1000)
  expect(value('process_open_fds')).toBeGreaterThan(3)
  // Each series once (no duplicate HELP/TYPE).
  const types = m.split('\n').filter((l) => l.startsWith('# TYPE '))
  expect(new Set(types).size).toBe(types.length)
})
