// The admin API: who may call what, members (suspend, ban, roles, reset links), invite-tree branches, reports,
// settings, backups, the audit log and /metrics. Real server, real SQLite, real sockets.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { member as roomMember, ok, roomWith } from '../helpers/members'
import { memberKey } from '../../server/contracts'
import { TEST_LIMIT, until } from '../helpers/limits'
import { backupDatabase } from '../helpers/backup'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let admin: Awaited<ReturnType<typeof signedInClient>>
let member: Awaited<ReturnType<typeof signedInClient>>
beforeAll(async () => {
  s = await startTestServer({ METRICS_TOKEN: 'metrics-secret-123' })
  admin = await signedInClient(s, 'boss', 'admin')
  member = await signedInClient(s, 'plain')
})
afterAll(() => s.stop())

const audit = async (action: string) => (await admin.get(`/api/admin/audit?action=${action}`)).json.entries as any[]

describe('[D1] permission table for every admin route: guest 401, member 403, admin allowed', () => {
  const routes: [string, string, unknown?][] = [
    ['GET', '/api/admin/stats'],
    ['GET', '/api/admin/members'],
    ['GET', '/api/admin/tree'],
    ['GET', '/api/admin/reports'],
    ['GET', '/api/admin/settings'],
    ['PATCH', '/api/admin/settings', { guests: false }],
    ['GET', '/api/admin/backups'],
    ['POST', '/api/admin/backups'],
    ['GET', '/api/admin/audit'],
    ['GET', '/api/admin/invite-tree'],
    ['POST', '/api/admin/members/{m}/suspend', {}],
    ['POST', '/api/admin/members/{m}/unsuspend'],
    ['POST', '/api/admin/members/{m}/ban', {}],
    ['POST', '/api/admin/members/{m}/unban'],
    ['PUT', '/api/admin/members/{m}/role', { role: 'member' }],
    ['POST', '/api/admin/members/{m}/reset-link'],
    ['POST', '/api/admin/tree/{m}/revoke', { suspend: false }],
    ['PATCH', '/api/admin/reports/{r}', { status: 'dismissed' }],
    ['GET', '/api/admin/backups/{b}'],
    ['DELETE', '/api/admin/backups/{b}'],
  ]
  let target: Awaited<ReturnType<typeof signedInClient>>
  let reportId = 0,
    backup = ''
  beforeAll(async () => {
    target = await signedInClient(s, 'permtarget')
    reportId = (
      await member.post('/api/reports', { targetType: 'member', targetId: target.user.id, reason: 'permission table' })
    ).json.report.id
    backup = (await admin.post('/api/admin/backups')).json.backup.name
  })
  const fill = (p: string) =>
    p.replace('{m}', String(target.user.id)).replace('{r}', String(reportId)).replace('{b}', backup)
  for (const [method, path, body] of routes) {
    test(`${method} ${path}`, async () => {
      const guest = await new Client(s).req(method, fill(path), body)
      expect([guest.status, guest.json?.error?.code]).toEqual([401, 'unauthorized'])
      const m = await member.req(method, fill(path), body)
      expect([m.status, m.json?.error?.code]).toEqual([403, 'forbidden'])
      const a = await admin.req(method, fill(path), body)
      expect(a.status).toBeLessThan(300)
    })
  }
})

test('[D2] suspending a member ends their sessions and sockets, refuses sign-in; unsuspending undoes it', async () => {
  const sam = await signedInClient(s, 'sam')
  const ws = await connectWs(s.url, { cookie: sam.cookie, origin: s.origin })
  const r = await admin.post(`/api/admin/members/${sam.user.id}/suspend`, { reason: 'cool off' })
  expect(r.json.member.status).toBe('suspended')
  expect((await ws.waitClosed()).code).toBe(4001)
  expect((await sam.get('/api/me')).status).toBe(401)
  const login = await new Client(s).post('/api/auth/login', { username: 'sam', password: PASSWORD })
  expect([login.status, login.json.error.code]).toEqual([403, 'account_suspended'])
  await expect(connectWs(s.url, { cookie: sam.cookie, origin: s.origin })).rejects.toThrow()
  expect((await admin.post(`/api/admin/members/${sam.user.id}/unsuspend`)).json.member.status).toBe('active')
  expect((await new Client(s).post('/api/auth/login', { username: 'sam', password: PASSWORD })).status).toBe(200)
  const entries = await audit('member.')
  expect(entries.find((e) => e.action === 'member.suspend' && e.targetId === String(sam.user.id))).toMatchObject({
    actor: 'boss',
    details: { reason: 'cool off' },
  })
  expect(entries.find((e) => e.action === 'member.unsuspend' && e.targetId === String(sam.user.id))).toBeTruthy()
})

test('[D3] a ban closes every socket of the member within a second and hides them', async () => {
  const bart = await signedInClient(s, 'bart')
  const tab1 = await connectWs(s.url, { cookie: bart.cookie, origin: s.origin })
  const tab2 = await connectWs(s.url, { cookie: bart.cookie, origin: s.origin })
  const p256dh = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url')
  await s.ctx.push.service.store.upsert({
    userId: bart.user.id,
    endpoint: 'https://push.example/bart',
    p256dh,
    auth: Buffer.alloc(16, 1).toString('base64url'),
    userAgent: 'test',
  })
  await admin.post(`/api/admin/members/${bart.user.id}/ban`, { reason: 'spam' })
  const closed = await Promise.all([tab1.waitClosed(), tab2.waitClosed()])
  expect(closed.map((c) => c.code)).toEqual([4001, 4001])
  expect(s.ctx.hub.isOnline(bart.user.id)).toBe(false)
  expect(await s.ctx.push.service.store.byUser(bart.user.id)).toHaveLength(0)
  expect((await member.get('/api/users/bart')).status).toBe(404)
  expect((await new Client(s).post('/api/auth/login', { username: 'bart', password: PASSWORD })).status).toBe(403)
  expect((await audit('member.ban')).some((e) => e.targetId === String(bart.user.id))).toBe(true)
})

test('[D3] a ban removes the member from the rooms they are in at once', async () => {
  const host = await roomMember(s, 'dh'),
    guest = await roomMember(s, 'dg')
  const room = await roomWith(host, [guest])
  expect(s.ctx.rooms.api.participant(room.id, memberKey(guest.id))).not.toBeNull()
  const left = host.ws.next((e) => JSON.stringify(e).includes(`u:${guest.id}`) || e.userId === guest.id)
  await admin.post(`/api/admin/members/${guest.id}/ban`, {})
  expect(s.ctx.rooms.api.participant(room.id, memberKey(guest.id))).toBeNull()
  expect(s.ctx.rooms.api.participants(room.id).map((p) => p.userId)).toEqual([host.id])
  await left // the others in the room hear about it
  host.ws.close()
})

test('[D4] admins cannot be suspended or banned, nobody acts on themselves, unknown ids are not found', async () => {
  const other = await signedInClient(s, 'otheradmin', 'admin')
  expect((await admin.post(`/api/admin/members/${other.user.id}/ban`, {})).json.error.code).toBe('admin_demote_first')
  expect((await admin.post(`/api/admin/members/${admin.user.id}/suspend`, {})).json.error.code).toBe('admin_self')
  expect((await admin.put(`/api/admin/members/${admin.user.id}/role`, { role: 'member' })).json.error.code).toBe(
    'admin_self',
  )
  expect((await admin.post('/api/admin/members/99999/ban', {})).status).toBe(404)
  expect((await admin.post('/api/admin/members/abc/ban', {})).status).toBe(422)
  expect((await admin.put(`/api/admin/members/${member.user.id}/role`, { role: 'owner' })).status).toBe(422)
})

test('[D5] making a member admin takes effect at once and is audited', async () => {
  const mia = await signedInClient(s, 'mia')
  expect((await mia.get('/api/admin/stats')).status).toBe(403)
  expect((await admin.put(`/api/admin/members/${mia.user.id}/role`, { role: 'admin' })).json.member.role).toBe('admin')
  expect((await mia.get('/api/admin/stats')).status).toBe(200)
  expect((await admin.put(`/api/admin/members/${mia.user.id}/role`, { role: 'member' })).json.member.role).toBe(
    'member',
  )
  expect((await mia.get('/api/admin/stats')).status).toBe(403)
  const acts = (await audit('member.')).filter((e) => e.targetId === String(mia.user.id)).map((e) => e.action)
  expect(acts).toEqual(['member.remove_admin', 'member.make_admin'])
})

test("[D6] a password-reset link works once, sets the password and ends the member's sessions", async () => {
  const rita = await signedInClient(s, 'rita')
  const link = await admin.post(`/api/admin/members/${rita.user.id}/reset-link`)
  expect(link.status).toBe(201)
  const token = new URL(link.json.url).pathname.split('/').pop()!
  expect(new URL(link.json.url).pathname).toBe(`/reset/${token}`)
  const anon = new Client(s)
  expect((await anon.get(`/api/reset/${token}`)).json.reset.username).toBe('rita')
  expect((await anon.post(`/api/reset/${token}`, { password: 'short' })).status).toBe(422)
  expect((await anon.post(`/api/reset/${token}`, { password: 'a brand new password' })).json.reset.username).toBe(
    'rita',
  )
  expect((await rita.get('/api/me')).status).toBe(401)
  expect((await anon.post(`/api/reset/${token}`, { password: 'another new password' })).json.error.code).toBe(
    'reset_invalid',
  )
  expect((await anon.get('/api/reset/nonsense')).status).toBe(410)
  expect(
    (await new Client(s).post('/api/auth/login', { username: 'rita', password: 'a brand new password' })).status,
  ).toBe(200)
  // a newer link replaces the older one
  const l1 = new URL((await admin.post(`/api/admin/members/${rita.user.id}/reset-link`)).json.url).pathname
    .split('/')
    .pop()
  const l2 = new URL((await admin.post(`/api/admin/members/${rita.user.id}/reset-link`)).json.url).pathname
    .split('/')
    .pop()
  expect((await anon.get(`/api/reset/${l1}`)).status).toBe(410)
  expect((await anon.get(`/api/reset/${l2}`)).status).toBe(200)
  expect((await audit('member.reset_link')).filter((e) => e.targetId === String(rita.user.id))).toHaveLength(3)
  expect((await audit('member.password_reset')).some((e) => e.targetId === String(rita.user.id))).toBe(true)
})

test(
  '[D7] revoking a branch revokes exactly the unused invites of that member and everyone below; ' +
    'suspension is optional and only below',
  async () => {
    // root(admin) ─ ann ─ ann1 ─ ann11
    //                  └ ann2
    //             └ ben ─ ben1
    const join = async (inviter: Awaited<ReturnType<typeof signedInClient>>, name: string) => {
      const inv = await inviter.post('/api/invites', { uses: 1 })
      const c = new Client(s)
      const r = await c.post('/api/auth/register', { username: name, password: PASSWORD, invite: inv.json.token })
      expect(r.status).toBe(201)
      return Object.assign(c, { user: r.json.user as { id: number; username: string } })
    }
    const ann = await join(admin, 'ann'),
      ben = await join(admin, 'ben')
    const ann1 = await join(ann, 'ann1'),
      ann2 = await join(ann, 'ann2'),
      ann11 = await join(ann1, 'ann11'),
      ben1 = await join(ben, 'ben1')
    const pending: Record<string, number[]> = {}
    for (const [name, c] of Object.entries({ ann, ann1, ann2, ann11, ben, ben1, boss: admin })) {
      pending[name] = [(await c.post('/api/invites', { uses: 1 })).json.invite.id]
    }
    const tree = (await admin.get('/api/admin/tree')).json.tree
    const find = (nodes: any[], name: string): any =>
      nodes.map((n) => (n.username === name ? n : find(n.children, name))).find(Boolean)
    expect(
      find(tree, 'ann')
        .children.map((c: any) => c.username)
        .sort(),
    ).toEqual(['ann1', 'ann2'])
    expect(find(tree, 'ann').pendingInvites).toBe(1)
    const r = await admin.post(`/api/admin/tree/${ann.user.id}/revoke`, { suspend: true })
    expect(r.status).toBe(200)
    const expected = ['ann', 'ann1', 'ann2', 'ann11'].flatMap((n) => pending[n]!).sort((a, b) => a - b)
    expect([...r.json.revoked].sort((a: number, b: number) => a - b)).toEqual(expected)
    expect(r.json.suspended.sort()).toEqual(['ann1', 'ann11', 'ann2'])
    const states = Object.fromEntries(
      ((await admin.get('/api/invites')).json.invites as any[]).map((i) => [i.id, i.state]),
    )
    for (const n of ['ann', 'ann1', 'ann2', 'ann11']) expect(states[pending[n]![0]!]).toBe('revoked')
    for (const n of ['ben', 'ben1', 'boss']) expect(states[pending[n]![0]!]).toBe('pending')
    const status = (name: string) => s.ctx.accounts.api.byName(name)!.status
    expect([status('ann'), status('ann1'), status('ann2'), status('ann11'), status('ben'), status('ben1')]).toEqual([
      'active',
      'suspended',
      'suspended',
      'suspended',
      'active',
      'active',
    ])
    expect((await ann1.get('/api/me')).status).toBe(401)
    // Without suspension, only invites go.
    const r2 = await admin.post(`/api/admin/tree/${ben.user.id}/revoke`, {})
    expect(r2.json).toEqual({ revoked: [...pending.ben!, ...pending.ben1!], suspended: [] })
    expect(status('ben1')).toBe('active')
    expect((await audit('invite.revoke_branch')).map((e) => e.details.username).slice(0, 2)).toEqual(['ben', 'ann'])
    expect((await admin.post('/api/admin/tree/99999/revoke', {})).status).toBe(404)
  },
)

test('[D8] members report a member, a room or a message with a reason; admins work the queue', async () => {
  const rex = await signedInClient(s, 'rex')
  const bad = [
    { targetType: 'member', targetId: rex.user.id, reason: 'x' },
    { targetType: 'planet', targetId: 1, reason: 'because' },
    { targetType: 'member', targetId: 0, reason: 'because' },
    { targetType: 'member', targetId: rex.user.id, reason: 'x'.repeat(1001) },
  ]
  for (const b of bad) expect((await member.post('/api/reports', b)).status).toBe(422)
  expect(
    (await new Client(s).post('/api/reports', { targetType: 'member', targetId: rex.user.id, reason: 'spam' })).status,
  ).toBe(401)
  expect(
    (await member.post('/api/reports', { targetType: 'member', targetId: member.user.id, reason: 'myself' })).json.error
      .code,
  ).toBe('report_self')
  expect((await member.post('/api/reports', { targetType: 'member', targetId: 99999, reason: 'ghost' })).status).toBe(
    404,
  )
  expect(
    (await member.post('/api/reports', { targetType: 'room', targetId: 99999, reason: 'no such room' })).status,
  ).toBe(404)
  expect(
    (await member.post('/api/reports', { targetType: 'message', targetId: 99999, reason: 'no such message' })).status,
  ).toBe(404)
  const r = await member.post('/api/reports', {
    targetType: 'member',
    targetId: rex.user.id,
    reason: 'posts spam links',
  })
  expect(r.status).toBe(201)
  expect(
    (await member.post('/api/reports', { targetType: 'member', targetId: rex.user.id, reason: 'again' })).json.error
      .code,
  ).toBe('report_duplicate')
  const queue = (await admin.get('/api/admin/reports')).json.reports as any[]
  const mine = queue.find((x) => x.id === r.json.report.id)
  expect(mine).toMatchObject({
    reporter: 'plain',
    reason: 'posts spam links',
    status: 'open',
    target: { type: 'member', username: 'rex' },
  })
  const done = await admin.patch(`/api/admin/reports/${mine.id}`, { status: 'resolved', note: 'warned' })
  expect(done.json.report).toMatchObject({ status: 'resolved', handledBy: 'boss', note: 'warned' })
  expect(((await admin.get('/api/admin/reports')).json.reports as any[]).some((x) => x.id === mine.id)).toBe(false)
  expect(
    ((await admin.get('/api/admin/reports?status=resolved')).json.reports as any[]).some((x) => x.id === mine.id),
  ).toBe(true)
  expect((await admin.patch(`/api/admin/reports/${mine.id}`, { status: 'gone' })).status).toBe(422)
  expect((await audit('report.resolve')).some((e) => e.targetId === String(mine.id))).toBe(true)
  // once handled, the same member may report again
  expect(
    (await member.post('/api/reports', { targetType: 'member', targetId: rex.user.id, reason: 'still spamming' }))
      .status,
  ).toBe(201)
})

test('[D8] a room, and a message the reporter can see, can be reported; the queue shows what they are', async () => {
  const host = await roomMember(s, 'rh'),
    fan = await roomMember(s, 'rf'),
    outsider = await roomMember(s, 'ro')
  const room = await roomWith(host, [fan], { title: 'Loud room' })
  await fan.http.put(`/api/users/${host.name}/follow`)
  const thread = (await ok(host, 'bc.dm', { username: fan.name })).thread.id
  const msg = (await ok(host, 'bc.send', { threadId: thread, clientId: 'rep-1', body: 'buy my coins' })).message
  const rr = await fan.http.post('/api/reports', { targetType: 'room', targetId: room.id, reason: 'shouting' })
  const mr = await fan.http.post('/api/reports', { targetType: 'message', targetId: msg.id, reason: 'scam' })
  expect([rr.status, mr.status]).toEqual([201, 201])
  expect(
    (await outsider.http.post('/api/reports', { targetType: 'message', targetId: msg.id, reason: 'not mine to see' }))
      .status,
  ).toBe(404)
  const queue = (await admin.get('/api/admin/reports')).json.reports as any[]
  expect(queue.find((x) => x.id === rr.json.report.id).target).toMatchObject({
    type: 'room',
    title: 'Loud room',
    host: host.name,
  })
  expect(queue.find((x) => x.id === mr.json.report.id).target).toMatchObject({
    type: 'message',
    body: 'buy my coins',
    author: host.name,
    authorId: host.id,
  })
  for (const m of [host, fan, outsider]) m.ws.close()
})

test('[D8] reporting a room one may not see (closed, not invited) gets not found, as for no room', async () => {
  const host = await signedInClient(s, 'secrethost'),
    stranger = await signedInClient(s, 'stranger')
  const room = (
    await host.post('/api/rooms', { title: 'Closed door', kind: 'closed', startsAt: Date.now() + 3_600_000 })
  ).json.room
  expect((await stranger.get(`/api/rooms/${room.id}`)).status).toBe(404)
  expect(
    (await stranger.post('/api/reports', { targetType: 'room', targetId: room.id, reason: 'what is behind it' }))
      .status,
  ).toBe(404)
  expect(
    (await host.post('/api/reports', { targetType: 'room', targetId: room.id, reason: 'my own room, seen' })).status,
  ).toBe(201)
})

test('[D8] a message of a group I was removed from cannot be reported any more', async () => {
  const owner = await roomMember(s, 'go'),
    gone = await roomMember(s, 'gx')
  await gone.http.put(`/api/users/${owner.name}/follow`)
  const g = (await ok(owner, 'bc.group.create', { title: 'Crew', usernames: [gone.name] })).thread.id
  const msg = (await ok(owner, 'bc.send', { threadId: g, clientId: 'rep-g1', body: 'after you are out' })).message
  await ok(owner, 'bc.group.remove', { threadId: g, userId: gone.id })
  expect(
    (await gone.http.post('/api/reports', { targetType: 'message', targetId: msg.id, reason: 'cannot see it' })).status,
  ).toBe(404)
  for (const m of [owner, gone]) m.ws.close()
})

test('[D9] settings: validated, applied at once and audited with what changed', async () => {
  for (const b of [
    {},
    { registration: 'sometimes' },
    { inviteQuota: -1 },
    { inviteQuota: 1001 },
    { turnUrls: ['http://x'] },
    { guests: 'yes' },
    { maxVideoMb: 0 },
    { maxVideoMb: 2.5 },
    { recording: 'off' },
    { other: 1 },
  ]) {
    expect((await admin.patch('/api/admin/settings', b)).status).toBe(422)
  }
  const r = await admin.patch('/api/admin/settings', {
    registration: 'closed',
    inviteQuota: 2,
    guests: true,
    turnUrls: ['turn:turn.example.org:3478?transport=udp'],
    maxVideoMb: 80,
    recording: false,
  })
  expect(r.json.settings).toEqual({
    registration: 'closed',
    inviteQuota: 2,
    guests: true,
    turnUrls: ['turn:turn.example.org:3478?transport=udp'],
    maxVideoMb: 80,
    recording: false,
    replayKeepDays: 0,
  })
  expect((await new Client(s).get('/api/registration')).json.mode).toBe('closed')
  expect(
    (await new Client(s).post('/api/auth/register', { username: 'late', password: PASSWORD })).json.error.code,
  ).toBe('registration_closed')
  const e = (await audit('settings.update'))[0]
  expect(e.details.registration).toEqual({ from: 'invite', to: 'closed' })
  expect(e.details.inviteQuota).toEqual({ from: 5, to: 2 })
  expect(e.details.recording).toEqual({ from: true, to: false })
  expect(e.details.maxVideoMb).toEqual({ from: 50, to: 80 })
  await admin.patch('/api/admin/settings', {
    registration: 'invite',
    inviteQuota: 5,
    guests: false,
    turnUrls: [],
    maxVideoMb: 50,
  })
})

test('[D9] turning guest listening off acts at once: connected guests are disconnected, members are not', async () => {
  expect((await admin.patch('/api/admin/settings', { guests: true })).status).toBe(200)
  const guest = await connectWs(s.url, { origin: s.origin })
  const mine = await connectWs(s.url, { cookie: member.cookie, origin: s.origin })
  expect((await guest.request('ping')).ok).toBe(true)
  expect((await admin.patch('/api/admin/settings', { guests: false })).status).toBe(200)
  expect((await guest.waitClosed()).code).toBe(4003)
  expect((await mine.request('ping')).ok).toBe(true)
  mine.close()
})

test('[D10] a backup made amid message writes passes integrity_check; list, download (a tar), delete', async () => {
  const a = await roomMember(s, 'wa'),
    b = await roomMember(s, 'wb')
  await b.http.put(`/api/users/${a.name}/follow`)
  const thread = (await ok(a, 'bc.dm', { username: b.name })).thread.id
  // `sent` counts sends issued, `acked` those acknowledged (committed): the backup holds at least every send
  // acknowledged before it started and at most every send issued.
  let writing = true,
    sent = 0,
    acked = 0
  // At most 50 sends: within the socket's burst (60), so the rate limit never answers while the backup, which runs
  // beside the server (D60), takes its time.
  const loop = (async () => {
    while (writing && sent < 50) {
      const n = sent++
      await ok(a, 'bc.send', { threadId: thread, clientId: `bk${n}`, body: `message ${n}` })
      acked++
    }
  })()
  await until(() => acked >= 20, 'twenty sends acknowledged')
  const ackedBefore = acked
  const made = await admin.post('/api/admin/backups')
  writing = false
  await loop
  expect(made.status).toBe(201)
  expect(made.json.backup.integrity).toBe('ok')

  const file = await backupDatabase(join(s.dataDir, 'backups', made.json.backup.name))
  const db = new Database(file, { readonly: true })
  expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
  expect((db.query('SELECT COUNT(*) AS n FROM users').get() as any).n).toBeGreaterThan(3)
  const copied = (db.query('SELECT COUNT(*) AS n FROM bc_messages WHERE thread_id = ?').get(thread) as any).n
  expect(copied).toBeGreaterThanOrEqual(ackedBefore)
  expect(copied).toBeLessThanOrEqual(sent)
  db.close()
  a.ws.close()
  b.ws.close()
  const list = (await admin.get('/api/admin/backups')).json.backups as any[]
  expect(list.some((b) => b.name === made.json.backup.name)).toBe(true)
  const dl = await fetch(`${s.url}/api/admin/backups/${made.json.backup.name}`, { headers: { cookie: admin.cookie } })
  expect(dl.headers.get('content-disposition')).toContain('attachment')
  const bytes = new Uint8Array(await dl.arrayBuffer())
  expect(dl.headers.get('content-type')).toBe('application/x-tar')
  expect(new TextDecoder().decode(bytes.slice(257, 262))).toBe('ustar')
  expect((await admin.get('/api/admin/backups/..%2Ftownhall.db')).status).toBe(404)
  expect((await admin.get('/api/admin/backups/townhall.db')).status).toBe(404)
  expect((await admin.del(`/api/admin/backups/${made.json.backup.name}`)).status).toBe(200)
  expect(
    ((await admin.get('/api/admin/backups')).json.backups as any[]).some((b) => b.name === made.json.backup.name),
  ).toBe(false)
  const acts = (await audit('backup.')).filter((e) => e.targetId === made.json.backup.name).map((e) => e.action)
  expect(acts).toEqual(['backup.delete', 'backup.download', 'backup.create'])
})

test('[D11] `townhall backup` writes a consistent copy while the server runs', async () => {
  const proc = Bun.spawn([process.execPath, 'server/main.ts', 'backup'], {
    cwd: join(import.meta.dir, '..', '..'),
    env: { ...process.env, DATA_DIR: s.dataDir, LOG_LEVEL: 'error' },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const out = (await new Response(proc.stdout).text()).trim()
  expect(await proc.exited).toBe(0)
  const db = new Database(await backupDatabase(out), { readonly: true })
  expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
  db.close()
})

test('[D12] the dashboard counts members, rooms and messages', async () => {
  const st = (await admin.get('/api/admin/stats')).json.stats
  expect(st.members).toBe(s.ctx.core.db.query<{ n: number }, []>('SELECT COUNT(*) AS n FROM users').get()!.n)
  expect(st.banned).toBeGreaterThanOrEqual(1)
  for (const k of ['liveRooms', 'inRooms', 'messagesToday', 'openReports', 'online'])
    expect(typeof st[k]).toBe('number')
  const found = (await admin.get('/api/admin/members?q=ann&status=suspended')).json.members
    .map((m: any) => m.username)
    .sort()
  expect(found).toEqual(['ann1', 'ann11', 'ann2'])
  expect((await admin.get('/api/admin/members?status=weird')).status).toBe(422)
})

test('[D13] /metrics needs the bearer token and speaks the Prometheus text format', async () => {
  expect((await fetch(`${s.url}/metrics`)).status).toBe(401)
  expect((await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
  const r = await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer metrics-secret-123' } })
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toContain('text/plain')
  const text = await r.text()
  for (const name of [
    'townhall_live_rooms',
    'townhall_room_participants',
    'townhall_forwarded_packets_per_second',
    'townhall_websockets_open',
    'townhall_messages_per_second',
    'townhall_database_bytes',
  ]) {
    expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'))
    expect(text).toMatch(new RegExp(`^${name} \\d+(\\.\\d+)?$`, 'm'))
  }
  expect(Number(/^townhall_database_bytes (\d+)$/m.exec(text)![1])).toBeGreaterThan(10_000)
  const off = await startTestServer()
  const res = await fetch(`${off.url}/metrics`, { headers: { authorization: 'Bearer ' } })
  await off.stop()
  expect(res.status).toBe(404)
})
