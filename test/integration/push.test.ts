// Web Push end to end: a local push service receives what the server sends; the test checks the VAPID JWT
// (ES256 signed with the server's key; aud, exp, sub) and decrypts the aes128gcm body with the subscription's key.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { createECDH, randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import * as ece from 'http_ece'
import { Client, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { isPublicAddress } from '../../server/push/address'
import type { PushKind } from '../../server/contracts'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

interface Received {
  path: string
  headers: Headers
  body: Buffer
}
let s: TestServer
let pushService: ReturnType<typeof Bun.serve>
const received: Received[] = []
const statusFor = new Map<string, number>() // path → status the fake push service answers
let concurrent = 0,
  maxConcurrent = 0

beforeAll(async () => {
  s = await startTestServer({ PUSH_ALLOW_HTTP: 'true', VAPID_SUBJECT: 'mailto:ops@town.example' })
  pushService = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const path = new URL(req.url).pathname
      received.push({ path, headers: req.headers, body: Buffer.from(await req.arrayBuffer()) })
      if (path.startsWith('/slow')) {
        maxConcurrent = Math.max(maxConcurrent, ++concurrent)
        await Bun.sleep(20)
        concurrent--
      }
      return new Response(null, { status: statusFor.get(path) ?? 201 })
    },
  })
})
afterAll(async () => {
  pushService.stop(true)
  await s.stop()
})

/** A browser's side of a subscription: a P-256 key pair and a 16-byte auth secret. */
function device(path: string) {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16)
  const endpoint = `http://127.0.0.1:${pushService.port}${path}`
  return {
    ecdh,
    auth,
    endpoint,
    sub: { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
  }
}

const b64json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))

/** Checks the VAPID Authorization header and decrypts the body; returns the notification. */
async function open(r: Received, d: ReturnType<typeof device>) {
  const auth = r.headers.get('authorization')!
  const m = /^vapid t=([^,]+), k=(.+)$/.exec(auth)
  expect(m).not.toBeNull()
  const [jwt, k] = [m![1]!, m![2]!]
  const serverKey = (await new Client(s).get('/api/push/key')).json.publicKey
  expect(k).toBe(serverKey)
  const [h, p, sig] = jwt.split('.') as [string, string, string]
  expect(b64json(h)).toMatchObject({ typ: 'JWT', alg: 'ES256' })
  const claims = b64json(p)
  expect(claims.aud).toBe(new URL(d.endpoint).origin)
  expect(claims.sub).toBe('mailto:ops@town.example')
  expect(claims.exp).toBeGreaterThan(Date.now() / 1000)
  expect(claims.exp).toBeLessThanOrEqual(Date.now() / 1000 + 24 * 3600)
  const key = await crypto.subtle.importKey(
    'raw',
    Buffer.from(k, 'base64url'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['verify'],
  )
  const ok = await crypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' },
    key,
    Buffer.from(sig, 'base64url'),
    Buffer.from(`${h}.${p}`),
  )
  expect(ok).toBe(true)
  expect(r.headers.get('content-encoding')).toBe('aes128gcm')
  expect(Number(r.headers.get('ttl'))).toBeGreaterThan(0)
  const plain = ece.decrypt(r.body, { version: 'aes128gcm', privateKey: d.ecdh, authSecret: d.auth })
  return JSON.parse(plain.toString('utf8'))
}

test('[P1] the VAPID key pair is made on first run and kept across restarts', async () => {
  const dir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/townhall-push-`)
  const a = await startTestServer({}, { keepDir: dir })
  const k1 = (await new Client(a).get('/api/push/key')).json.publicKey
  await a.stop()
  const b = await startTestServer({}, { keepDir: dir })
  const k2 = (await new Client(b).get('/api/push/key')).json.publicKey
  await b.stop()
  ;(await import('node:fs')).rmSync(dir, { recursive: true, force: true })
  expect(k1).toMatch(/^[A-Za-z0-9_-]{86,88}$/)
  expect(Buffer.from(k1, 'base64url')[0]).toBe(4)
  expect(k2).toBe(k1)
})

test('[P2] subscribing validates the subscription; guests may not subscribe', async () => {
  const alice = await signedInClient(s, 'p2alice')
  const d = device('/p2')
  expect((await new Client(s).post('/api/push/subscribe', d.sub)).status).toBe(401)
  const bad = [
    { ...d.sub, endpoint: 'not a url at all' },
    { ...d.sub, keys: { ...d.sub.keys, p256dh: 'AAAA' } },
    { ...d.sub, keys: { ...d.sub.keys, auth: randomBytes(8).toString('base64url') } },
    { ...d.sub, keys: { ...d.sub.keys, p256dh: randomBytes(65).toString('base64url') } },
    { endpoint: d.endpoint },
  ]
  for (const body of bad) {
    const r = await alice.post('/api/push/subscribe', body)
    expect(r.status).toBe(422)
    expect(r.json.error.code).toBe('validation')
  }
  expect((await alice.post('/api/push/subscribe', d.sub)).status).toBe(201)
  expect((await alice.post('/api/push/subscribe', d.sub)).status).toBe(201) // the same device again: still one
  expect((await alice.get('/api/push/settings')).json.devices).toHaveLength(1)
  expect((await alice.post('/api/push/unsubscribe', { endpoint: d.endpoint })).json.removed).toBe(true)
  expect((await alice.get('/api/push/settings')).json.devices).toHaveLength(0)
})

test('[P3] plain-http push endpoints are refused unless PUSH_ALLOW_HTTP is set', async () => {
  const strict = await startTestServer()
  const bob = await signedInClient(strict, 'p3bob')
  const r = await bob.post('/api/push/subscribe', device('/p3').sub)
  await strict.stop()
  expect(r.status).toBe(422)
  expect(r.json.error.message).toContain('https')
})

test('[P3] push endpoints on private or loopback addresses are refused', async () => {
  const strict = await startTestServer()
  const bob = await signedInClient(strict, 'p3priv')
  const keys = device('/x').sub.keys
  const codes = []
  for (const endpoint of [
    'https://127.0.0.1/push',
    'https://localhost:8443/push',
    'https://10.1.2.3/p',
    'https://192.168.1.1/p',
    'https://[::1]/p',
    'https://169.254.169.254/latest',
    'https://[::7f00:1]/p',
    'https://[fe90::1]/p',
    'https://[64:ff9b::7f00:1]/p',
    'https://198.18.0.1/p',
    'https://224.0.0.1/p',
    'https://[::ffff:127.0.0.1]/p',
    'https://[2002:7f00:1::]/p',
    'https://100.64.0.1/p',
    'https://2130706433/p',
    'https://fcm.googleapis.com/fcm/send/abc',
  ])
    codes.push((await bob.post('/api/push/subscribe', { endpoint, keys })).status)
  await strict.stop()
  expect(codes).toEqual([...Array(15).fill(422), 201])
})

test(
  '[P3] a host name that is private in disguise is refused too: ' +
    'a trailing dot, or a name that resolves to a private address',
  async () => {
    const strict = await startTestServer()
    const bob = await signedInClient(strict, 'p3dns')
    const keys = device('/x').sub.keys
    const codes: number[] = []
    for (const endpoint of ['https://localhost./push', 'https://LOCALHOST../push', 'https://127.0.0.1./p'])
      codes.push((await bob.post('/api/push/subscribe', { endpoint, keys })).status)
    // This machine's own name resolves (through /etc/hosts) to one of its addresses:
    // loopback or private almost everywhere.
    const own = await lookup(hostname(), { all: true }).catch(() => [])
    const ownIsPrivate = own.length > 0 && own.some((a) => !isPublicAddress(a.address))
    const ownCode = ownIsPrivate
      ? (await bob.post('/api/push/subscribe', { endpoint: `https://${hostname()}/push`, keys })).status
      : 422
    await strict.stop()
    expect(codes).toEqual([422, 422, 422])
    expect(ownCode).toBe(422)
  },
)

test(
  '[P3] a member keeps at most 10 devices: a new one replaces the oldest, ' +
    'so one member cannot fan a notification out without bound',
  async () => {
    const m = await signedInClient(s, 'p3many')
    const ds = Array.from({ length: 12 }, (_, i) => device(`/many-${i}`))
    for (const d of ds) expect((await m.post('/api/push/subscribe', d.sub)).status).toBe(201)
    const devices = (await m.get('/api/push/settings')).json.devices as any[]
    expect(devices).toHaveLength(10)
    const before = received.length
    expect((await m.post('/api/push/test')).json.sent).toBe(10)
    const paths = received
      .slice(before)
      .map((r) => r.path)
      .sort()
    expect(paths).toEqual(
      ds
        .slice(2)
        .map((d) => new URL(d.endpoint).pathname)
        .sort(),
    )
  },
)

const KINDS: [PushKind, { title: string; body: string; url: string }][] = [
  ['dm', { title: '@bob', body: 'hello there', url: '/backchannel/1' }],
  ['room_started', { title: 'Friday jam', body: '@bob started a room', url: '/rooms/7' }],
  ['room_reminder', { title: 'Book club', body: 'Starts in 10 minutes', url: '/rooms/8' }],
  ['speak_invite', { title: 'Friday jam', body: 'You are invited to speak', url: '/rooms/7' }],
]

test('[P4] each notification kind arrives signed (VAPID ES256) and encrypted (aes128gcm) on every device', async () => {
  const carol = await signedInClient(s, 'p4carol')
  const phone = device('/p4-phone'),
    laptop = device('/p4-laptop')
  await carol.post('/api/push/subscribe', phone.sub)
  await carol.post('/api/push/subscribe', laptop.sub)
  const push = s.ctx.push.service
  for (const [kind, msg] of KINDS) {
    received.length = 0
    await s.ctx.push.api.notify(carol.user.id, kind, msg)
    expect(received.map((r) => r.path).sort()).toEqual(['/p4-laptop', '/p4-phone'])
    for (const r of received) {
      const n = await open(r, r.path === '/p4-phone' ? phone : laptop)
      expect(n).toMatchObject({ kind, title: msg.title, body: msg.body, url: msg.url })
      expect(r.headers.get('urgency')).toBe(kind === 'dm' || kind === 'speak_invite' ? 'high' : 'normal')
    }
  }
  expect((await push.store.byUser(carol.user.id)).every((x) => x.last_used_at !== null)).toBe(true)
})

test("[P5] a member's settings turn each kind off; suspended members get nothing", async () => {
  const dan = await signedInClient(s, 'p5dan')
  const d = device('/p5')
  await dan.post('/api/push/subscribe', d.sub)
  expect((await dan.get('/api/push/settings')).json.settings).toEqual({
    dm: true,
    room_started: true,
    room_reminder: true,
    speak_invite: true,
    activity: true,
  })
  expect((await dan.patch('/api/push/settings', {})).status).toBe(422)
  expect((await dan.patch('/api/push/settings', { dm: 'no' })).status).toBe(422)
  expect((await dan.patch('/api/push/settings', { nope: true })).status).toBe(422)
  const r = await dan.patch('/api/push/settings', { dm: false, room_started: false })
  expect(r.json.settings).toEqual({
    dm: false,
    room_started: false,
    room_reminder: true,
    speak_invite: true,
    activity: true,
  })
  received.length = 0
  for (const [kind, msg] of KINDS) await s.ctx.push.api.notify(dan.user.id, kind, msg)
  const kinds = await Promise.all(received.map(async (x) => (await open(x, d)).kind))
  expect(kinds.sort()).toEqual(['room_reminder', 'speak_invite'])
  await s.ctx.accounts.api.setStatus(dan.user.id, 'suspended')
  received.length = 0
  await s.ctx.push.api.notify(dan.user.id, 'speak_invite', KINDS[3]![1])
  expect(received).toHaveLength(0)
})

test('[P6] a subscription the push service reports gone (404/410) is dropped; other failures keep it', async () => {
  const erin = await signedInClient(s, 'p6erin')
  const gone = device('/p6-gone'),
    missing = device('/p6-missing'),
    flaky = device('/p6-flaky'),
    fine = device('/p6-fine')
  statusFor.set('/p6-gone', 410)
  statusFor.set('/p6-missing', 404)
  statusFor.set('/p6-flaky', 503)
  for (const d of [gone, missing, flaky, fine]) await erin.post('/api/push/subscribe', d.sub)
  await s.ctx.push.api.notify(erin.user.id, 'dm', KINDS[0]![1])
  const left = (await erin.get('/api/push/settings')).json.devices.length
  expect(left).toBe(2)
  const endpoints = (await s.ctx.push.service.store.byUser(erin.user.id))
    .map((x) => new URL(x.endpoint).pathname)
    .sort()
  expect(endpoints).toEqual(['/p6-fine', '/p6-flaky'])
})

test('[P7] the test button sends to my devices only, and a URL outside the app becomes /', async () => {
  const fay = await signedInClient(s, 'p7fay')
  const d = device('/p7')
  await fay.post('/api/push/subscribe', d.sub)
  received.length = 0
  expect((await fay.post('/api/push/test')).json.sent).toBe(1)
  expect(received).toHaveLength(1)
  expect((await open(received[0]!, d)).url).toBe('/settings/notifications')
  received.length = 0
  await s.ctx.push.api.notify(fay.user.id, 'dm', { title: 'x', body: 'y', url: 'https://evil.example/' })
  expect((await open(received[0]!, d)).url).toBe('/')
})

// ── End to end with the rooms and Backchannel domains: they call ctx.push.notify; we receive and decrypt. ──

async function subscribed(m: Member, path: string) {
  const d = device(path)
  expect((await m.http.post('/api/push/subscribe', d.sub)).status).toBe(201)
  return d
}
/** Waits for the next push to `path` (the senders do not await notify) and opens it. */
async function nextPush(path: string, d: ReturnType<typeof device>) {
  await until(() => received.some((r) => r.path === path), `a push to ${path}`)
  return open(
    received.splice(
      received.findIndex((r) => r.path === path),
      1,
    )[0]!,
    d,
  )
}

test('[P8] a direct message notifies the recipient; none for a muted thread or a declined request', async () => {
  const bob = await member(s, 'pb'),
    carol = await member(s, 'pc'),
    dora = await member(s, 'pd'),
    eve = await member(s, 'pe')
  const dc = await subscribed(carol, '/p8-carol'),
    dd = await subscribed(dora, '/p8-dora')
  // carol takes their messages directly
  for (const who of [bob, eve]) await carol.http.put(`/api/users/${who.name}/follow`)
  await dora.http.put(`/api/users/${eve.name}/follow`)
  received.length = 0
  const t1 = (await ok(bob, 'bc.dm', { username: carol.name })).thread.id
  await ok(bob, 'bc.send', { threadId: t1, clientId: 'p8-1', body: 'hi carol' })
  expect(await nextPush('/p8-carol', dc)).toMatchObject({
    kind: 'dm',
    title: bob.name,
    body: 'hi carol',
    url: `/backchannel/${t1}`,
  })
  // muted thread: nothing
  await ok(carol, 'bc.mute', { threadId: t1, muted: true })
  await ok(bob, 'bc.send', { threadId: t1, clientId: 'p8-2', body: 'muted one' })
  // dora does not follow bob: his first message is a request (no push); she declines; later messages stay silent
  const t2 = (await ok(bob, 'bc.dm', { username: dora.name })).thread.id
  await ok(bob, 'bc.send', { threadId: t2, clientId: 'p8-3', body: 'may I?' })
  await ok(dora, 'bc.request.decline', { threadId: t2 })
  await bob.ws.request('bc.send', { threadId: t2, clientId: 'p8-4', body: 'please?' })
  // controls sent after those: they arrive, so the silence above is not a slow push service
  const carolEve = (await ok(eve, 'bc.dm', { username: carol.name })).thread.id
  const doraEve = (await ok(eve, 'bc.dm', { username: dora.name })).thread.id
  await ok(eve, 'bc.send', { threadId: carolEve, clientId: 'p8-5', body: 'control for carol' })
  await ok(eve, 'bc.send', { threadId: doraEve, clientId: 'p8-6', body: 'control for dora' })
  expect((await nextPush('/p8-carol', dc)).body).toBe('control for carol')
  expect((await nextPush('/p8-dora', dd)).body).toBe('control for dora')
  expect(received.filter((r) => r.path.startsWith('/p8-'))).toHaveLength(0)
  for (const m of [bob, carol, dora, eve]) m.ws.close()
})

test('[P9] a room started by someone I follow, and an invitation to speak, notify me', async () => {
  const host = await member(s, 'ph'),
    fan = await member(s, 'pf')
  const df = await subscribed(fan, '/p9-fan')
  await fan.http.put(`/api/users/${host.name}/follow`)
  received.length = 0
  const room = await createRoom(host, { title: 'Morning show' })
  expect(await nextPush('/p9-fan', df)).toMatchObject({
    kind: 'room_started',
    body: 'Morning show',
    url: `/rooms/${room.id}`,
  })
  await ok(host, 'room.join', { roomId: room.id })
  await ok(fan, 'room.join', { roomId: room.id })
  // The rooms domain sends the invitation as a push when the member has no open socket (the app is in the
  // background or the phone asleep); their seat waits out the grace period meanwhile.
  fan.ws.close()
  await fan.ws.waitClosed()
  await until(() => !s.ctx.hub.isOnline(fan.id), 'the fan offline')
  await ok(host, 'room.invite', { roomId: room.id, userId: fan.id })
  expect(await nextPush('/p9-fan', df)).toMatchObject({
    kind: 'speak_invite',
    body: 'Morning show',
    url: `/rooms/${room.id}`,
  })
  host.ws.close()
  fan.ws.close()
})

test('[P10] a scheduled room reminds the host and their followers once, 10 minutes before', async () => {
  const host = await member(s, 'pr'),
    fan = await member(s, 'pq'),
    other = await member(s, 'po')
  const dh = await subscribed(host, '/p10-host'),
    df = await subscribed(fan, '/p10-fan')
  await subscribed(other, '/p10-other')
  await fan.http.put(`/api/users/${host.name}/follow`)
  const startsAt = Date.now() + 30 * 60_000
  const room = await createRoom(host, { title: 'Book club', startsAt })
  // The activity pushes of the follow and of the scheduling (R50) come first; the reminders are what follows.
  expect(await nextPush('/p10-host', dh)).toMatchObject({
    kind: 'activity',
    title: `${fan.name} started following you`,
  })
  expect(await nextPush('/p10-fan', df)).toMatchObject({ kind: 'activity', title: `${host.name} scheduled a room` })
  received.length = 0
  const reminders = s.ctx.reminders.service
  await reminders.run(startsAt - 11 * 60_000) // too early
  expect(received).toHaveLength(0)
  await reminders.run(startsAt - 9 * 60_000)
  expect(await nextPush('/p10-fan', df)).toMatchObject({
    kind: 'room_reminder',
    title: 'Book club',
    url: `/rooms/${room.id}`,
  })
  expect((await nextPush('/p10-host', dh)).kind).toBe('room_reminder')
  expect(received.filter((r) => r.path === '/p10-other')).toHaveLength(0)
  await reminders.run(startsAt - 8 * 60_000)
  expect(received.filter((r) => r.path.startsWith('/p10'))).toHaveLength(0)
  for (const m of [host, fan, other]) m.ws.close()
})

test('[P2] permission table of the push routes: the key is public, the rest is for members', async () => {
  const m = await signedInClient(s, 'p2table')
  const d = device('/p2-table')
  const routes: [string, string, unknown?][] = [
    ['POST', '/api/push/subscribe', d.sub],
    ['POST', '/api/push/unsubscribe', { endpoint: d.endpoint }],
    ['GET', '/api/push/settings'],
    ['PATCH', '/api/push/settings', { dm: true }],
    ['POST', '/api/push/test'],
  ]
  expect((await new Client(s).get('/api/push/key')).status).toBe(200)
  for (const [method, path, body] of routes) {
    const guest = await new Client(s).req(method, path, body)
    expect([path, guest.status, guest.json.error.code]).toEqual([path, 401, 'unauthorized'])
    const member = await m.req(method, path, body)
    expect([path, member.status < 300]).toEqual([path, true])
  }
})

test('[P15] at most 16 sends are in flight at once, and every device still gets its notification', async () => {
  // Four members with ten devices each (a member keeps at most 10), notified at once like a room's followers.
  const members = await Promise.all([0, 1, 2, 3].map((i) => signedInClient(s, `p15many${i}`)))
  const devices = Array.from({ length: 40 }, (_, i) => device(`/slow-${i}`))
  for (const [i, d] of devices.entries()) await members[i % 4]!.post('/api/push/subscribe', d.sub)
  received.length = 0
  maxConcurrent = 0
  await Promise.all(members.map((m) => s.ctx.push.api.notify(m.user.id, 'dm', KINDS[0]![1])))
  expect(received.filter((r) => r.path.startsWith('/slow-')).length).toBe(40)
  expect(maxConcurrent).toBeGreaterThan(1)
  expect(maxConcurrent).toBeLessThanOrEqual(16)
})

test(
  '[P2] an endpoint belongs to one member: another member with only its URL is refused (push_endpoint_taken); ' +
    'the same device (same keys) signing in as someone else moves to them, and the previous member gets nothing there',
  async () => {
    const first = await signedInClient(s, 'p2first')
    const second = await signedInClient(s, 'p2second')
    const d = device('/p2-owned')
    expect((await first.post('/api/push/subscribe', d.sub)).status).toBe(201)
    // Someone who learnt the URL, with keys of their own: refused, and the owner keeps receiving.
    const thief = device('/p2-owned')
    const taken = await second.post('/api/push/subscribe', thief.sub)
    expect(taken.status).toBe(409)
    expect(taken.json.error.code).toBe('push_endpoint_taken')
    expect((await first.post('/api/push/test')).json.sent).toBe(1)
    expect((await second.post('/api/push/test')).json.sent).toBe(0)
    // The same browser (its keys) subscribing for another member: the device is theirs now.
    expect((await second.post('/api/push/subscribe', d.sub)).status).toBe(201)
    expect((await first.get('/api/push/settings')).json.devices).toEqual([])
    expect((await first.post('/api/push/test')).json.sent).toBe(0)
    expect((await second.post('/api/push/test')).json.sent).toBe(1)
  },
)

test('[P3] at each send the endpoint is checked again: one that points into our network is not posted to', async () => {
  const strict = await startTestServer()
  const m = await signedInClient(strict, 'p3again')
  const keys = device('/x').sub.keys
  // As if the name had been repointed since it was subscribed: rows written directly, past the subscribe check.
  // One of them is the fake push service on loopback, which would accept the POST if it were made.
  const live = device('/p3-again').endpoint
  for (const endpoint of [live, 'https://[::ffff:7f00:1]/p', 'https://push.localhost/p'])
    await strict.ctx.push.service.store.upsert({ userId: m.user.id, endpoint, ...keys, userAgent: 'test' })
  const failedBefore = strict.ctx.push.service.failed
  const r = await m.post('/api/push/test')
  const failed = strict.ctx.push.service.failed - failedBefore
  await strict.stop()
  expect(r.json.sent).toBe(0)
  expect(failed).toBe(3)
  expect(received.filter((x) => x.path === '/p3-again')).toEqual([])
})
