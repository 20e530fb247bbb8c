// Where a push may go: a table of addresses (only public unicast passes), names checked on every address they
// resolve to, and the POST pinned to the address that was checked (a rebinding DNS server gets no second say).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import http from 'node:http'
import { checkHost, isPublicAddress, pinnedPost, type Resolver } from '../../server/push/address'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const REFUSED: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['198.18.0.1', 'benchmarking'],
  ['192.0.2.1', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['0.0.0.0', 'unspecified'],
  ['192.88.99.1', '6to4 relay'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['::7f00:1', 'IPv4-compatible loopback'],
  ['fe80::1', 'link-local'],
  ['fe90::1', 'link-local (fe80::/10)'],
  ['fc00::1', 'unique local'],
  ['fd12:3456::1', 'unique local'],
  ['ff02::1', 'multicast'],
  ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
  ['::ffff:8.8.8.8', 'IPv4-mapped (public or not: never)'],
  ['64:ff9b::7f00:1', 'NAT64'],
  ['2002:7f00:1::', '6to4'],
  ['2001::1', 'Teredo'],
  ['2001:db8::1', 'documentation'],
  ['100::1', 'discard'],
  ['4000::1', 'outside 2000::/3'],
  ['[::1]', 'loopback in brackets'],
]
const PUBLIC = ['8.8.8.8', '1.1.1.1', '142.250.185.74', '2606:4700:4700::1111', '2a00:1450:4001:82a::200a']

test('[P3] only public unicast addresses pass: every reserved range is refused', () => {
  const wrong = REFUSED.filter(([a]) => isPublicAddress(a)).map(([a, why]) => `${a} (${why})`)
  expect(wrong).toEqual([])
  expect(PUBLIC.filter((a) => !isPublicAddress(a))).toEqual([])
  expect(isPublicAddress('not an address')).toBe(false)
})

const resolver =
  (answers: Record<string, string[]>): Resolver =>
  async (name) => {
    const a = answers[name]
    if (!a) throw new Error('ENOTFOUND')
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }

test('[P3] a name passes only when every address it resolves to is public; local names never', async () => {
  const r = resolver({
    'push.example.com': ['8.8.8.8', '2606:4700:4700::1111'],
    'mixed.example.com': ['8.8.8.8', '10.0.0.1'],
    'inside.example.com': ['::ffff:127.0.0.1'],
  })
  expect(await checkHost('push.example.com', r)).toEqual({ ok: true, address: '8.8.8.8', family: 4 })
  expect(await checkHost('mixed.example.com', r)).toEqual({ ok: false, why: 'not_public' })
  expect(await checkHost('inside.example.com', r)).toEqual({ ok: false, why: 'not_public' })
  expect(await checkHost('gone.example.com', r)).toEqual({ ok: false, why: 'unresolved' })
  for (const name of ['localhost', 'a.localhost', 'printer.local', 'db.internal', 'push.example.com.', 'intranet'])
    expect(await checkHost(name, r)).toEqual({ ok: false, why: 'not_public' })
  // Numbers some resolvers read as addresses are not names.
  for (const name of ['2130706433', '0x7f000001', '127.1']) expect((await checkHost(name, r)).ok).toBe(false)
  expect(await checkHost('[2606:4700:4700::1111]', r)).toMatchObject({ ok: true, family: 6 })
  expect(await checkHost('[::7f00:1]', r)).toEqual({ ok: false, why: 'not_public' })
})

let srv: http.Server
let port = 0
const seen: { host?: string; body: string }[] = []
beforeAll(async () => {
  srv = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      seen.push({ host: req.headers.host, body })
      res.statusCode = 201
      res.end()
    })
  })
  await new Promise<void>((go) => srv.listen(0, '127.0.0.1', go))
  port = (srv.address() as { port: number }).port
})
afterAll(() => {
  srv.close()
})

test('[P3] the POST goes to the address that was checked, with the name in Host (no second lookup)', async () => {
  // The name does not resolve at all: only the pinned address can have been used.
  const url = `http://push.rebind.invalid:${port}/send/abc`
  const status = await pinnedPost(url, {
    headers: { ttl: '60' },
    body: new TextEncoder().encode('sealed'),
    timeoutMs: 10_000,
    pinned: { ok: true, address: '127.0.0.1', family: 4 },
  })
  expect(status).toBe(201)
  expect(seen.at(-1)).toEqual({ host: `push.rebind.invalid:${port}`, body: 'sealed' })
  // Without a pin the name is looked up, and this one does not exist.
  await expect(pinnedPost(url, { headers: {}, timeoutMs: 10_000 })).rejects.toThrow()
})
