// [H60–H64, P16] A fast first load, from source (the binary serves the same build: binary.test.ts): precompressed files
// by Accept-Encoding, hashed names cached immutable, index.html revalidated, lazy screens in their own chunks, one
// who-am-I that answers 200 when signed out, and a page opened in the browser that carries who I am and a member's
// hallway list (so neither is asked); in Chromium the sign-in page loads no admin code and logs nothing.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'
import { pickEncoding } from '../../server/http/static'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let html = ''
let script = ''
let style = ''

/** A raw response: Bun's fetch would otherwise decompress the body for us. */
const raw = (path: string, headers: Record<string, string> = {}) =>
  fetch(s.url + path, { headers, decompress: false } as RequestInit)

beforeAll(async () => {
  s = await startTestServer()
  html = await (await raw('/')).text()
  script = /<script type="module" src="(\/app\.[a-z0-9]+\.js)"><\/script>/.exec(html)?.[1] ?? ''
  style = /<link rel="stylesheet" href="(\/app\.[a-z0-9]+\.css)">/.exec(html)?.[1] ?? ''
})
afterAll(async () => {
  await s?.stop()
})

describe('[H60] every text file is sent brotli- or gzip-compressed as accepted, Vary: Accept-Encoding', () => {
  for (const which of ['index', 'script', 'style', 'worker'] as const)
    test(which, async () => {
      const path = { index: '/', script, style, worker: '/sw.js' }[which]
      expect(path).toMatch(/^\//)
      const plain = await raw(path)
      expect(plain.headers.get('content-encoding')).toBeNull()
      expect(plain.headers.get('vary')).toBe('Accept-Encoding')
      const bytes = new Uint8Array(await plain.arrayBuffer())
      expect(bytes.byteLength).toBeGreaterThan(100)

      const br = await raw(path, { 'accept-encoding': 'gzip, deflate, br, zstd' })
      expect(br.headers.get('content-encoding')).toBe('br')
      expect(br.headers.get('vary')).toBe('Accept-Encoding')
      const brBytes = new Uint8Array(await br.arrayBuffer())
      expect(brBytes.byteLength).toBeLessThan(bytes.byteLength)
      expect(new Uint8Array(brotliDecompressSync(brBytes))).toEqual(bytes)

      const gz = await raw(path, { 'accept-encoding': 'gzip' })
      expect(gz.headers.get('content-encoding')).toBe('gzip')
      const gzBytes = new Uint8Array(await gz.arrayBuffer())
      expect(new Uint8Array(gunzipSync(gzBytes))).toEqual(bytes)

      // Refused with q=0: the next best, then none.
      expect((await raw(path, { 'accept-encoding': 'br;q=0, gzip' })).headers.get('content-encoding')).toBe('gzip')
      expect((await raw(path, { 'accept-encoding': 'identity' })).headers.get('content-encoding')).toBeNull()
      // Each form has its own ETag, and a revalidation answers 304 for it.
      const tags = new Set([plain, br, gz].map((r) => r.headers.get('etag')))
      expect(tags.size).toBe(3)
      const again = await raw(path, { 'accept-encoding': 'br', 'if-none-match': br.headers.get('etag')! })
      expect(again.status).toBe(304)
    })

  test('the Accept-Encoding parser', () => {
    const both = { br: 1, gzip: 1 }
    expect(pickEncoding(null, both)).toBeNull()
    expect(pickEncoding('gzip, br', both)).toBe('br')
    expect(pickEncoding('gzip', both)).toBe('gzip')
    expect(pickEncoding('*', both)).toBe('br')
    expect(pickEncoding('*, br;q=0', both)).toBe('gzip')
    expect(pickEncoding('br;q=0.5', { gzip: 1 })).toBeNull()
    expect(pickEncoding('deflate', both)).toBeNull()
  })

  test('PNG icons are sent as they are', async () => {
    const r = await raw('/icons/icon-192.png', { 'accept-encoding': 'br, gzip' })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-encoding')).toBeNull()
    expect(r.headers.get('content-type')).toBe('image/png')
  })
})

test('[H61] hashed script and style names are cached a year (immutable); index.html revalidates', async () => {
  expect(script).toMatch(/^\/app\.[a-z0-9]{6,}\.js$/)
  expect(style).toMatch(/^\/app\.[a-z0-9]{6,}\.css$/)
  for (const p of [script, style]) {
    const r = await raw(p)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
  }
  for (const p of ['/', '/index.html', '/backchannel', '/sw.js', '/manifest.webmanifest']) {
    const r = await raw(p)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-cache')
  }
  // The unhashed names are gone (a cached old index.html would otherwise mix versions).
  expect((await raw('/app.js')).status).toBe(404)
  expect((await raw('/app.css')).status).toBe(404)
  // The style sheet is minified: no comments, no indentation.
  const css = await (await raw(style)).text()
  expect(css).not.toContain('/*')
  expect(css).not.toMatch(/\n {2}/)
})

test('[H62] the app is split: lazy screens are hashed, immutable chunks not linked from index.html', async () => {
  const entry = await (await raw(script)).text()
  const chunks = [...new Set([...entry.matchAll(/import\(["']\.\/(chunk\.[a-z0-9]+\.js)["']\)/g)].map((m) => m[1]!))]
  expect(chunks.length).toBeGreaterThan(0)
  let admin = ''
  for (const c of chunks) {
    const r = await raw(`/${c}`)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
    const text = await r.text()
    if (text.includes('Audit log')) admin = c
  }
  // The admin console is one of them, and the entry does not carry it.
  expect(admin).not.toBe('')
  expect(entry).not.toContain('Audit log')
  expect(html).not.toContain(admin)
  // What the first screen needs starts at once: the who-am-I is preloaded.
  expect(html).toContain('<link rel="preload" href="/api/session" as="fetch" crossorigin>')
})

test('[H63] GET /api/session: 200 {user: null} signed out, the member signed in; GET /api/me stays 401', async () => {
  const out = await fetch(s.url + '/api/session')
  expect(out.status).toBe(200)
  expect(await out.json()).toEqual({ user: null })
  expect((await fetch(s.url + '/api/me')).status).toBe(401)
  const ann = await signedInClient(s, 'ann')
  const r = await ann.get('/api/session')
  expect(r.status).toBe(200)
  expect(r.json.user).toMatchObject({ username: 'ann', role: 'member' })
  expect(r.json.user).toEqual((await ann.get('/api/me')).json.user)
  // A member opening the hallway gets its list preloaded with the page; nobody else does (it would be a 401).
  expect((await ann.get('/')).headers.get('link')).toBe('</api/rooms>; rel=preload; as=fetch; crossorigin')
  expect((await ann.get('/backchannel')).headers.get('link')).toBeNull()
  await ann.post('/api/auth/logout')
  expect((await ann.get('/api/session')).json).toEqual({ user: null })
  expect((await ann.get('/')).headers.get('link')).toBeNull()
})

describe("[P16] a page opened in the browser carries the first data: who I am, a member's hallway list", () => {
  /** A browser's navigation to `path` (Sec-Fetch-Dest: document), with a member's cookie or none. */
  const open = (path: string, cookie?: string, headers: Record<string, string> = {}) =>
    fetch(s.url + path, { headers: { 'sec-fetch-dest': 'document', ...(cookie ? { cookie } : {}), ...headers } })
  /** The first data of a page, as the app reads it (null when the page has none). */
  const firstData = (page: string) => {
    const m = /<script type="application\/json" id="first-data">(.*?)<\/script>/s.exec(page)
    return m ? JSON.parse(m[1]!) : null
  }

  test("a member's hallway: the who-am-I and the list, as the API answers them; private, no preload", async () => {
    const eve = await signedInClient(s, 'eve')
    expect((await eve.post('/api/rooms', { title: 'Eve live', kind: 'open' })).status).toBe(201)
    const later = { title: 'Eve later', kind: 'open', startsAt: Date.now() + 86_400_000 }
    expect((await eve.post('/api/rooms', later)).status).toBe(201)
    const r = await open('/', eve.cookie)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8')
    // It is this member's page: no shared cache keeps it, and no ETag says it is the file's.
    expect(r.headers.get('cache-control')).toBe('private, no-cache')
    expect(r.headers.get('etag')).toBeNull()
    expect(r.headers.get('link')).toBeNull()
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'")
    const page = await r.text()
    expect(firstData(page)).toEqual({
      user: (await eve.get('/api/session')).json.user,
      rooms: (await eve.get('/api/rooms')).json,
    })
    expect(firstData(page).rooms.upcoming.map((x: { title: string }) => x.title)).toContain('Eve later')
    // The who-am-I is not preloaded as well (it would be a request nobody reads); the rest of the shell is the file's.
    expect(page).not.toContain('href="/api/session"')
    expect(page.replace(/<script type="application\/json".*?<\/script>/s, '')).toBe(
      html.replace('<link rel="preload" href="/api/session" as="fetch" crossorigin>', ''),
    )
    // Another screen of a member: who I am only; signed out: nobody.
    expect(firstData(await (await open('/backchannel', eve.cookie)).text())).toEqual({
      user: (await eve.get('/api/session')).json.user,
    })
    expect(firstData(await (await open('/')).text())).toEqual({ user: null })
  })

  test('compressed as accepted, like the files', async () => {
    const fay = await signedInClient(s, 'fay')
    const plain = await (await open('/', fay.cookie, { 'accept-encoding': 'identity' })).text()
    expect(firstData(plain)?.user.username).toBe('fay')
    for (const [accept, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const r = await fetch(s.url + '/', {
        headers: { 'sec-fetch-dest': 'document', cookie: fay.cookie, 'accept-encoding': accept },
        decompress: false,
      } as RequestInit)
      expect(r.headers.get('content-encoding')).toBe(accept)
      expect(r.headers.get('vary')).toBe('Accept-Encoding')
      expect(new TextDecoder().decode(decode(new Uint8Array(await r.arrayBuffer())))).toBe(plain)
    }
  })

  test('anything but a document navigation (the service worker caching the shell) gets the plain file', async () => {
    const gus = await signedInClient(s, 'gus')
    for (const dest of [undefined, 'empty', 'script']) {
      const r = await fetch(s.url + '/', {
        headers: { cookie: gus.cookie, ...(dest ? { 'sec-fetch-dest': dest } : {}) },
      })
      const page = await r.text()
      expect(firstData(page)).toBeNull()
      expect(page).toBe(html)
      expect(r.headers.get('cache-control')).toBe('no-cache')
    }
  })

  test('user text cannot leave the data block: a title with </script> and <!-- stays data', async () => {
    const hal = await signedInClient(s, 'hal')
    const title = '</script><script>alert(1)</script><!--'
    expect((await hal.post('/api/rooms', { title, kind: 'open' })).status).toBe(201)
    const page = await (await open('/', hal.cookie)).text()
    const block = /<script type="application\/json" id="first-data">(.*?)<\/script>/s.exec(page)![1]!
    expect(block).not.toContain('<')
    expect(firstData(page).rooms.live.map((x: { title: string }) => x.title)).toContain(title)
    // One script element more than the file has, and it is the data block.
    const scripts = (t: string) => t.match(/<script/g)?.length ?? 0
    expect(scripts(page)).toBe(scripts(html) + 1)
  })
})

describe.skipIf(!hasChromium)('[H64] in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
  })

  /** Opens a page and records its requests, failed responses and console errors until the screen shows `ready`. */
  async function visit(path: string, ready: RegExp, cookie?: string) {
    const { context, page } = await pageFor(browser, s.url, cookie)
    const requests: string[] = []
    const problems: string[] = []
    page.on('request', (r) => requests.push(new URL(r.url()).pathname))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
    })
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    await page.goto(s.url + path)
    await page.getByRole('heading', { name: ready }).first().waitFor()
    return { context, page, requests, problems }
  }

  const adminChunk = async () => {
    const entry = await (await fetch(s.url + script)).text()
    for (const m of entry.matchAll(/import\(["']\.\/(chunk\.[a-z0-9]+\.js)["']\)/g))
      if ((await (await fetch(`${s.url}/${m[1]}`)).text()).includes('Audit log')) return `/${m[1]}`
    throw new Error('no admin chunk')
  }

  test('the signed-out page: no admin code, no who-am-I request (the page says), no error or warning', async () => {
    const v = await visit('/', /sign in|townhall/i)
    await v.page
      .getByRole('button', { name: /sign in/i })
      .first()
      .waitFor()
    expect(v.problems).toEqual([])
    expect(v.requests).not.toContain(await adminChunk())
    // [P16] who I am (nobody) came with the page: the who-am-I is neither asked nor preloaded.
    expect(v.requests.filter((p) => p === '/api/session')).toHaveLength(0)
    expect(v.requests).not.toContain('/api/me')
    await v.context.close()
  })

  test('a member: the hallway loads without the admin chunk; an admin opening /admin loads it then', async () => {
    const bea = await signedInClient(s, 'bea')
    expect((await bea.post('/api/rooms', { title: 'Bea room', kind: 'open' })).status).toBe(201)
    const hall = await visit('/', /hallway|rooms/i, bea.cookie)
    // [P16] The list came with the page: neither it nor the who-am-I is asked for (nor preloaded: an unused preload
    // would be a console warning).
    await hall.page.getByText('Bea room').first().waitFor()
    expect(hall.problems).toEqual([])
    expect(hall.requests.filter((p) => p === '/api/rooms' || p === '/api/session')).toEqual([])
    expect(hall.requests).not.toContain(await adminChunk())
    await hall.context.close()

    const root = await signedInClient(s, 'root', 'admin')
    const admin = await visit('/admin', /admin/i, root.cookie)
    await admin.page.getByRole('navigation', { name: 'Admin sections' }).waitFor()
    expect(admin.requests).toContain(await adminChunk())
    expect(admin.problems).toEqual([])
    await admin.context.close()
  })

  test('[P16] the app reads the first data once, removes it, and shows user text in it as text', async () => {
    const ivy = await signedInClient(s, 'ivy')
    const title = '<img src=x onerror=alert(1)></script>'
    expect((await ivy.post('/api/rooms', { title, kind: 'open' })).status).toBe(201)
    const v = await visit('/', /hallway|rooms/i, ivy.cookie)
    await v.page.getByText(title).first().waitFor()
    expect(await v.page.locator('img[src="x"]').count()).toBe(0)
    expect(await v.page.locator('#first-data').count()).toBe(0)
    // The shell's parts that need who I am show it (the avatar's link), and nothing was asked for it.
    await v.page.getByRole('link', { name: 'My profile' }).waitFor()
    expect(v.requests.filter((p) => p === '/api/rooms' || p === '/api/session')).toEqual([])
    expect(v.problems).toEqual([]) // a CSP violation or a failed parse would be a console error or warning
    await v.context.close()
  })

  // The font sizes and weights of a page's text, as `size weight` (the keys of this host's font lookups).
  const strikes = (page: Page, root: string) =>
    page.evaluate((sel) => {
      const out = new Set<string>()
      const walk = document.createTreeWalker(document.querySelector(sel)!, NodeFilter.SHOW_TEXT)
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        if (!n.textContent?.trim() || !n.parentElement) continue
        const cs = getComputedStyle(n.parentElement)
        if (cs.fontStyle === 'normal') out.add(`${Number.parseFloat(cs.fontSize)} ${cs.fontWeight}`)
      }
      return [...out].sort()
    }, root)

  test('index.html has hidden text in each font size and weight of first screens, gone at first paint', async () => {
    // What index.html's hidden text warms: laid out with the style sheet and no script, as before the app runs.
    const bare = await browser.newContext({ javaScriptEnabled: false })
    const page = await bare.newPage()
    await page.goto(s.url + '/')
    expect(await page.locator('.font-warm').isHidden()).toBe(true)
    const warm = new Set(await strikes(page, '.font-warm'))
    await bare.close()
    expect(warm.size).toBeGreaterThan(5)
    // Everything the sign-in page and a member's hallway (a live and an upcoming room) show, on a phone and a desk.
    const cy = await signedInClient(s, 'cy')
    const dee = await signedInClient(s, 'dee')
    await cy.put('/api/users/dee/follow')
    expect((await dee.post('/api/rooms', { title: 'Dee live', kind: 'open' })).status).toBe(201)
    const later = { title: 'Dee later', kind: 'open', startsAt: Date.now() + 86_400_000 }
    expect((await dee.post('/api/rooms', later)).status).toBe(201)
    for (const viewport of [
      { width: 390, height: 844 },
      { width: 1280, height: 800 },
    ])
      for (const who of [undefined, cy.cookie]) {
        const { context, page } = await pageFor(browser, s.url, who, viewport)
        await page.goto(s.url + '/')
        const ready = who ? page.getByText('Dee later') : page.getByRole('button', { name: 'Sign in', exact: true })
        await ready.first().waitFor()
        const missing = (await strikes(page, 'body')).filter((k) => !warm.has(k))
        expect({ viewport, signedIn: !!who, missing }).toEqual({ viewport, signedIn: !!who, missing: [] })
        expect(await page.locator('.font-warm').count()).toBe(0)
        await context.close()
      }
  })
})
