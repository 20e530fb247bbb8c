// The installable app in a real Chromium (persistent profile, so the service worker runs): offline shell with
// the last-seen hallway and inbox, the installability check, and the "Update available" flow. Each test has a browser
// of its own (a new profile, alice signed in anew): a Chromium or Playwright failure in one test (once: "Cannot find
// object to frameReceived" inside playwright-core) costs that test, not the ones after it.
import { afterAll, afterEach, beforeAll, beforeEach, expect, setDefaultTimeout, test } from 'bun:test'
import type { BrowserContext, Page } from 'playwright-core'
import { hasChromium, launchPersistent, SHOTS } from '../helpers/browser'
import { signedInClient, signIn, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { clientFiles } from '../../server/http/static'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Awaited<ReturnType<typeof launchPersistent>> | null = null
let context: BrowserContext
let page: Page
let alice: Awaited<ReturnType<typeof signedInClient>>
const ROOM = 'Offline lounge'

beforeAll(async () => {
  s = await startTestServer()
  alice = await signedInClient(s, 'alice')
  const bob = await signedInClient(s, 'bobby')
  await alice.put('/api/users/bobby/follow')
  await bob.put('/api/users/alice/follow')
  expect((await bob.post('/api/rooms', { title: ROOM, kind: 'open' })).status).toBe(201)
  const ws = await connectWs(s.url, { cookie: bob.cookie, origin: s.origin })
  const t = await ws.request('bc.dm', { username: 'alice' })
  await ws.request('bc.send', { threadId: t.thread.id, clientId: 'e2e-1', body: 'see you offline' })
  ws.close()
})
afterAll(async () => {
  await s?.stop()
})

beforeEach(async () => {
  if (!hasChromium) return
  browser = await launchPersistent({ viewport: { width: 390, height: 844 } })
  context = browser.context
  // A session of its own: the last test signs out.
  const [name, value] = (await signIn(s, 'alice')).cookie.split('=') as [string, string]
  await context.addCookies([{ name, value, url: s.url, httpOnly: true, sameSite: 'Lax' }])
  page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (e) => console.error('[page error]', e.message))
})
afterEach(async () => {
  // A browser that died with its test fails that test only; the next one starts its own.
  await browser?.close().catch((e: Error) => console.error('[browser close]', e.message))
  browser = null
})

const controlled = () => page.waitForFunction(() => navigator.serviceWorker.controller !== null)

test.skipIf(!hasChromium)(
  '[P11] the service worker serves the shell, the last-seen hallway and the inbox with no network',
  async () => {
    await page.goto(s.url + '/')
    await controlled()
    // Online once through the worker, so it keeps the lists it saw.
    await page.reload()
    await expect(page.getByText(ROOM).first().waitFor()).resolves.toBeUndefined()
    await page.goto(s.url + '/backchannel')
    await page.getByText('bobby').first().waitFor()
    await context.setOffline(true)
    try {
      await page.goto(s.url + '/')
      await page.getByRole('navigation', { name: 'Main' }).waitFor()
      await page.getByText(ROOM).first().waitFor()
      // Playwright's offline mode leaves navigator.onLine alone; a real browser fires this event.
      await page.evaluate(() => dispatchEvent(new Event('offline')))
      await page.getByRole('status').filter({ hasText: 'You are offline' }).waitFor()
      await page.screenshot({ path: `${SHOTS}/app-offline-hallway-phone.png` })
      await page.goto(s.url + '/backchannel')
      await page.getByText('bobby').first().waitFor()
      await page.screenshot({ path: `${SHOTS}/app-offline-inbox-phone.png` })
      const offline = await page.evaluate(async () => {
        const r = await fetch('/api/rooms')
        return {
          status: r.status,
          text: await r.text(),
          other: await fetch('/api/users?q=a').then(
            (x) => x.status,
            () => 'network error',
          ),
        }
      })
      expect(offline.status).toBe(200)
      expect(offline.text).toContain(ROOM)
      expect(offline.other).toBe('network error') // only the lists the app shows offline are kept
    } finally {
      await context.setOffline(false)
    }
  },
)

test.skipIf(!hasChromium)("[P16] the shell the service worker keeps carries nobody's first data", async () => {
  // The page itself came with alice's first data (a navigation); the worker's copy, served to whoever opens the app
  // next and offline, is the plain file: it asks who is signed in.
  await page.goto(s.url + '/')
  await controlled()
  const shell = await page.evaluate(async () => (await (await caches.match('/'))?.text()) ?? '')
  expect(shell).toContain('<div id="app">')
  expect(shell).toContain('<link rel="preload" href="/api/session" as="fetch" crossorigin>')
  expect(shell).not.toContain('first-data')
  expect(shell).not.toContain('alice')
})

test.skipIf(!hasChromium)("[P12] Chrome's installability check finds no errors", async () => {
  await page.goto(s.url + '/')
  await controlled()
  const cdp = await context.newCDPSession(page)
  const manifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string; data?: string }
  expect(manifest.errors).toEqual([])
  expect(JSON.parse(manifest.data!)).toMatchObject({ display: 'standalone', start_url: '/' })
  const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
    installabilityErrors: unknown[]
  }
  expect(installabilityErrors).toEqual([])
  await cdp.detach()
})

test.skipIf(!hasChromium)('[P13] a new version shows "Update available" and reloads into it on request', async () => {
  await page.goto(s.url + '/')
  await controlled()
  const files = await clientFiles()
  const original = files.get('/sw.js')!
  const next = new TextEncoder().encode(new TextDecoder().decode(original.identity.body) + '\n// next version\n')
  // Only the plain form: the browser would otherwise get the old worker's brotli copy.
  files.set('/sw.js', { ...original, identity: { body: next, etag: '"next-version"' }, br: undefined, gzip: undefined })
  try {
    await page.evaluate(() => navigator.serviceWorker.getRegistration().then((r) => r!.update()))
    const banner = page.getByRole('status').filter({ hasText: 'Update available' })
    await banner.waitFor()
    await page.screenshot({ path: `${SHOTS}/app-update-banner-phone.png` })
    const before = await page.evaluate(() => performance.timeOrigin)
    await Promise.all([page.waitForEvent('load'), banner.getByRole('button', { name: 'Reload' }).click()])
    await page.getByRole('navigation', { name: 'Main' }).waitFor()
    expect(await page.evaluate(() => performance.timeOrigin)).not.toBe(before)
    expect(await banner.count()).toBe(0)
    const sw = await page.evaluate(async () => {
      const r = await navigator.serviceWorker.getRegistration()
      return { waiting: !!r!.waiting, text: await (await fetch('/sw.js', { cache: 'no-store' })).text() }
    })
    expect(sw.waiting).toBe(false)
    expect(sw.text).toContain('next version')
  } finally {
    files.set('/sw.js', original)
  }
})

test.skipIf(!hasChromium)('[P14] in a room, the lock screen shows its title and offers mute and leave', async () => {
  const room = (await alice.post('/api/rooms', { title: 'Screen-off talk', kind: 'open' })).json.room
  const p = await context.newPage()
  // Record the handlers the app gives the platform, so the test can press the lock-screen buttons.
  await p.addInitScript(() => {
    const handlers: Record<string, (() => void) | null> = {}
    ;(window as any).__ms = handlers
    const orig = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession)
    navigator.mediaSession.setActionHandler = (action: any, fn: any) => {
      handlers[action] = fn
      try {
        orig(action, fn)
      } catch {
        /* unknown action */
      }
    }
  })
  try {
    await p.goto(`${s.url}/rooms/${room.id}`)
    await p.getByRole('toolbar', { name: 'Room controls' }).waitFor()
    const session = () =>
      p.evaluate(() => ({
        title: navigator.mediaSession.metadata?.title ?? null,
        album: navigator.mediaSession.metadata?.album ?? null,
        state: navigator.mediaSession.playbackState,
      }))
    await p.waitForFunction(() => navigator.mediaSession.metadata?.title === 'Screen-off talk')
    expect(await session()).toEqual({ title: 'Screen-off talk', album: 'Townhall', state: 'playing' })
    // The host is on stage (joining muted): the lock screen's microphone button unmutes and mutes.
    await p.getByRole('button', { name: 'Unmute' }).waitFor()
    await p.evaluate(() => (window as any).__ms.togglemicrophone())
    await p.getByRole('button', { name: 'Mute', exact: true }).waitFor()
    await p.evaluate(() => (window as any).__ms.togglemicrophone())
    await p.getByRole('button', { name: 'Unmute' }).waitFor()
    // Hang up leaves the room and clears the lock screen.
    await p.evaluate(() => (window as any).__ms.hangup())
    await p.waitForFunction(() => navigator.mediaSession.metadata === null)
    expect((await session()).state).toBe('none')
    expect(s.ctx.rooms.api.participants(room.id).some((x) => x.userId === alice.user.id)).toBe(false)
  } finally {
    await p.screenshot({ path: `${SHOTS}/app-room-phone.png` }).catch(() => {})
    await p.close()
  }
})

test.skipIf(!hasChromium)(
  '[P11] signing out forgets the cached lists: offline, the next visitor sees the sign-in screen',
  async () => {
    // The lists the worker keeps: the hallway, seen once online through it.
    await page.goto(s.url + '/')
    await controlled()
    await page.reload()
    await page.getByText(ROOM).first().waitFor()
    await page.goto(s.url + '/me')
    await page.getByRole('button', { name: 'Sign out', exact: true }).click()
    await page
      .getByRole('button', { name: /sign in/i })
      .first()
      .waitFor()
    await context.setOffline(true)
    try {
      await page.goto(s.url + '/')
      await page
        .getByRole('button', { name: /sign in/i })
        .first()
        .waitFor()
      expect(await page.getByText(ROOM).count()).toBe(0)
      expect(await page.evaluate(async () => (await fetch('/api/me')).status)).toBe(503)
    } finally {
      await context.setOffline(false)
    }
  },
)
