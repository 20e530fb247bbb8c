// Invites: uses, expiry, revocation, member quotas, registration modes and the invite tree, over real HTTP.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import {
  Client,
  PASSWORD,
  signedInClient,
  startTestServer,
  TEST_PASSWORD_COST,
  type TestServer,
} from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let root: Awaited<ReturnType<typeof signedInClient>>
beforeAll(async () => {
  s = await startTestServer({ INVITE_QUOTA: '2' })
  root = await signedInClient(s, 'root', 'admin')
})
afterAll(() => s.stop())

const tokenOf = (url: string) => url.split('/invite/')[1]!
const register = (username: string, invite?: string) =>
  new Client(s).post('/api/auth/register', { username, password: PASSWORD, ...(invite ? { invite } : {}) })

test('[I1] a 2-use invite registers two people and refuses the third with a clear error', async () => {
  const r = await root.post('/api/invites', { uses: 2, note: 'book club' })
  expect(r.status).toBe(201)
  expect(r.json.url).toStartWith(`${s.origin}/invite/`)
  const token = tokenOf(r.json.url)
  expect(r.json.token).toBe(token)
  expect(token.length).toBeGreaterThanOrEqual(22) // ≥128 bits

  // [I2] only the token's SHA-256 is stored.
  const row = s.ctx.core.db
    .query<{ h: Uint8Array }, [number]>('SELECT token_hash AS h FROM invites WHERE id = ?')
    .get(r.json.invite.id)!
  expect(Buffer.from(row.h).toString('hex')).toBe(new Bun.CryptoHasher('sha256').update(token).digest('hex'))
  expect(JSON.stringify(s.ctx.core.db.query('SELECT * FROM invites').all())).not.toContain(token)

  const check = await new Client(s).get(`/api/invites/${token}/check`)
  expect(check.json.invite).toMatchObject({ invitedBy: 'root', usesLeft: 2 })

  const first = await register('ann', token)
  expect(first.status).toBe(201)
  expect(first.json.user.username).toBe('ann')
  expect(first.headers.get('set-cookie')).toContain('th_session=')
  expect((await register('ben', token)).status).toBe(201)

  const third = await register('cat', token)
  expect(third.status).toBe(410)
  expect(third.json.error).toEqual({ code: 'invite_used_up', message: 'This invite has been used up.' })
  expect(s.ctx.accounts.api.byName('cat')).toBeNull()
  expect((await new Client(s).get(`/api/invites/${token}/check`)).json.error.code).toBe('invite_used_up')

  const list = (await root.get('/api/invites')).json.invites
  expect(list.find((i: any) => i.id === r.json.invite.id)).toMatchObject({
    state: 'used_up',
    uses: 2,
    usesAllowed: 2,
    note: 'book club',
    usedBy: ['ann', 'ben'],
  })
})

test('[I2] expired, revoked and unknown invites refuse sign-up with their own errors', async () => {
  const expired = await s.ctx.invites.service.create(null, { expiresInMs: 1 })
  await Bun.sleep(20)
  const e = await register('dora', expired.token)
  expect(e.status).toBe(410)
  expect(e.json.error.code).toBe('invite_expired')

  const r = await root.post('/api/invites', { uses: 3, expiresInHours: 24 })
  expect(r.json.invite.expiresAt).toBeGreaterThan(Date.now() + 23 * 3_600_000)
  const del = await root.del(`/api/invites/${r.json.invite.id}`)
  expect(del.json).toEqual({ revoked: true })
  expect((await root.del(`/api/invites/${r.json.invite.id}`)).json).toEqual({ revoked: false })
  const v = await register('dora', r.json.token)
  expect(v.status).toBe(410)
  expect(v.json.error.code).toBe('invite_revoked')

  const u = await register('dora', 'x'.repeat(43))
  expect(u.status).toBe(403)
  expect(u.json.error.code).toBe('invite_invalid')
  expect(s.ctx.accounts.api.byName('dora')).toBeNull()

  const states = new Map((await root.get('/api/invites')).json.invites.map((i: any) => [i.id, i.state]))
  expect(states.get(expired.id)).toBe('expired')
  expect(states.get(r.json.invite.id)).toBe('revoked')
})

test('[I3] a member spends their quota; revoking returns the unused uses; admins have no quota', async () => {
  const inv = await s.ctx.invites.service.create(null, {})
  const eve = new Client(s)
  expect(
    (await eve.post('/api/auth/register', { username: 'eve', password: PASSWORD, invite: inv.token })).status,
  ).toBe(201)
  expect((await eve.get('/api/me')).json.user.inviteQuota).toBe(2)

  const a = await eve.post('/api/invites', { uses: 1 })
  expect(a.status).toBe(201)
  const b = await eve.post('/api/invites', { uses: 2 })
  expect(b.status).toBe(403)
  expect(b.json.error.code).toBe('invite_quota')
  expect(b.json.error.message).toContain('1 invite left')
  expect((await eve.post('/api/invites', { uses: 1 })).status).toBe(201)
  const none = await eve.post('/api/invites', { uses: 1 })
  expect(none.json.error.code).toBe('invite_quota')
  expect((await eve.get('/api/invites')).json.quota).toBe(0)

  // Revoking an unused invite gives its use back.
  expect((await eve.del(`/api/invites/${a.json.invite.id}`)).status).toBe(200)
  expect((await eve.get('/api/invites')).json.quota).toBe(1)
  // Someone else's invite is not found for a member.
  const rootInvite = (await root.post('/api/invites', { uses: 1 })).json.invite.id
  expect((await eve.del(`/api/invites/${rootInvite}`)).status).toBe(404)

  // An admin creates as many as they like.
  for (let i = 0; i < 3; i++) expect((await root.post('/api/invites', { uses: 1000 })).status).toBe(201)
})

test("[I2] a suspended or banned member's invites are revoked at once, and work again when restored", async () => {
  const inv = await s.ctx.invites.service.create(null, {})
  const host = new Client(s)
  const reg = await host.post('/api/auth/register', { username: 'inviter_x', password: PASSWORD, invite: inv.token })
  expect(reg.status).toBe(201)
  const token = tokenOf((await host.post('/api/invites', { uses: 2 })).json.url)
  const id = reg.json.user.id
  expect((await root.post(`/api/admin/members/${id}/suspend`, {})).status).toBe(200)
  expect((await new Client(s).get(`/api/invites/${token}/check`)).json.error?.code).toBe('invite_revoked')
  expect((await register('via_suspended', token)).json.error?.code).toBe('invite_revoked')
  expect((await root.post(`/api/admin/members/${id}/unsuspend`)).status).toBe(200)
  expect((await register('via_restored', token)).status).toBe(201)
  expect((await root.post(`/api/admin/members/${id}/ban`, {})).status).toBe(200)
  expect((await register('via_banned', token)).json.error?.code).toBe('invite_revoked')
})

test('[I4] registration records who invited whom: profiles and the invite tree', async () => {
  const r = await root.post('/api/invites', { uses: 1 })
  const fay = new Client(s)
  expect(
    (
      await fay.post('/api/auth/register', {
        username: 'fay',
        password: PASSWORD,
        invite: r.json.token,
        displayName: 'Fay F.',
      })
    ).status,
  ).toBe(201)
  const fi = await fay.post('/api/invites', { uses: 1 })
  expect((await register('gus', fi.json.token)).status).toBe(201)
  const cli = await s.ctx.invites.service.create(null, {})
  expect((await register('hal', cli.token)).status).toBe(201)

  const gus = s.ctx.accounts.api.byName('gus')!
  expect(gus.invitedBy).toBe(s.ctx.accounts.api.byName('fay')!.id)
  expect(gus.inviteId).toBe(fi.json.invite.id)
  expect((await root.get('/api/users/gus')).json.profile.invitedBy).toBe('fay')
  expect((await root.get('/api/users/fay')).json.profile).toMatchObject({ invitedBy: 'root', displayName: 'Fay F.' })
  expect((await root.get('/api/users/hal')).json.profile.invitedBy).toBeNull()

  const tree = (await root.get('/api/admin/invite-tree')).json.tree
  const find = (nodes: any[], name: string): any => {
    for (const n of nodes) {
      if (n.username === name) return n
      const f = find(n.children, name)
      if (f) return f
    }
    return null
  }
  const rootNode = tree.find((n: any) => n.username === 'root')
  expect(rootNode.children.map((c: any) => c.username)).toEqual(expect.arrayContaining(['ann', 'ben', 'fay']))
  expect(find(rootNode.children, 'fay').children.map((c: any) => c.username)).toEqual(['gus'])
  // Invited from the CLI: a root of its own.
  expect(tree.map((n: any) => n.username)).toContain('hal')
  expect(find(rootNode.children, 'hal')).toBeNull()
})

test('[I5] registration modes: invite needs an invite, open needs none, closed refuses everyone', async () => {
  const none = await register('ivy')
  expect(none.status).toBe(403)
  expect(none.json.error.code).toBe('invite_required')

  await s.ctx.core.settings.update({ registration: 'open' })
  expect((await new Client(s).get('/api/registration')).json.mode).toBe('open')
  expect((await register('ivy')).status).toBe(201)
  expect(s.ctx.accounts.api.byName('ivy')!.invitedBy).toBeNull()

  await s.ctx.core.settings.update({ registration: 'closed' })
  const inv = await s.ctx.invites.service.create(null, {})
  const closed = await register('jay', inv.token)
  expect(closed.status).toBe(403)
  expect(closed.json.error.code).toBe('registration_closed')
  // The refused sign-up did not spend the invite.
  expect((await s.ctx.invites.service.store.byId(inv.id))!.uses).toBe(0)
  await s.ctx.core.settings.update({ registration: 'invite' })
})

const COSTS = "[A1] a password is stored as an argon2id hash only: at the server's cost (64 MiB, 2 passes) unless set"
test(COSTS, async () => {
  const hashOf = (t: TestServer, id: number) =>
    t.ctx.core.db.query<{ h: string }, [number]>('SELECT password_hash AS h FROM users WHERE id = ?').get(id)!.h
  const own = await startTestServer({}, { passwordCost: 'server' })
  try {
    const m = await signedInClient(own, 'full_cost')
    expect(hashOf(own, m.user.id)).toMatch(/^\$argon2id\$v=19\$m=65536,t=2,p=1\$/)
  } finally {
    await own.stop()
  }
  // The other tests' servers: argon2id too, at the cheap cost test/helpers/server.ts gives them.
  const m = await signedInClient(s, 'test_cost')
  const { memoryCost, timeCost } = TEST_PASSWORD_COST
  expect(hashOf(s, m.user.id)).toStartWith(`$argon2id$v=19$m=${memoryCost},t=${timeCost},p=1$`)
  expect(hashOf(s, m.user.id)).not.toContain(PASSWORD)
})

test('[A1] usernames are unique ignoring case; a taken name does not spend the invite', async () => {
  const inv = await s.ctx.invites.service.create(null, { uses: 2 })
  const r = await register('ANN', inv.token)
  expect(r.status).toBe(409)
  expect(r.json.error.code).toBe('username_taken')
  expect((await s.ctx.invites.service.store.byId(inv.id))!.uses).toBe(0)
  // Sign-in ignores case too.
  expect((await new Client(s).post('/api/auth/login', { username: 'Ann', password: PASSWORD })).status).toBe(200)
})
