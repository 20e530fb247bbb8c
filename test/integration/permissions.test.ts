// [H6] The permission table of the foundation's routes: guest, member, admin × every route → status, what must
// appear and what must not. Each role gets a fresh session; routes that end a session run last.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

type Role = 'guest' | 'member' | 'admin'
interface Row {
  name: string
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  path: string | ((f: Fixture) => string)
  body?: unknown
  expect: Record<Role, number | [number, string]>
  /** Substrings a successful answer must contain, per role. */
  has?: Partial<Record<Role, string[]>>
  /** Substrings no answer may contain, per role. */
  hasNot?: Partial<Record<Role, string[]>>
}
interface Fixture {
  adminInvite: number
  bobInvite: number
}

// Never in any answer: password hashes, token hashes, raw tokens of other people.
const SECRETS = ['password_hash', 'passwordHash', '$argon2', 'token_hash']

const ROWS: Row[] = [
  {
    name: 'health',
    method: 'GET',
    path: '/healthz',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['"database":"ok"'] },
  },
  {
    name: 'registration mode',
    method: 'GET',
    path: '/api/registration',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['"mode":"invite"'] },
  },
  {
    name: 'setup status',
    method: 'GET',
    path: '/api/setup',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['"needed":false'] },
  },
  {
    name: 'setup link check',
    method: 'GET',
    path: '/api/setup/nope',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['"valid":false'] },
  },
  {
    name: 'setup again',
    method: 'POST',
    path: '/api/setup',
    body: { token: 'x', username: 'mallory', password: PASSWORD },
    expect: { guest: [409, 'setup_done'], member: [409, 'setup_done'], admin: [409, 'setup_done'] },
  },
  {
    name: 'invite check (unknown)',
    method: 'GET',
    path: '/api/invites/nope/check',
    expect: { guest: [403, 'invite_invalid'], member: [403, 'invite_invalid'], admin: [403, 'invite_invalid'] },
  },
  {
    name: 'login with a wrong password',
    method: 'POST',
    path: '/api/auth/login',
    body: { username: 'alice', password: 'wrong password' },
    expect: { guest: [401, 'bad_credentials'], member: [401, 'bad_credentials'], admin: [401, 'bad_credentials'] },
  },
  {
    name: 'me',
    method: 'GET',
    path: '/api/me',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"alice"', '"inviteQuota":5'], admin: ['"username":"root"', '"role":"admin"'] },
  },
  {
    name: 'edit profile',
    method: 'PATCH',
    path: '/api/me',
    body: { bio: 'hello' },
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"bio":"hello"'] },
  },
  {
    name: 'remove avatar',
    method: 'DELETE',
    path: '/api/me/avatar',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
  },
  {
    name: 'upload avatar (not an image)',
    method: 'PUT',
    path: '/api/me/avatar',
    body: 'not an image',
    expect: { guest: [401, 'unauthorized'], member: [415, 'unsupported_media'], admin: [415, 'unsupported_media'] },
  },
  {
    name: 'search people',
    method: 'GET',
    path: '/api/users?q=b',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"bob"'] },
    hasNot: { member: ['invite_quota', 'inviteQuota', 'status'] },
  },
  {
    name: 'a profile',
    method: 'GET',
    path: '/api/users/bob',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"bob"', '"invitedBy":"root"'] },
    hasNot: { member: ['inviteQuota', 'invite_id'] },
  },
  {
    name: 'an unknown profile',
    method: 'GET',
    path: '/api/users/nobody',
    expect: { guest: [401, 'unauthorized'], member: [404, 'not_found'], admin: [404, 'not_found'] },
  },
  {
    name: 'follow',
    method: 'PUT',
    path: '/api/users/bob/follow',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"following":true'] },
  },
  {
    name: 'followers',
    method: 'GET',
    path: '/api/users/bob/followers',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"alice"'], admin: ['"username":"root"'] },
  },
  {
    name: 'following',
    method: 'GET',
    path: '/api/users/alice/following',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"bob"'] },
  },
  {
    name: 'unfollow',
    method: 'DELETE',
    path: '/api/users/bob/follow',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"following":false'] },
  },
  {
    name: 'follow myself',
    method: 'PUT',
    path: '/api/users/alice/follow',
    expect: { guest: [401, 'unauthorized'], member: [409, 'self_target'], admin: 200 },
  },
  {
    name: 'block',
    method: 'PUT',
    path: '/api/users/carol/block',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
  },
  {
    name: 'my blocks',
    method: 'GET',
    path: '/api/me/blocks',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: { member: ['"username":"carol"'] },
  },
  {
    name: 'unblock',
    method: 'DELETE',
    path: '/api/users/carol/block',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
  },
  {
    name: 'create an invite',
    method: 'POST',
    path: '/api/invites',
    body: { uses: 1, note: 'for a friend' },
    expect: { guest: [401, 'unauthorized'], member: 201, admin: 201 },
    has: { member: ['/invite/', '"state":"pending"'] },
  },
  {
    name: 'list invites',
    method: 'GET',
    path: '/api/invites',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
    has: {
      member: ['"createdBy":"alice"', '"quota":4'],
      admin: ['"createdBy":"bob"', '"createdBy":"root"', '"quota":null'],
    },
    hasNot: { member: ['"createdBy":"bob"', '"createdBy":"root"'] },
  },
  {
    name: "revoke someone else's invite",
    method: 'DELETE',
    path: (f) => `/api/invites/${f.bobInvite}`,
    expect: { guest: [401, 'unauthorized'], member: [404, 'not_found'], admin: 200 },
  },
  {
    name: 'invite tree',
    method: 'GET',
    path: '/api/admin/invite-tree',
    expect: { guest: [401, 'unauthorized'], member: [403, 'forbidden'], admin: 200 },
    has: { admin: ['"username":"bob"', '"children"'] },
  },
  {
    name: 'openapi',
    method: 'GET',
    path: '/openapi/json',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['/api/auth/register', '/api/auth/login', '/api/me'] },
  },
  {
    name: 'unknown API path',
    method: 'GET',
    path: '/api/no/such/thing',
    expect: { guest: [404, 'not_found'], member: [404, 'not_found'], admin: [404, 'not_found'] },
  },
  {
    name: 'an app screen',
    method: 'GET',
    path: '/people',
    expect: { guest: 200, member: 200, admin: 200 },
    has: { guest: ['<div id="app">'] },
  },
  {
    name: 'change password (wrong current)',
    method: 'POST',
    path: '/api/auth/password',
    body: { current: 'not my password', next: 'another long password' },
    expect: { guest: [401, 'unauthorized'], member: [401, 'wrong_password'], admin: [401, 'wrong_password'] },
  },
  // Last: these end the session.
  {
    name: 'sign out everywhere',
    method: 'POST',
    path: '/api/auth/logout-all',
    expect: { guest: [401, 'unauthorized'], member: 200, admin: 200 },
  },
  { name: 'sign out', method: 'POST', path: '/api/auth/logout', expect: { guest: 200, member: 200, admin: 200 } },
]

let s: TestServer
let fx: Fixture
beforeAll(async () => {
  s = await startTestServer()
  await s.ctx.accounts.service.createAdmin('root', PASSWORD)
  const rootId = s.ctx.accounts.api.byName('root')!.id
  // bob joins with root's invite, so his profile says "invited by @root".
  const inv = await s.ctx.invites.service.create(rootId, { uses: 5 })
  await s.ctx.invites.service.register({ username: 'bob', password: PASSWORD, invite: inv.token })
  await s.ctx.invites.service.register({ username: 'alice', password: PASSWORD, invite: inv.token })
  await s.ctx.invites.service.register({ username: 'carol', password: PASSWORD, invite: inv.token })
  const bobInvite = (await s.ctx.invites.service.create(s.ctx.accounts.api.byName('bob')!.id, { uses: 1 })).id
  fx = { adminInvite: inv.id, bobInvite }
})
afterAll(() => s.stop())

const clientFor = async (role: Role) => {
  if (role === 'guest') return new Client(s)
  const c = new Client(s)
  const r = await c.post('/api/auth/login', { username: role === 'admin' ? 'root' : 'alice', password: PASSWORD })
  expect(r.status).toBe(200)
  return c
}

describe('[H6] every route answers each role as the table says', () => {
  for (const role of ['guest', 'member', 'admin'] as Role[]) {
    test(`[H6][H7] ${role}`, async () => {
      const c = await clientFor(role)
      const failures: string[] = []
      for (const row of ROWS) {
        const path = typeof row.path === 'function' ? row.path(fx) : row.path
        const r = await c.req(
          row.method,
          path,
          row.body ?? (row.method === 'GET' || row.method === 'DELETE' ? undefined : {}),
        )
        const want = row.expect[role]
        const [status, code] = Array.isArray(want) ? want : [want, undefined]
        const where = `${role} ${row.method} ${path} (${row.name})`
        if (r.status !== status) failures.push(`${where}: status ${r.status}, want ${status}: ${r.text.slice(0, 160)}`)
        if (code && r.json?.error?.code !== code) failures.push(`${where}: code ${r.json?.error?.code}, want ${code}`)
        if (r.status >= 400 && r.json && (typeof r.json.error?.message !== 'string' || !r.json.error.message))
          failures.push(`${where}: error without a message`)
        for (const sub of r.status < 400 ? (row.has?.[role] ?? []) : [])
          if (!r.text.includes(sub)) failures.push(`${where}: missing ${sub}`)
        for (const sub of [...SECRETS, ...(row.hasNot?.[role] ?? [])])
          if (r.text.includes(sub)) failures.push(`${where}: must not contain ${sub}`)
      }
      expect(failures).toEqual([])
    })
  }
})

test('[W2][W5] the gateway: a guest is refused unless guests may listen; members and admins are greeted', async () => {
  await expect(connectWs(s.url, { origin: s.origin })).rejects.toThrow()
  for (const name of ['alice', 'root']) {
    const c = await clientFor(name === 'root' ? 'admin' : 'member')
    const ws = await connectWs(s.url, { cookie: c.cookie, origin: s.origin })
    expect(ws.hello.user.username).toBe(name)
    ws.close()
  }
  await s.ctx.core.settings.update({ guests: true })
  const guest = await connectWs(s.url, { origin: s.origin })
  expect(guest.hello.user).toBeNull()
  // A guest may ping but not make member requests.
  expect((await guest.request('ping')).ok).toBe(true)
  expect(await guest.request('presence.query', { userIds: [1] })).toMatchObject({
    ok: false,
    error: { code: 'unauthorized' },
  })
  guest.close()
  await s.ctx.core.settings.update({ guests: false })
})

test('[A7] a suspended member is treated as a guest and cannot sign in', async () => {
  const dan = await signedInClient(s, 'dan')
  await s.ctx.accounts.api.setStatus(dan.user.id, 'suspended')
  expect((await dan.get('/api/me')).status).toBe(401)
  const r = await new Client(s).post('/api/auth/login', { username: 'dan', password: PASSWORD })
  expect(r.status).toBe(403)
  expect(r.json.error.code).toBe('account_suspended')
})

test('[H13] /openapi documents the API with each route’s schema', async () => {
  const doc = (await new Client(s).get('/openapi/json')).json
  expect(doc.info.title).toBe('Townhall API')
  for (const [path, method] of [
    ['/api/auth/register', 'post'],
    ['/api/auth/login', 'post'],
    ['/api/auth/logout', 'post'],
    ['/api/me', 'get'],
    ['/healthz', 'get'],
    ['/api/invites', 'post'],
  ])
    expect(doc.paths[path]?.[method]).toBeDefined()
  const register = JSON.stringify(doc.paths['/api/auth/register'].post)
  for (const field of ['username', 'password', 'invite']) expect(register).toContain(`"${field}"`)
  expect((await new Client(s).get('/openapi')).text).toContain('<html')
})
