// [H13, H65–H68] The OpenAPI document: every operation with its success body and the catalog's errors, the session
// cookie as the security scheme on members' routes, no catch-all entries; the /openapi page served from the binary
// with nothing from another host (Chromium records every request the page makes).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Value } from '@sinclair/typebox/value'
import { hasChromium, launch, SHOTS } from '../helpers/browser'
import { Client, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'
import { ERRORS } from '../../server/protocol'
import { OPERATIONS } from '../../server/http/openapi'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let doc: any
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']
const operations = () =>
  Object.entries<any>(doc.paths).flatMap(([path, ops]) =>
    Object.entries<any>(ops)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op })),
  )

beforeAll(async () => {
  s = await startTestServer()
  const r = await fetch(s.url + '/openapi/json')
  expect(r.status).toBe(200)
  doc = await r.json()
})
afterAll(async () => {
  await s?.stop()
})

test('[H13] [H65] no catch-all or non-API entries: no wildcard, no screens, no WebSocket, no /openapi itself', () => {
  const paths = Object.keys(doc.paths)
  expect(paths.filter((p) => p.includes('*'))).toEqual([])
  for (const p of paths) expect(p === '/healthz' || p.startsWith('/api/')).toBe(true)
  expect(operations().length).toBeGreaterThanOrEqual(60)
})

test('[H66] every operation documents a 2xx body and error responses from the catalog', () => {
  const undocumented: string[] = []
  for (const { key, op } of operations()) {
    if (!OPERATIONS[key]) undocumented.push(key)
    const statuses = Object.keys(op.responses ?? {})
    const ok = statuses.filter((st) => /^2\d\d$/.test(st))
    expect([key, ok.length]).toEqual([key, 1])
    const body = op.responses[ok[0]!].content
    expect([key, Object.keys(body ?? {}).length > 0]).toEqual([key, true])
    const errors = statuses.filter((st) => /^[45]\d\d$/.test(st))
    expect([key, errors.length > 0]).toEqual([key, true])
    for (const st of errors) {
      const json = op.responses[st].content['application/json']
      expect(json.schema.allOf[0]).toEqual({ $ref: '#/components/schemas/Error' })
      const codes: string[] = json.schema.allOf[1].properties.error.properties.code.enum
      // Each code is the catalog's, under its own status, with the catalog's message as the example.
      for (const c of codes) {
        expect([key, c, String(ERRORS[c as keyof typeof ERRORS]?.[0])]).toEqual([key, c, st])
        expect(json.examples[c].value).toEqual({ error: { code: c, message: ERRORS[c as keyof typeof ERRORS][1] } })
      }
    }
    // Every route can fail on the server; members' routes answer 401 signed out.
    expect([key, statuses.includes('500')]).toEqual([key, true])
  }
  // A new route gets its entry in server/http/openapi.ts OPERATIONS (its body, its errors, who may call it).
  expect({ missingFromOperationsInServerHttpOpenapi: undocumented }).toEqual({
    missingFromOperationsInServerHttpOpenapi: [],
  })
  // And no entry is left for a route that is gone.
  const keys = new Set(operations().map((o) => o.key))
  expect(Object.keys(OPERATIONS).filter((k) => !keys.has(k))).toEqual([])
  expect(doc.components.schemas.Error.properties.error.required).toEqual(['code', 'message'])
})

test('[H67] the session cookie is the security scheme; members-only routes require it, public ones do not', () => {
  expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'th_session' })
  expect(doc.components.securitySchemes.session.description).toContain('__Host-th_session')
  const byKey = new Map(operations().map((o) => [o.key, o.op]))
  for (const key of ['GET /api/me', 'POST /api/rooms', 'GET /api/threads', 'GET /api/admin/stats']) {
    expect([key, byKey.get(key).security]).toEqual([key, [{ session: [] }]])
    expect([key, '401' in byKey.get(key).responses]).toEqual([key, true])
  }
  expect('403' in byKey.get('GET /api/admin/stats').responses).toBe(true)
  for (const key of ['POST /api/auth/login', 'GET /healthz', 'GET /api/push/key'])
    expect([key, byKey.get(key).security]).toEqual([key, []])
  // Signed out or in, with a different answer.
  expect(byKey.get('GET /api/session').security).toEqual([{}, { session: [] }])
  expect(byKey.get('GET /api/session').responses['401']).toBeUndefined()
})

test("[H66] the documented success bodies are what the routes answer (a member's and an admin's GETs)", async () => {
  const admin = await signedInClient(s, 'root', 'admin')
  const ann = await signedInClient(s, 'ann')
  await ann.put('/api/users/root/follow')
  expect((await ann.post('/api/rooms', { title: 'Checked room', kind: 'open' })).status).toBe(201)
  const room = (await ann.get('/api/rooms')).json.live[0].id
  const checks: [string, string, typeof ann][] = [
    ['GET /api/session', '/api/session', ann],
    ['GET /api/me', '/api/me', ann],
    ['GET /api/users', '/api/users?q=r', ann],
    ['GET /api/users/{username}', '/api/users/root', ann],
    ['GET /api/users/{username}/followers', '/api/users/root/followers', ann],
    ['GET /api/invites', '/api/invites', ann],
    ['GET /api/rooms', '/api/rooms', ann],
    ['GET /api/rooms/{id}', `/api/rooms/${room}`, ann],
    ['GET /api/threads', '/api/threads', ann],
    ['GET /api/push/settings', '/api/push/settings', ann],
    ['GET /api/registration', '/api/registration', ann],
    ['GET /api/admin/settings', '/api/admin/settings', admin],
    ['GET /api/admin/backups', '/api/admin/backups', admin],
    ['GET /healthz', '/healthz', ann],
  ]
  for (const [key, path, who] of checks) {
    const r = await who.get(path)
    expect([key, r.status]).toEqual([key, 200])
    const errors = [...Value.Errors(OPERATIONS[key]!.ok, r.json)].map((e) => `${e.path}: ${e.message}`)
    expect([key, errors]).toEqual([key, []])
  }
})

test('[H66] the refusals the routes actually give are among their documented errors', async () => {
  const bob = await signedInClient(s, 'bob')
  const guest = new Client(s)
  const byKey = new Map(operations().map((o) => [o.key, o.op]))
  const cases: [string, Promise<{ status: number; json: any }>][] = [
    ['GET /api/me', guest.get('/api/me')],
    ['POST /api/rooms', bob.post('/api/rooms', { title: '', kind: 'open' })],
    ['POST /api/rooms', guest.post('/api/rooms', { title: 'x', kind: 'open' })],
    ['GET /api/threads/{id}', bob.get('/api/threads/999999')],
    ['PUT /api/users/{username}/follow', bob.put('/api/users/nobody-here/follow')],
    ['PUT /api/users/{username}/follow', bob.put('/api/users/bob/follow')],
    ['GET /api/admin/stats', bob.get('/api/admin/stats')],
    ['POST /api/auth/login', guest.post('/api/auth/login', { username: 'bob', password: 'wrong password!' })],
    ['GET /api/invites/{token}/check', guest.get('/api/invites/nope/check')],
    ['DELETE /api/rooms/{id}', bob.del('/api/rooms/999999')],
    ['GET /api/reset/{token}', guest.get('/api/reset/nope')],
  ]
  for (const [key, pending] of cases) {
    const r = await pending
    const documented = byKey.get(key).responses[String(r.status)]?.content['application/json'].schema.allOf[1]
    expect([key, r.status, r.json?.error?.code, documented?.properties.error.properties.code.enum ?? []]).toEqual([
      key,
      r.status,
      r.json?.error?.code,
      expect.arrayContaining([r.json?.error?.code]),
    ])
  }
})

describe('[H68] the /openapi page: its UI from this server, nothing from a CDN', () => {
  test('the HTML references no other host', async () => {
    const r = await fetch(s.url + '/openapi')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toContain('text/html')
    const html = await r.text()
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i)
    expect(html).not.toMatch(/cdn|jsdelivr|unpkg/i)
    expect(html).toContain('<script src="/openapi/ui.js"></script>')
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'")
    const ui = await fetch(s.url + '/openapi/ui.js', { headers: { 'accept-encoding': 'gzip' } })
    expect(ui.status).toBe(200)
    expect(ui.headers.get('content-type')).toContain('javascript')
    expect(ui.headers.get('content-encoding')).toBe('gzip')
    expect((await ui.text()).length).toBeGreaterThan(100_000)
  })

  test.skipIf(!hasChromium)('in Chromium the reference renders and every request stays on this server', async () => {
    const browser = await launch()
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
      const elsewhere: string[] = []
      const problems: string[] = []
      page.on('request', (r) => {
        const u = new URL(r.url())
        if (u.protocol.startsWith('http') && u.origin !== s.url) elsewhere.push(r.url())
      })
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
      })
      page.on('pageerror', (e) => problems.push(e.message))
      // Each step waits on its own (WAIT each): the page arriving, the reference rendering (Scalar's script is large
      // and slow to run on a loaded machine), then every request of the page done (its load event).
      await page.goto(s.url + '/openapi', { waitUntil: 'commit' })
      await page.getByText('Townhall API').first().waitFor()
      await page.getByText('/api/auth/login').first().waitFor()
      await page.waitForLoadState('load')
      await page.screenshot({ path: `${SHOTS}/openapi-desktop.png` })
      expect(elsewhere).toEqual([])
      expect(problems).toEqual([])
    } finally {
      await browser.close()
    }
  })
})
