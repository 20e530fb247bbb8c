// [D50]–[D59] Members' data: uploaded images lose their metadata (avatars and Backchannel images, checked on what
// the server serves back); `townhall user reset-password NAME` prints a one-time link that works once.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, PASSWORD, startTestServer, type TestServer } from '../helpers/server'
import { closeAll, dm, follow, person, send, type Person } from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const MAIN = join(import.meta.dir, '../../server/main.ts')
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

async function townhall(args: string[]) {
  const p = Bun.spawn([process.execPath, MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmp, LOG_LEVEL: 'warn', DATA_DIR: dir },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  return { code, out, err }
}

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
  const r = await townhall(['user', 'reset-password', c.name.toUpperCase()])
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
  const unknown = await townhall(['user', 'reset-password', 'nobody_here'])
  expect(unknown.code).toBe(2)
  expect(unknown.err).toContain('no member @nobody_here')
  expect((await townhall(['user', 'frob'])).err).toContain('usage: townhall user reset-password NAME')
})
