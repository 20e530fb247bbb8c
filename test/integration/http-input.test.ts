// Input that used to give a 500: fractional or non-numeric integers in paths and query strings, and a malformed or
// empty Host header (sent over a raw TCP socket: fetch would set a good one).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { connect } from 'node:net'
import { type Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let admin: Client
let member: Client
beforeAll(async () => {
  s = await startTestServer()
  admin = await signedInClient(s, 'hadmin', 'admin')
  member = await signedInClient(s, 'rhoda')
})
afterAll(async () => {
  await s.stop()
})

// Every number a route reads from its path or query string.
const NUMERIC: { path: (v: string) => string; field: string; who: 'admin' | 'member' }[] = [
  { path: (v) => `/api/users?q=r&limit=${v}`, field: 'limit', who: 'member' },
  { path: (v) => `/api/admin/members?limit=${v}`, field: 'limit', who: 'admin' },
  { path: (v) => `/api/admin/members?offset=${v}`, field: 'offset', who: 'admin' },
  { path: (v) => `/api/admin/audit?limit=${v}`, field: 'limit', who: 'admin' },
  { path: (v) => `/api/admin/audit?before=${v}`, field: 'before', who: 'admin' },
  { path: (v) => `/api/admin/members/${v}/reset-link`, field: 'id', who: 'admin' },
  { path: (v) => `/api/rooms/${v}`, field: 'id', who: 'member' },
  { path: (v) => `/api/threads/${v}`, field: 'id', who: 'member' },
  { path: (v) => `/api/threads/${v}/images/1-aaaaaaaaaaaaaaaa.png`, field: 'id', who: 'member' },
]

for (const bad of ['1.5', '0.1', 'abc', '1e400', '-1', '99999999999999999999']) {
  test(`[H30] ${bad} where an integer is expected: 422 validation, never a 500`, async () => {
    for (const r of NUMERIC) {
      const c = r.who === 'admin' ? admin : member
      const path = r.path(encodeURIComponent(bad))
      const method = path.endsWith('/reset-link') ? 'POST' : 'GET'
      const res = await c.req(method, path)
      expect({ path, status: res.status, code: res.json?.error?.code }).toEqual({
        path,
        status: 422,
        code: 'validation',
      })
      // The field is named when the text is no integer; for an integer out of range Elysia reports no name.
      expect(res.json.error.message).toMatch(new RegExp(`^(${r.field}|property): expected an integer`))
    }
  })
}

test('[H30] integers still pass: limit=2, offset=0', async () => {
  expect((await member.get('/api/users?q=r&limit=2')).status).toBe(200)
  expect((await admin.get('/api/admin/members?limit=2&offset=0')).status).toBe(200)
})

test('[H30] no route parses a number with t.Numeric (fractions pass it): they use server/http/params.ts', async () => {
  const glob = new Bun.Glob('server/**/*.ts')
  const offenders: string[] = []
  for await (const f of glob.scan('.')) if ((await Bun.file(f).text()).includes('t.Numeric(')) offenders.push(f)
  expect(offenders).toEqual([])
})

/** One HTTP/1.1 request written by hand on a TCP socket; the status line and the body. */
function raw(head: string, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(s.port, '127.0.0.1', () => sock.write(`${head}\r\nConnection: close\r\n\r\n${body}`))
    let out = ''
    sock.on('data', (d) => {
      out += d
    })
    sock.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0)
      resolve({ status, body: out.slice(out.indexOf('\r\n\r\n') + 4) })
    })
    sock.on('error', reject)
  })
}

const BAD_HOSTS = ['', 'exa mple', '[::1', 'a:b:c', '%%', 'example.com:99999', '/', 'ä.example', '..']
const PAGES = ['/', '/rooms', '/backchannel/3', '/index.html', '/api/me', '/api/rooms', '/api/nope', '/healthz']

test('[H31] an empty or malformed Host never gives a 500: pages and API answer as for a good one', async () => {
  const cookie = member.cookie
  for (const host of BAD_HOSTS) {
    for (const path of PAGES) {
      const r = await raw(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nCookie: ${cookie}`)
      const good = await raw(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nCookie: ${cookie}`)
      expect({ host, path, status: r.status }).toEqual({ host, path, status: good.status })
    }
    // A state-changing request: no Origin (a CLI tool), a bad Host; refused or served, never a 500.
    const post = await raw(`POST /api/auth/logout HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0`)
    expect(post.status).toBeLessThan(500)
    // A body is carried over: a sign-in through a bad Host works, and is counted against the client's address.
    const body = JSON.stringify({ username: 'rhoda', password: PASSWORD })
    const head = `POST /api/auth/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json`
    const login = await raw(`${head}\r\nContent-Length: ${body.length}`, body)
    expect({ host, status: login.status }).toEqual({ host, status: 200 })
  }
  // A request with no Host at all is HTTP/1.1's error, answered by Bun itself.
  expect((await raw('GET / HTTP/1.1')).status).toBe(400)
})
