// [H2] Bad input answers 4xx from the catalog, never a 500, and the process stays up. [H3] Origin, [H4] body size,
// [H5] rate limits, and the gateway's answers to malformed frames.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { ERRORS } from '../../server/errors'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT, WAIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let alice: Awaited<ReturnType<typeof signedInClient>>
let inviteToken: string
beforeAll(async () => {
  s = await startTestServer({ MAX_BODY_KB: '64' })
  alice = await signedInClient(s, 'alice', 'admin')
  inviteToken = (await s.ctx.invites.service.create(null, { uses: 100 })).token
})
afterAll(() => s.stop())

const JSON_CT = { 'content-type': 'application/json' }
const reg = (fields: Record<string, unknown>) => ({
  username: 'newbie',
  password: PASSWORD,
  invite: inviteToken,
  ...fields,
})

type Case = [
  name: string,
  who: 'guest' | 'alice',
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  status: number,
  code: string,
]
const CASES: Case[] = [
  ['bad JSON', 'guest', 'POST', '/api/auth/login', '{"username": "a", ', JSON_CT, 400, 'bad_json'],
  ['JSON that is an array', 'guest', 'POST', '/api/auth/login', '[1,2]', JSON_CT, 422, 'validation'],
  ['JSON that is a string', 'guest', 'POST', '/api/auth/login', '"hi"', JSON_CT, 422, 'validation'],
  ['JSON null', 'guest', 'POST', '/api/auth/login', 'null', JSON_CT, 422, 'validation'],
  ['empty body', 'guest', 'POST', '/api/auth/login', '', JSON_CT, 422, 'validation'],
  [
    'text body',
    'guest',
    'POST',
    '/api/auth/login',
    'username=a&password=b',
    { 'content-type': 'text/plain' },
    422,
    'validation',
  ],
  ['missing username', 'guest', 'POST', '/api/auth/login', { password: 'x' }, {}, 422, 'validation'],
  ['missing password', 'guest', 'POST', '/api/auth/login', { username: 'alice' }, {}, 422, 'validation'],
  ['username a number', 'guest', 'POST', '/api/auth/login', { username: 12, password: 'x' }, {}, 422, 'validation'],
  [
    'password an object',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'alice', password: { $ne: '' } },
    {},
    422,
    'validation',
  ],
  [
    'oversized login name',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'a'.repeat(65), password: 'x' },
    {},
    422,
    'validation',
  ],
  [
    'oversized password',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'alice', password: 'p'.repeat(257) },
    {},
    422,
    'validation',
  ],
  [
    'HTML in a username',
    'guest',
    'POST',
    '/api/auth/register',
    reg({ username: '<img src=x>' }),
    {},
    422,
    'validation',
  ],
  ['SQL in a username', 'guest', 'POST', '/api/auth/register', reg({ username: "x' OR 1=1--" }), {}, 422, 'validation'],
  [
    'SQL in a login name',
    'guest',
    'POST',
    '/api/auth/login',
    { username: "alice' --", password: PASSWORD },
    {},
    401,
    'bad_credentials',
  ],
  ['username too short', 'guest', 'POST', '/api/auth/register', reg({ username: 'ab' }), {}, 422, 'validation'],
  [
    'username too long',
    'guest',
    'POST',
    '/api/auth/register',
    reg({ username: 'a'.repeat(21) }),
    {},
    422,
    'validation',
  ],
  ['username with a space', 'guest', 'POST', '/api/auth/register', reg({ username: 'new bie' }), {}, 422, 'validation'],
  ['username with unicode', 'guest', 'POST', '/api/auth/register', reg({ username: 'nëwbie' }), {}, 422, 'validation'],
  ['password too short', 'guest', 'POST', '/api/auth/register', reg({ password: 'short' }), {}, 422, 'validation'],
  [
    'password too long',
    'guest',
    'POST',
    '/api/auth/register',
    reg({ password: 'x'.repeat(257) }),
    {},
    422,
    'validation',
  ],
  ['invite a number', 'guest', 'POST', '/api/auth/register', reg({ invite: 42 }), {}, 422, 'validation'],
  ['oversized invite', 'guest', 'POST', '/api/auth/register', reg({ invite: 'i'.repeat(129) }), {}, 422, 'validation'],
  [
    'display name too long',
    'guest',
    'POST',
    '/api/auth/register',
    reg({ displayName: 'n'.repeat(51) }),
    {},
    422,
    'validation',
  ],
  ['bad invite token', 'guest', 'GET', '/api/invites/%00%27%22/check', undefined, {}, 403, 'invite_invalid'],
  [
    'setup without a token',
    'guest',
    'POST',
    '/api/setup',
    { username: 'root2', password: PASSWORD },
    {},
    422,
    'validation',
  ],
  [
    'foreign Origin',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'alice', password: PASSWORD },
    { origin: 'https://evil.example' },
    403,
    'bad_origin',
  ],
  [
    'cross-site fetch without Origin',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'alice', password: PASSWORD },
    { origin: '', 'sec-fetch-site': 'cross-site' },
    403,
    'bad_origin',
  ],
  [
    'Origin "null"',
    'guest',
    'POST',
    '/api/auth/login',
    { username: 'alice', password: PASSWORD },
    { origin: 'null' },
    403,
    'bad_origin',
  ],
  [
    'huge body',
    'guest',
    'POST',
    '/api/auth/login',
    JSON.stringify({ username: 'alice', password: 'x'.repeat(100_000) }),
    JSON_CT,
    413,
    'payload_too_large',
  ],
  ['bio too long', 'alice', 'PATCH', '/api/me', { bio: 'b'.repeat(301) }, {}, 422, 'validation'],
  ['bio a number', 'alice', 'PATCH', '/api/me', { bio: 5 }, {}, 422, 'validation'],
  ['empty profile patch', 'alice', 'PATCH', '/api/me', {}, {}, 422, 'validation'],
  ['unknown profile field only', 'alice', 'PATCH', '/api/me', { role: 'admin' }, {}, 422, 'validation'],
  [
    'avatar that is text',
    'alice',
    'PUT',
    '/api/me/avatar',
    'GIF89a not really',
    { 'content-type': 'image/png' },
    415,
    'unsupported_media',
  ],
  ['avatar that is empty', 'alice', 'PUT', '/api/me/avatar', '', { 'content-type': 'image/png' }, 422, 'validation'],
  [
    'avatar GIF (by content)',
    'alice',
    'PUT',
    '/api/me/avatar',
    new Uint8Array([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 1, 0, 1, 0, 0, 0, 0, 0x3b]),
    { 'content-type': 'image/png' },
    415,
    'unsupported_media',
  ],
  ['avatar path traversal', 'alice', 'GET', '/api/avatars/..%2F..%2Ftownhall.db', undefined, {}, 404, 'not_found'],
  ['invite uses 0', 'alice', 'POST', '/api/invites', { uses: 0 }, {}, 422, 'validation'],
  ['invite uses 1001', 'alice', 'POST', '/api/invites', { uses: 1001 }, {}, 422, 'validation'],
  ['invite uses fractional', 'alice', 'POST', '/api/invites', { uses: 1.5 }, {}, 422, 'validation'],
  ['invite uses a word', 'alice', 'POST', '/api/invites', { uses: 'many' }, {}, 422, 'validation'],
  ['invite expiry negative', 'alice', 'POST', '/api/invites', { expiresInHours: -1 }, {}, 422, 'validation'],
  ['invite note too long', 'alice', 'POST', '/api/invites', { note: 'n'.repeat(201) }, {}, 422, 'validation'],
  ['revoke a non-number', 'alice', 'DELETE', '/api/invites/abc', undefined, {}, 422, 'validation'],
  ['revoke a fraction', 'alice', 'DELETE', '/api/invites/1.5', undefined, {}, 422, 'validation'],
  ['revoke a huge id', 'alice', 'DELETE', '/api/invites/99999999999999999999999', undefined, {}, 422, 'validation'],
  ['search without q', 'alice', 'GET', '/api/users', undefined, {}, 422, 'validation'],
  ['search limit a word', 'alice', 'GET', '/api/users?q=a&limit=lots', undefined, {}, 422, 'validation'],
  ['search limit too big', 'alice', 'GET', '/api/users?q=a&limit=5000', undefined, {}, 422, 'validation'],
  ['search q too long', 'alice', 'GET', `/api/users?q=${'q'.repeat(51)}`, undefined, {}, 422, 'validation'],
  ['profile name too long', 'alice', 'GET', `/api/users/${'u'.repeat(21)}`, undefined, {}, 422, 'validation'],
  ['follow HTML name', 'alice', 'PUT', '/api/users/%3Cb%3E/follow', {}, {}, 404, 'not_found'],
  [
    'password change, new too short',
    'alice',
    'POST',
    '/api/auth/password',
    { current: PASSWORD, next: 'short' },
    {},
    422,
    'validation',
  ],
  ['unknown API route', 'alice', 'POST', '/api/rooms-that-do-not-exist', {}, {}, 404, 'not_found'],
]

test(`[H2] ${CASES.length} malformed requests answer 4xx from the catalog and the server stays up`, async () => {
  expect(CASES.length).toBeGreaterThanOrEqual(30)
  const failures: string[] = []
  for (const [name, who, method, path, body, headers, status, code] of CASES) {
    const c = who === 'alice' ? alice : new Client(s)
    const h = { ...headers }
    if (h.origin === '') delete h.origin
    const r =
      who === 'guest' && headers.origin === ''
        ? await fetch(s.url + path, {
            method,
            body: JSON.stringify(body),
            headers: { 'content-type': 'application/json', ...h },
          }).then(async (x) => ({ status: x.status, json: await x.json().catch(() => null), text: '' }))
        : await c.req(method, path, body, h)
    if (r.status !== status || r.json?.error?.code !== code)
      failures.push(`${name}: ${r.status} ${JSON.stringify(r.json)?.slice(0, 160)} (want ${status} ${code})`)
    else if (r.json.error.message.length === 0 || ERRORS[code as keyof typeof ERRORS][0] !== status)
      failures.push(`${name}: not the catalog's answer`)
  }
  expect(failures).toEqual([])
  expect(s.ctx.accounts.api.byName('newbie')).toBeNull()
  const health = await new Client(s).get('/healthz')
  expect(health.status).toBe(200)
  // Names with HTML are stored as text and come back as text.
  expect((await alice.patch('/api/me', { displayName: '<script>alert(1)</script>' })).json.user.displayName).toBe(
    '<script>alert(1)</script>',
  )
})

test('[H4] a body without a declared length is refused; one past the hard cap is refused by the server', async () => {
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"username":"a","password":"b"}'))
      c.close()
    },
  })
  const r = await fetch(s.url + '/api/auth/login', {
    method: 'POST',
    body: stream,
    headers: { 'content-type': 'application/json', origin: s.origin },
    duplex: 'half',
  } as RequestInit)
  expect(r.status).toBe(411)
  expect((await r.json()).error.code).toBe('length_required')
  const big = await fetch(s.url + '/api/auth/login', {
    method: 'POST',
    body: new Uint8Array(64 * 1024 * 5),
    headers: { 'content-type': 'application/json', origin: s.origin },
  })
  expect(big.status).toBe(413)
  expect((await new Client(s).get('/healthz')).status).toBe(200)
})

test('[A4] an avatar over 2 MB is refused before it is read', async () => {
  const big = await startTestServer()
  try {
    const bob = await signedInClient(big, 'bob')
    const png = new Uint8Array(2 * 1024 * 1024 + 1)
    png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const r = await bob.req('PUT', '/api/me/avatar', png, { 'content-type': 'image/png' })
    expect(r.status).toBe(413)
    expect(r.json.error.code).toBe('payload_too_large')
  } finally {
    await big.stop()
  }
})

test('[H5] login, registration and invite checks are rate-limited per address with 429 and Retry-After', async () => {
  const t = await startTestServer({}, { limits: { login: [3, 0.001], register: [2, 0.001], inviteLookup: [4, 0.001] } })
  try {
    const c = new Client(t)
    const codes: number[] = []
    for (let i = 0; i < 4; i++)
      codes.push((await c.post('/api/auth/login', { username: 'nobody', password: 'wrong password' })).status)
    expect(codes).toEqual([401, 401, 401, 429])
    const limited = await c.post('/api/auth/login', { username: 'nobody', password: 'wrong password' })
    expect(limited.json.error.code).toBe('rate_limited')
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)

    const inv = (await t.ctx.invites.service.create(null, { uses: 10 })).token
    const regs: number[] = []
    for (let i = 0; i < 3; i++)
      regs.push((await c.post('/api/auth/register', { username: `user${i}`, password: PASSWORD, invite: inv })).status)
    expect(regs).toEqual([201, 201, 429])

    // Invite redemption and invite checks share a limit (4 here: 2 spent by the sign-ups above), so invite tokens
    // cannot be guessed quickly.
    const checks: number[] = []
    for (let i = 0; i < 3; i++) checks.push((await c.get(`/api/invites/guess${i}/check`)).status)
    expect(checks).toEqual([403, 403, 429])
    const r = await c.get('/api/invites/guess9/check')
    expect(r.headers.get('retry-after')).toBeTruthy()
  } finally {
    await t.stop()
  }
})

test(
  '[H2] a malformed session cookie (bad percent-encoding) is no session: ' +
    '401 on the API, the app still served, never a 500',
  async () => {
    for (const cookie of ['th_session=%E0%A4%A', 'th_session=%', 'th_session=%zz; other=1']) {
      const me = await fetch(s.url + '/api/me', { headers: { cookie } })
      expect(me.status).toBe(401)
      expect((await me.json()).error.code).toBe('unauthorized')
      expect((await fetch(s.url + '/', { headers: { cookie } })).status).toBe(200)
      expect(
        (
          await fetch(s.url + '/api/auth/login', {
            method: 'POST',
            headers: { cookie, 'content-type': 'application/json', origin: s.origin },
            body: JSON.stringify({ username: 'alice', password: PASSWORD }),
          })
        ).status,
      ).toBe(200)
    }
    await expect(connectWs(s.url, { cookie: 'th_session=%', origin: s.origin })).rejects.toThrow()
  },
)

test('[W3] malformed frames get errors; the per-socket limit answers rate_limited; the socket lives on', async () => {
  const ws = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  ws.raw('{"id": 1, "type": ')
  ws.raw('[1,2,3]')
  ws.raw('"just a string"')
  ws.raw(JSON.stringify({ type: 'ping' }))
  ws.raw(JSON.stringify({ id: { nested: true }, type: 'ping' }))
  ws.raw(JSON.stringify({ id: 7, type: 'x'.repeat(65) }))
  ws.raw(JSON.stringify({ id: 8, type: 'presence.query', userIds: 'all' }))
  ws.raw(JSON.stringify({ id: 9, type: 'presence.query', userIds: Array.from({ length: 201 }, (_, i) => i + 1) }))
  const pong = await ws.request('ping')
  expect(pong.ok).toBe(true)
  const codes = ws.replies.slice(0, 8).map((m) => m.error?.code)
  expect(codes).toEqual([
    'bad_frame',
    'bad_frame',
    'bad_frame',
    'validation',
    'validation',
    'validation',
    'validation',
    'validation',
  ])
  expect(ws.replies.find((m) => m.re === 9)?.ok).toBe(false)

  // Burst past the per-socket limit: some requests are answered rate_limited, every request still gets one reply.
  const many = await Promise.all(Array.from({ length: 100 }, () => ws.request('ping')))
  expect(many.length).toBe(100)
  expect(many.some((m) => m.error?.code === 'rate_limited')).toBe(true)
  expect(ws.closed).toBeNull()
  ws.close()
})

test('[W3] a member holds at most 32 sockets at once: one more is refused until one closes', async () => {
  const m = await signedInClient(s, 'manytabs')
  const open = []
  for (let i = 0; i < 32; i++) open.push(await connectWs(s.url, { cookie: m.cookie, origin: s.origin }))
  await expect(connectWs(s.url, { cookie: m.cookie, origin: s.origin })).rejects.toThrow()
  // Everyone else is unaffected.
  const other = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  expect((await other.request('ping')).ok).toBe(true)
  other.close()
  const closing = open.pop()!
  closing.close()
  await closing.waitClosed()
  // The server has its close by now; should it still count the socket, a later try gets in (at most WAIT).
  let again = null
  for (const end = Date.now() + WAIT; !again && Date.now() < end; ) {
    again = await connectWs(s.url, { cookie: m.cookie, origin: s.origin }).catch(() => null)
    if (!again) await Bun.sleep(50) // between tries, not a wait for anything
  }
  expect(again).not.toBeNull()
  again!.close()
  for (const ws of open) ws.close()
})

test(
  "[W3] reconnecting does not refill a member's budget without end: " +
    "fresh sockets are rate-limited once the member's own bucket is spent",
  async () => {
    const m = await signedInClient(s, 'reconnector')
    let limited = false
    for (let i = 0; i < 200 && !limited; i++) {
      const ws = await connectWs(s.url, { cookie: m.cookie, origin: s.origin })
      const replies = await Promise.all(Array.from({ length: 55 }, () => ws.request('ping')))
      limited = replies.some((r) => r.error?.code === 'rate_limited')
      ws.close()
    }
    expect(limited).toBe(true)
    // Another member is unaffected.
    const other = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
    expect((await other.request('ping')).ok).toBe(true)
    other.close()
  },
)

test('[W3] a frame over 64 KB closes the socket; the server stays up', async () => {
  const ws = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  ws.raw(JSON.stringify({ id: 1, type: 'ping', pad: 'x'.repeat(70 * 1024) }))
  const closed = await ws.waitClosed()
  expect(closed.code).toBe(1009)
  const again = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  expect((await again.request('ping')).ok).toBe(true)
  again.close()
})

test(
  '[H5] changing the password checks the current one under the sign-in limit too (per member), ' +
    'so it cannot be guessed with a session',
  async () => {
    const t = await startTestServer({}, { limits: { login: [3, 0.001] } })
    try {
      const m = await signedInClient(t, 'guessme')
      const codes: number[] = []
      for (let i = 0; i < 4; i++)
        codes.push(
          (await m.post('/api/auth/password', { current: `guess number ${i}`, next: 'a brand new password' })).status,
        )
      expect(codes).toEqual([401, 401, 401, 429])
    } finally {
      await t.stop()
    }
  },
)

test('[H5] behind a proxy (TRUST_PROXY) the limit keys on the address the proxy saw, not forged entries', async () => {
  const t = await startTestServer({ TRUST_PROXY: 'true' }, { limits: { login: [2, 0.001] } })
  try {
    const c = new Client(t)
    const attempt = (xff: string) =>
      c.req('POST', '/api/auth/login', { username: 'nobody', password: 'wrong password' }, { 'x-forwarded-for': xff })
    const codes = [
      (await attempt('1.1.1.1, 10.0.0.7')).status,
      (await attempt('2.2.2.2, 10.0.0.7')).status,
      (await attempt('3.3.3.3, 10.0.0.7')).status,
    ]
    expect(codes).toEqual([401, 401, 429])
    // Another client behind the same proxy has its own bucket.
    expect((await attempt('10.0.0.8')).status).toBe(401)
  } finally {
    await t.stop()
  }
})
