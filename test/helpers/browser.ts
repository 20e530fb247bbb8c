// Debian's Chromium driven by playwright-core, with a fake microphone. One browser per test file; a context per user.
// Every context waits up to WAIT for what a page should show (set on the context: tests pass no timeouts of their own).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WAIT } from './limits'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const hasChromium = existsSync(CHROMIUM)

const CHROME_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
]

export async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROME_ARGS })
}

/** A persistent context (needed for service workers and the installability check); returns a cleanup too. */
export async function launchPersistent(opts: { viewport?: { width: number; height: number } } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-chrome-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROME_ARGS,
    viewport: opts.viewport ?? { width: 390, height: 844 },
  })
  context.setDefaultTimeout(WAIT)
  return {
    context,
    async close() {
      // The app reconnects its WebSocket when it drops (offline, or the browser closing): a socket it opens while
      // the page is being disposed reaches playwright-core after the page ("Cannot find parent object page@…",
      // thrown between tests). A blank page first stops the app's scripts.
      for (const p of context.pages()) await p.goto('about:blank').catch(() => {})
      await context.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A signed-in page: cookies from a test Client are copied into a new browser context. */
export async function pageFor(
  browser: Browser,
  baseUrl: string,
  cookie?: string,
  viewport = { width: 390, height: 844 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: baseUrl, permissions: ['microphone'] })
  context.setDefaultTimeout(WAIT) // every waitFor, click, goto and waitForFunction of its pages
  if (cookie) {
    const [name, value] = cookie.split('=') as [string, string]
    await context.addCookies([{ name, value, url: baseUrl, httpOnly: true, sameSite: 'Lax' }])
  }
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error('[page error]', e.message))
  return { context, page }
}

/** Where screenshots go (looked at by developers, not asserted). */
export const SHOTS = join(import.meta.dir, '..', '.tmp', 'shots')

/**
 * The host starts a room from the hallway as a member would: "Start a room", the title, `record` ticks "Record a
 * replay", `more` fills the sheet's other fields, "Start now"; the room's page opens. `unmute`: then the mic is turned
 * on (unmuteInPage). Returns the room's id.
 */
export async function startRoomInPage(
  page: Page,
  title: string,
  opts: { record?: boolean; unmute?: boolean; more?: () => Promise<void> } = {},
): Promise<number> {
  await page.goto('/')
  await page.getByRole('button', { name: 'Start a room' }).click()
  await page.getByLabel('Title').fill(title)
  if (opts.record) await page.getByLabel('Record a replay').check()
  await opts.more?.()
  await page.getByRole('dialog', { name: 'Start a room' }).getByRole('button', { name: 'Start now' }).click()
  await page.waitForURL(/\/rooms\/\d+$/)
  const roomId = Number(page.url().split('/').pop())
  if (opts.unmute) await unmuteInPage(page)
  return roomId
}

/** On stage, the mic on: the mic button, once shown, says Mute or Unmute; Unmute is pressed until it says Mute. */
export async function unmuteInPage(page: Page) {
  // Exact names: "muted" is in other buttons' names too.
  const mute = page.getByRole('button', { name: 'Mute', exact: true })
  const unmute = page.getByRole('button', { name: 'Unmute', exact: true })
  await mute.or(unmute).waitFor()
  if (await unmute.count()) await unmute.click()
  await mute.waitFor()
}
