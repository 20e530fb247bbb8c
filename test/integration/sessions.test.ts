// Sessions: random tokens of ≥128 bits, only their SHA-256 on disk, cookie flags, sign-out, sign-out everywhere,
// password change; and the profile, avatar, follow and block rules.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { createHash } from 'node:crypto'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { Client, PASSWORD, signedInClient, signIn, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(() => s.stop())

const tokenOf = (setCookie: string) => setCookie.split(';')[0]!.split('=').slice(1).join('=')

test('[A2] a session token has ≥128 random bits and only its SHA-256 is stored', async () => {
  await signedInClient(s, 'alice')
  const c1 = new Client(s),
    c2 = new Client(s)
  const r1 = await c1.post('/api/auth/login', { username: 'alice', password: PASSWORD })
  const r2 = await c2.post('/api/auth/login', { username: 'alice', password: PASSWORD })
  const t1 = tokenOf(r1.headers.get('set-cookie')!),
    t2 = tokenOf(r2.headers.get('set-cookie')!)
  expect(t1).not.toBe(t2)
  expect(t1).toMatch(/^[A-Za-z0-9_-]+$/)
  expect(Buffer.from(t1, 'base64url').length * 8).toBeGreaterThanOrEqual(128)

  // Read the database file itself (a separate connection, like an attacker with a copy of the data folder).
  const file = join(s.dataDir, 'townhall.db')
  const db = new Database(file, { readonly: true })
  const hashes = db
    .query<{ h: Uint8Array }, []>('SELECT token_hash AS h FROM sessions')
    .all()
    .map((r) => Buffer.from(r.h).toString('hex'))
  const pw = db.query<{ p: string }, []>(`SELECT password_hash AS p FROM users WHERE username = 'alice'`).get()!.p
  db.close()
  for (const t of [t1, t2]) expect(hashes).toContain(createHash('sha256').update(t).digest('hex'))
  expect(pw).toStartWith('$argon2id$')
  expect(pw).not.toContain(PASSWORD)
  const bytes = Buffer.concat([file, file + '-wal'].filter(existsSync).map((f) => readFileSync(f)))
  for (const secret of [t1, t2, PASSWORD]) expect(bytes.includes(Buffer.from(secret))).toBe(false)
})

test('[A2] the cookie is HttpOnly, SameSite=Lax, Path=/, and has no Secure flag on plain http', async () => {
  const r = await new Client(s).post('/api/auth/login', { username: 'alice', password: PASSWORD })
  const c = r.headers.get('set-cookie')!
  expect(c).toStartWith('th_session=')
  expect(c).toContain('HttpOnly')
  expect(c).toContain('SameSite=Lax')
  expect(c).toContain('Path=/')
  expect(c).not.toContain('Secure')
  expect(c).not.toContain('Domain=')
  const expires = Date.parse(/Expires=([^;]+)/.exec(c)![1]!)
  expect(expires).toBeGreaterThan(Date.now() + 29 * 86_400_000)
})

test('[A2] with an https PUBLIC_URL the cookie is Secure and named __Host-', async () => {
  const t = await startTestServer({ PUBLIC_URL: 'https://town.example.org', SESSION_DAYS: '7' })
  try {
    const bob = await signedInClient(t, 'bob')
    const r = await new Client(t).post('/api/auth/login', { username: 'bob', password: PASSWORD })
    const c = r.headers.get('set-cookie')!
    expect(c).toStartWith('__Host-th_session=')
    expect(c).toContain('Secure')
    expect(c).toContain('Path=/')
    expect(c).not.toContain('Domain=')
    expect(Date.parse(/Expires=([^;]+)/.exec(c)![1]!)).toBeLessThan(Date.now() + 8 * 86_400_000)
    expect((await bob.get('/api/me')).json.user.username).toBe('bob')
    // The plain name is not accepted on a secure server.
    const plain = await new Client(t).req('GET', '/api/me', undefined, { cookie: bob.cookie.replace('__Host-', '') })
    expect(plain.status).toBe(401)
    // The Origin check uses PUBLIC_URL's origin.
    expect(
      (
        await new Client({ url: t.url, origin: 'https://town.example.org' }).post('/api/auth/login', {
          username: 'bob',
          password: PASSWORD,
        })
      ).status,
    ).toBe(200)
    expect(
      (
        await new Client({ url: t.url, origin: 'http://town.example.org' }).post('/api/auth/login', {
          username: 'bob',
          password: PASSWORD,
        })
      ).status,
    ).toBe(403)
  } finally {
    await t.stop()
  }
})

test('[A3] sign-out ends this session only; its cookie stops working and its sockets close', async () => {
  const a = await signedInClient(s, 'carl')
  const b = await signIn(s, 'carl')
  const oldCookie = a.cookie
  const ws = await connectWs(s.url, { cookie: a.cookie, origin: s.origin })
  const r = await a.post('/api/auth/logout')
  expect(r.status).toBe(200)
  expect(r.headers.get('set-cookie')).toContain('Max-Age=0')
  expect(a.cookie).toBe('')
  expect((await ws.waitClosed()).code).toBe(4001)
  expect((await new Client(s).req('GET', '/api/me', undefined, { cookie: oldCookie })).status).toBe(401)
  expect((await b.get('/api/me')).status).toBe(200)
})

test('[A3] sign-out everywhere ends every session and closes every socket of the member', async () => {
  const a = await signedInClient(s, 'dina')
  const b = await signIn(s, 'dina')
  const other = await signedInClient(s, 'ed')
  const wsA = await connectWs(s.url, { cookie: a.cookie, origin: s.origin })
  const wsB = await connectWs(s.url, { cookie: b.cookie, origin: s.origin })
  const wsOther = await connectWs(s.url, { cookie: other.cookie, origin: s.origin })
  const bCookie = b.cookie
  expect((await a.post('/api/auth/logout-all')).status).toBe(200)
  expect((await wsA.waitClosed()).code).toBe(4001)
  expect((await wsB.waitClosed()).code).toBe(4001)
  expect((await new Client(s).req('GET', '/api/me', undefined, { cookie: bCookie })).status).toBe(401)
  expect((await other.get('/api/me')).status).toBe(200)
  expect((await wsOther.request('ping')).ok).toBe(true)
  wsOther.close()
})

test('[A3] changing the password keeps this session, ends the others, and the old password stops working', async () => {
  const a = await signedInClient(s, 'fern')
  const b = await signIn(s, 'fern')
  const next = 'a brand new passphrase'
  const wsA = await connectWs(s.url, { cookie: a.cookie, origin: s.origin })
  const wsB = await connectWs(s.url, { cookie: b.cookie, origin: s.origin })
  const wrong = await a.post('/api/auth/password', { current: 'not it at all', next })
  expect(wrong.json.error.code).toBe('wrong_password')
  expect((await a.post('/api/auth/password', { current: PASSWORD, next })).status).toBe(200)
  expect((await a.get('/api/me')).status).toBe(200)
  expect((await b.get('/api/me')).status).toBe(401)
  expect((await wsB.waitClosed()).code).toBe(4001)
  expect((await wsA.request('ping')).ok).toBe(true)
  wsA.close()
  expect((await new Client(s).post('/api/auth/login', { username: 'fern', password: PASSWORD })).status).toBe(401)
  expect((await new Client(s).post('/api/auth/login', { username: 'fern', password: next })).status).toBe(200)
})

test('[A2] an unknown user and a wrong password get the same answer', async () => {
  const x = await new Client(s).post('/api/auth/login', { username: 'nobody_here', password: 'whatever123' })
  const y = await new Client(s).post('/api/auth/login', { username: 'alice', password: 'whatever123' })
  expect(x.status).toBe(401)
  expect(x.json).toEqual(y.json)
})

test('[A4] profile edits; avatars are checked by content, stored under uploads/ and served back', async () => {
  const g = await signedInClient(s, 'gail')
  const r = await g.patch('/api/me', { displayName: '  Gail G  ', bio: 'Runs the book club.' })
  expect(r.json.user).toMatchObject({ displayName: 'Gail G', bio: 'Runs the book club.' })
  // A real PNG, named nothing in particular, sent as octet-stream.
  const png = readFileSync(join(import.meta.dir, '../../client/icons/icon-192.png'))
  const up = await g.req('PUT', '/api/me/avatar', new Uint8Array(png), { 'content-type': 'application/octet-stream' })
  expect(up.status).toBe(200)
  expect(up.json.user.avatar).toMatch(/^\/api\/avatars\/\d+-[\w-]+\.png$/)
  const img = await fetch(s.url + up.json.user.avatar)
  expect(img.status).toBe(200)
  expect(img.headers.get('x-content-type-options')).toBe('nosniff')
  expect(Buffer.from(await img.arrayBuffer()).equals(png)).toBe(true)
  const file = up.json.user.avatar.split('/').pop()
  expect(existsSync(join(s.dataDir, 'uploads', 'avatars', file))).toBe(true)
  // Replacing and removing deletes the old file.
  expect((await g.del('/api/me/avatar')).status).toBe(200)
  expect(existsSync(join(s.dataDir, 'uploads', 'avatars', file))).toBe(false)
  expect((await g.get('/api/me')).json.user.avatar).toBeNull()
})

test('[A5] follow, unfollow, lists and counts; blocking removes follows both ways and hides the blocker', async () => {
  const h = await signedInClient(s, 'hana')
  const i = await signedInClient(s, 'ivan')
  expect((await h.put('/api/users/ivan/follow')).status).toBe(200)
  expect((await h.put('/api/users/ivan/follow')).status).toBe(200) // idempotent
  expect((await i.put('/api/users/HANA/follow')).status).toBe(200)
  const p = (await h.get('/api/users/ivan')).json.profile
  expect(p).toMatchObject({ followers: 1, following: 1, isFollowing: true, followsYou: true, isSelf: false })
  expect((await h.get('/api/users/ivan/followers')).json.users.map((u: any) => u.username)).toEqual(['hana'])
  expect((await h.get('/api/users/hana/following')).json.users.map((u: any) => u.username)).toEqual(['ivan'])
  expect(s.ctx.accounts.api.isFollowing(h.user.id, i.user.id)).toBe(true)

  expect((await h.del('/api/users/ivan/follow')).status).toBe(200)
  expect((await h.get('/api/users/ivan')).json.profile.followers).toBe(0)
  expect((await h.put('/api/users/ivan/follow')).status).toBe(200)

  expect((await i.put('/api/users/hana/block')).status).toBe(200)
  expect(s.ctx.accounts.api.blockedEither(h.user.id, i.user.id)).toBe(true)
  expect((await i.get('/api/users/hana/following')).json.users).toEqual([])
  expect((await h.get('/api/users/ivan')).status).toBe(404)
  expect((await h.put('/api/users/ivan/follow')).json.error.code).toBe('not_found')
  expect((await h.get('/api/users?q=iv')).json.users.map((u: any) => u.username)).not.toContain('ivan')
  expect((await i.get('/api/users/hana')).json.profile.blocked).toBe(true)
  expect((await i.put('/api/users/hana/follow')).json.error.code).toBe('unblock_first')
  expect((await i.del('/api/users/hana/block')).status).toBe(200)
  expect((await h.get('/api/users/ivan')).status).toBe(200)
})

test('[W4] followers hear when a member comes online and goes offline', async () => {
  const j = await signedInClient(s, 'jo')
  const k = await signedInClient(s, 'kai')
  await j.put('/api/users/kai/follow')
  const wsJ = await connectWs(s.url, { cookie: j.cookie, origin: s.origin })
  const wsK = await connectWs(s.url, { cookie: k.cookie, origin: s.origin })
  expect(await wsJ.next((m) => m.type === 'presence')).toEqual({ type: 'presence', userId: k.user.id, online: true })
  expect((await wsJ.request('presence.query', { userIds: [k.user.id, 99999] })).online).toEqual([k.user.id])
  wsK.close()
  expect(await wsJ.next((m) => m.type === 'presence')).toEqual({ type: 'presence', userId: k.user.id, online: false })
  wsJ.close()
})

test('[A5] someone who blocked me is not in the followers or following lists I see', async () => {
  const l = await signedInClient(s, 'lena')
  const m = await signedInClient(s, 'milo')
  const n = await signedInClient(s, 'nora')
  // milo and lena both follow nora, and nora follows both; then milo blocks lena.
  for (const [c, who] of [
    [l, 'nora'],
    [m, 'nora'],
    [n, 'lena'],
    [n, 'milo'],
  ] as const)
    expect((await c.put(`/api/users/${who}/follow`)).status).toBe(200)
  expect((await m.put('/api/users/lena/block')).status).toBe(200)
  const names = async (path: string) => (await l.get(path)).json.users.map((u: any) => u.username)
  expect(await names('/api/users/nora/followers')).toEqual(['lena'])
  expect(await names('/api/users/nora/following')).toEqual(['lena'])
  // milo still sees lena there: only the blocker is hidden, from the one they blocked.
  expect((await m.get('/api/users/nora/followers')).json.users.map((u: any) => u.username).sort()).toEqual([
    'lena',
    'milo',
  ])
})

test('[W4] presence.query does not tell me whether someone who blocked me is online', async () => {
  const o = await signedInClient(s, 'olga')
  const p = await signedInClient(s, 'pete')
  expect((await p.put('/api/users/olga/block')).status).toBe(200)
  const wsO = await connectWs(s.url, { cookie: o.cookie, origin: s.origin })
  const wsP = await connectWs(s.url, { cookie: p.cookie, origin: s.origin })
  expect((await wsO.request('presence.query', { userIds: [p.user.id, o.user.id] })).online).toEqual([o.user.id])
  expect((await wsP.request('presence.query', { userIds: [o.user.id] })).online).toEqual([o.user.id])
  wsO.close()
  wsP.close()
})
