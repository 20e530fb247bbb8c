// [D50]–[D53] Members' data: uploaded images lose their metadata (avatars and Backchannel images, checked on what
// the server serves back); `townhall user reset-password NAME` prints a one-time link that works once.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { extractTar } from '../../server/db/tar'
import { closeAll, dm, follow, person, send, type Person } from '../helpers/backchannel'
import { townhall } from '../helpers/cli'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-members-'))
const dir = join(tmp, 'data')
let s: TestServer
const people: Person[] = []

beforeAll(async () => {
  s = await startTestServer({}, { keepDir: dir })
})
afterAll(async () => {
  closeAll(people)
  await s.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const enc = (t: string) => new TextEncoder().encode(t)
const latin1 = (b: ArrayBuffer) => new TextDecoder('latin1').decode(b)
/** The fixture JPEG with a camera's EXIF (GPS as text) and an XMP packet right after its start marker. */
function photoWithGps(): Uint8Array {
  const jpg = new Uint8Array(readFileSync(join(import.meta.dir, '..', 'fixtures', 'photo.jpg')))
  const seg = (body: Uint8Array) => {
    const out = new Uint8Array(body.length + 4)
    out.set([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 0xff])
    out.set(body, 4)
    return out
  }
  const exif = enc('Exif\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0GPS 48.8566N 2.3522E SECRETCAM')
  const xmp = enc('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>SECRET-XMP</x:xmpmeta>')
  const parts = [jpg.subarray(0, 2), seg(exif), seg(xmp), jpg.subarray(2)]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

test('[D50] an avatar and a Backchannel image are stored and served without their EXIF/GPS and XMP', async () => {
  const a = await person(s, 'ex'),
    b = await person(s, 'ex')
  people.push(a, b)
  const photo = photoWithGps()
  expect(latin1(photo.buffer as ArrayBuffer)).toContain('48.8566N')
  expect((await a.http.req('PUT', '/api/me/avatar', photo, { 'content-type': 'image/jpeg' })).status).toBeLessThan(300)
  const avatar = (await a.http.get('/api/me')).json.user.avatar as string
  const served = await (await fetch(s.url + avatar)).arrayBuffer()
  expect(latin1(served)).not.toContain('48.8566N')
  expect(latin1(served)).not.toContain('SECRET')
  expect(new Uint8Array(served).subarray(0, 2)).toEqual(Uint8Array.from([0xff, 0xd8]))

  await follow(b, a)
  const thread = await dm(a, b)
  const up = await a.http.req('POST', `/api/threads/${thread}/images`, photo, { 'content-type': 'image/jpeg' })
  expect(up.status).toBe(201)
  expect(up.json.image.size).toBeLessThan(photo.length)
  const m = await send(a, thread, '', { image: up.json.image.name })
  const got = await fetch(s.url + m.image!, { headers: { cookie: b.http.cookie } })
  expect(got.status).toBe(200)
  const bytes = await got.arrayBuffer()
  expect(latin1(bytes)).not.toContain('48.8566N')
  expect(latin1(bytes)).not.toContain('SECRET')
  // A JPEG whose structure is broken is refused rather than stored with its metadata.
  const broken = photo.slice(0, 60)
  const refused = await a.http.req('POST', `/api/threads/${thread}/images`, broken, { 'content-type': 'image/jpeg' })
  expect([refused.status, refused.json.error.code]).toEqual([415, 'unsupported_media'])
})

test('[D51] `townhall user reset-password NAME` prints a one-time link; it sets the password once', async () => {
  const c = await person(s, 'rp')
  people.push(c)
  const r = await townhall(['user', 'reset-password', c.name.toUpperCase()], { DATA_DIR: dir })
  expect(r.err).toBe('')
  expect(r.code).toBe(0)
  const url = r.out.trim().split('\n').at(-1)!
  expect(url).toMatch(/\/reset\/[A-Za-z0-9_-]{20,}$/)
  const token = url.split('/').pop()!
  const anon = new Client(s)
  expect((await anon.get(`/api/reset/${token}`)).json.reset.username).toBe(c.name)
  const used = await anon.post(`/api/reset/${token}`, { password: 'a brand new password' })
  expect(used.status).toBe(200)
  expect((await anon.post(`/api/reset/${token}`, { password: 'another new password' })).status).toBe(410)
  expect((await new Client(s).post('/api/auth/login', { username: c.name, password: PASSWORD })).status).toBe(401)
  const login = await new Client(s).post('/api/auth/login', { username: c.name, password: 'a brand new password' })
  expect(login.status).toBe(200)
  // The member's sessions ended; the reset is audited as made by the operator (no actor).
  expect((await c.http.get('/api/me')).status).toBe(401)
  const unknown = await townhall(['user', 'reset-password', 'nobody_here'], { DATA_DIR: dir })
  expect(unknown.code).toBe(2)
  expect(unknown.err).toContain('no member @nobody_here')
  expect((await townhall(['user', 'frob'], { DATA_DIR: dir })).err).toContain(
    'usage: townhall user reset-password NAME',
  )
})

const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)

/** Ann (avatar, follows Bob, blocks Cid) talks with Bob in a 1:1 and in a group with Dee, images included. */
async function scene() {
  const ann = await person(s, 'an'),
    bob = await person(s, 'bo'),
    cid = await person(s, 'ci'),
    dee = await person(s, 'de')
  people.push(ann, bob, cid, dee)
  await ann.http.req('PUT', '/api/me/avatar', PNG, { 'content-type': 'image/png' })
  await follow(ann, bob)
  await follow(bob, ann)
  await follow(dee, ann)
  await ann.http.put(`/api/users/${cid.name}/block`)
  const dmId = await dm(ann, bob)
  const dmText = await send(ann, dmId, 'just between us')
  await send(bob, dmId, 'sure')
  const group = (await ann.ws.request('bc.group.create', { title: 'Garden club', usernames: [bob.name, dee.name] }))
    .thread.id
  const up = await ann.http.req('POST', `/api/threads/${group}/images`, PNG, { 'content-type': 'image/png' })
  const groupText = await send(ann, group, 'tomatoes this year', { image: up.json.image.name })
  await send(dee, group, 'yes please')
  return { ann, bob, cid, dee, dmId, group, dmText, groupText, image: up.json.image.name as string }
}

test('[D52] download my data: one tar with my profile, follows, blocks, threads, messages and files', async () => {
  const x = await scene()
  const res = await fetch(`${s.url}/api/me/export`, { headers: { cookie: x.ann.http.cookie } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('application/x-tar')
  expect(res.headers.get('content-disposition')).toContain(`townhall-${x.ann.name}-`)
  const file = join(tmp, 'export.tar')
  await Bun.write(file, await res.arrayBuffer())
  const out = join(tmp, 'export')
  const entries = await extractTar(file, out, () => true)
  const read = (n: string) => JSON.parse(readFileSync(join(out, n), 'utf8'))
  const profile = read('profile.json')
  expect(profile.profile.username).toBe(x.ann.name)
  expect(profile.following.map((f: any) => f.username)).toEqual([x.bob.name])
  expect(profile.followers.map((f: any) => f.username).sort()).toEqual([x.bob.name, x.dee.name].sort())
  expect(profile.blocking.map((f: any) => f.username)).toEqual([x.cid.name])
  const threads = read('backchannel/threads.json')
  expect(threads.map((t: any) => t.kind).sort()).toEqual(['dm', 'group'])
  expect(threads.find((t: any) => t.kind === 'group').members.sort()).toEqual(
    [x.ann.name, x.bob.name, x.dee.name].sort(),
  )
  const messages = read('backchannel/messages.json')
  expect(messages.map((m: any) => m.body)).toEqual(['just between us', 'tomatoes this year'])
  expect(JSON.stringify(messages)).not.toContain('yes please') // only mine
  expect([...entries.keys()]).toContain(`files/backchannel/${x.image}`)
  expect(new Uint8Array(readFileSync(join(out, 'files', 'backchannel', x.image)))).toEqual(PNG)
  expect([...entries.keys()].some((n) => n.startsWith('files/avatar/'))).toBe(true)
  expect((await new Client(s).get('/api/me/export')).status).toBe(401)
  const audit = s.ctx.core.db
    .query<{ n: number }, [number]>(
      `SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.export' AND target_id = ?`,
    )
    .get(x.ann.id)!.n
  expect(audit).toBe(1)
})

test('[D53] delete my account (password): 1:1 messages stay for the other person, group ones are erased', async () => {
  const x = await scene()
  const wrong = await x.ann.http.post('/api/me/delete', { password: 'not my password' })
  expect([wrong.status, wrong.json.error.code]).toEqual([401, 'wrong_password'])
  expect((await x.ann.http.get('/api/me')).status).toBe(200)

  const done = await x.ann.http.post('/api/me/delete', { password: PASSWORD })
  expect(done.status).toBe(200)
  expect(done.headers.get('set-cookie')).toContain('Max-Age=0')
  expect((await x.ann.ws.waitClosed()).code).toBeGreaterThanOrEqual(1000)
  expect((await x.ann.http.get('/api/me')).status).toBe(401)
  const login = await new Client(s).post('/api/auth/login', { username: x.ann.name, password: PASSWORD })
  expect([login.status, login.json.error.code]).toEqual([401, 'bad_credentials'])
  expect((await x.bob.http.get(`/api/users/${x.ann.name}`)).status).toBe(404)

  // Bob's 1:1 keeps what Ann wrote him, from "Deleted member".
  const dmHistory = (await x.bob.ws.request('bc.history', { threadId: x.dmId })).messages
  const kept = dmHistory.find((m) => m.id === x.dmText.id)!
  expect(kept.body).toBe('just between us')
  expect(kept.author?.displayName).toBe('Deleted member')
  expect(JSON.stringify(dmHistory)).not.toContain(x.ann.name)
  // …and the closed account receives nothing more there.
  const refused = await x.bob.ws.requestUnchecked('bc.send', {
    threadId: x.dmId,
    clientId: 'after-delete',
    body: 'hi?',
  })
  expect(refused).toMatchObject({ ok: false, error: { code: 'recipient_closed' } })
  // The group shows a tombstone; Dee's message stays; the image is no longer served and its file is gone.
  const tomb = await x.dee.ws.next('bc.message', (e) => e.message.id === x.groupText.id && e.message.deleted)
  expect(tomb.message.body).toBe('')
  const groupHistory = (await x.dee.ws.request('bc.history', { threadId: x.group })).messages
  expect(groupHistory.find((m) => m.id === x.groupText.id)).toMatchObject({ deleted: true, body: '', image: null })
  expect(groupHistory.some((m) => m.body === 'yes please')).toBe(true)
  expect((await x.dee.http.get(`/api/threads/${x.group}/images/${x.image}`)).status).toBe(404)
  // Follows both ways are gone; the name is free again.
  expect((await x.dee.http.get(`/api/users/${x.dee.name}/following`)).json.users).toEqual([])
  const again = await signedInClient(s, x.ann.name)
  expect(again.user.id).not.toBe(x.ann.id)
  const audit = s.ctx.core.db
    .query<{ action: string }, [number]>(
      `SELECT action FROM audit_log WHERE target_id = ? AND action = 'member.delete'`,
    )
    .all(x.ann.id)
  expect(audit).toHaveLength(1)
})

test('[D53] the only admin cannot delete their account', async () => {
  const boss = await signedInClient(s, 'onlyboss', 'admin')
  const r = await boss.post('/api/me/delete', { password: PASSWORD })
  expect([r.status, r.json.error.code]).toEqual([409, 'account_last_admin'])
  expect((await boss.get('/api/me')).status).toBe(200)
})
