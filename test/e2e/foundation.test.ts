// The foundation in a real Chromium (one browser, one persistent context, used in turn by the owner and a newcomer):
// [A6] first-run setup creates the admin; [I1] the admin creates, copies and revokes invites in the UI; a newcomer
// redeems an invite, registers, signs out and signs in; [H14] Chrome's own installability check finds no errors.
// Screenshots of sign-in, register, profile and people at 390×844 and 1280×800 go to test/.tmp/shots.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import { hasChromium, launchPersistent, SHOTS } from '../helpers/browser'
import { PASSWORD, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 800 }

let s: TestServer
let browser: Awaited<ReturnType<typeof launchPersistent>>
let context: BrowserContext
let page: Page
const errors: string[] = []

beforeAll(async () => {
  s = await startTestServer()
  browser = await launchPersistent({ viewport: PHONE })
  context = browser.context
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.origin })
  page = context.pages()[0] ?? (await context.newPage())
  page.on('pageerror', (e) => errors.push(e.message))
  mkdirSync(SHOTS, { recursive: true })
})
afterAll(async () => {
  await browser?.close()
  await s?.stop()
})

const shot = async (name: string) => {
  for (const [label, size] of [
    ['phone', PHONE],
    ['desktop', DESKTOP],
  ] as const) {
    await page.setViewportSize(size)
    // Two frames, so the page is laid out anew at this size.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
    await page.screenshot({ path: join(SHOTS, `foundation-${name}-${label}.png`), fullPage: true })
  }
  await page.setViewportSize(PHONE)
}

const signOut = async () => {
  await page.goto(s.origin + '/me')
  await page.getByRole('button', { name: 'Sign out', exact: true }).click()
  await page.getByRole('heading', { name: 'Sign in to Townhall' }).waitFor()
}

test.skipIf(!hasChromium)('[A6] the first-run setup link creates the admin account', async () => {
  const token = (await s.ctx.accounts.service.setupTokenFor())!
  await page.goto(`${s.origin}/setup/nope`)
  await page.getByRole('heading', { name: 'This setup link is not valid' }).waitFor()
  await page.goto(`${s.origin}/setup/${token}`)
  await page.getByRole('heading', { name: 'Set up your Townhall' }).waitFor()
  await page.getByLabel('Username').fill('owner')
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create admin account' }).click()
  await page.getByRole('heading', { name: 'Admin', exact: true }).waitFor()
  expect(new URL(page.url()).pathname).toBe('/admin')
  expect(s.ctx.accounts.api.byName('owner')!.role).toBe('admin')
  // The link is spent.
  await page.goto(`${s.origin}/setup/${token}`)
  await page.getByRole('heading', { name: 'Townhall is set up' }).waitFor()
})

let inviteUrl = ''
test.skipIf(!hasChromium)('[I6] the admin creates, copies and revokes invite links in the UI', async () => {
  await page.goto(s.origin + '/admin')
  await page.getByRole('button', { name: 'Create invite link' }).click()
  const link = page.getByLabel('New invite link')
  await link.waitFor()
  inviteUrl = await link.inputValue()
  expect(inviteUrl).toStartWith(`${s.origin}/invite/`)
  await page.getByRole('button', { name: 'Copy link' }).click()
  await page.getByText('Link copied').waitFor()
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(inviteUrl)

  // A second one, revoked at once.
  await page.getByRole('button', { name: 'Create invite link' }).click()
  await page.waitForFunction(
    (first) => (document.querySelector('input[aria-label="New invite link"]') as HTMLInputElement)?.value !== first,
    inviteUrl,
  )
  const second = (await s.ctx.invites.service.list(0, true))[0]!
  await page.getByRole('button', { name: `Revoke invite ${second.id}` }).click()
  await page.getByText('Invite revoked').waitFor()
  await page.locator('.invite-row[data-state="revoked"]').first().waitFor()
  expect((await s.ctx.invites.service.store.byId(second.id))!.revoked_at).not.toBeNull()
  expect(await page.getByRole('button', { name: `Revoke invite ${second.id}` }).count()).toBe(0)
  await signOut()
})

test.skipIf(!hasChromium)('[I1] a newcomer redeems an invite, registers, signs out and signs in again', async () => {
  await page.goto(inviteUrl)
  await page.getByRole('heading', { name: 'Join Townhall' }).waitFor()
  await page.getByText('@owner').waitFor() // "@owner invited you to join."
  await shot('register')
  await page.getByLabel('Username').fill('newbie')
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('navigation', { name: 'Main' }).waitFor()
  expect(s.ctx.accounts.api.byName('newbie')!.invitedBy).toBe(s.ctx.accounts.api.byName('owner')!.id)

  // The spent link now explains itself.
  await page.goto(inviteUrl)
  await page.getByRole('heading', { name: "This invite can't be used" }).waitFor()
  await page.getByText('This invite has been used up.').waitFor()

  await page.goto(s.origin + '/u/newbie')
  await page.getByText('invited by').waitFor()
  await page.getByRole('link', { name: '@owner' }).waitFor()
  await page.goto(s.origin + '/me')
  await page.getByLabel('Display name').fill('New Bie')
  await page.getByLabel(/^Bio/).fill('Here for the Thursday rooms.')
  await page.getByRole('button', { name: 'Save profile' }).click()
  await page.getByText('Profile saved').waitFor()
  await shot('profile')
  // A new member already follows whoever invited them (A32): listed first, with "Unfollow".
  await page.goto(s.origin + '/people')
  await page.getByRole('button', { name: 'Unfollow @owner' }).click()
  await page.getByRole('button', { name: 'Follow @owner', exact: true }).click()
  await page.getByRole('button', { name: 'Unfollow @owner' }).waitFor()
  // I am in the list too, without a button to follow myself.
  expect(await page.getByRole('button', { name: 'Follow @newbie' }).count()).toBe(0)
  expect(
    s.ctx.accounts.api.isFollowing(s.ctx.accounts.api.byName('newbie')!.id, s.ctx.accounts.api.byName('owner')!.id),
  ).toBe(true)
  await shot('people')

  await signOut()
  await shot('signin')
  await page.getByLabel('Username').fill('newbie')
  await page.getByLabel('Password').fill('a wrong password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText('Wrong username or password.').waitFor()
  await page.getByLabel('Password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('navigation', { name: 'Main' }).waitFor()
  await page.goto(s.origin + '/u/owner/followers')
  await page.getByRole('link', { name: /@newbie/ }).waitFor()
})

test.skipIf(!hasChromium)('[A5] block from a profile, see it on my profile page, unblock there', async () => {
  page.once('dialog', (d) => void d.accept())
  await page.goto(s.origin + '/u/owner')
  await page.getByRole('button', { name: 'Block', exact: true }).click()
  await page.getByText('Blocked', { exact: true }).waitFor()
  const [me, owner] = ['newbie', 'owner'].map((n) => s.ctx.accounts.api.byName(n)!.id)
  expect(s.ctx.accounts.api.hasBlocked(me!, owner!)).toBe(true)
  await page.goto(s.origin + '/me')
  await page.getByRole('list', { name: 'Blocked people' }).waitFor()
  await page.getByRole('button', { name: 'Unblock @owner' }).click()
  await page.getByText('Unblocked @owner').waitFor()
  // The list reloads after the toast: wait for it to go rather than counting at once.
  await page.getByRole('list', { name: 'Blocked people' }).waitFor({ state: 'detached' })
  expect(s.ctx.accounts.api.hasBlocked(me!, owner!)).toBe(false)
})

test.skipIf(!hasChromium)(
  "[H14] Chrome's installability check finds no errors once the service worker is active",
  async () => {
    await page.goto(s.origin + '/')
    const active = await page.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready
      return reg.active?.scriptURL ?? null
    })
    expect(active).toBe(`${s.origin}/sw.js`)
    // A reload so the page is controlled by the worker.
    await page.reload()
    await page.waitForFunction(() => !!navigator.serviceWorker.controller)
    const cdp = await context.newCDPSession(page)
    const manifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string }
    expect(manifest.url).toBe(`${s.origin}/manifest.webmanifest`)
    expect(manifest.errors).toEqual([])
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors')
    expect(installabilityErrors).toEqual([])
    await cdp.detach()
    expect(errors).toEqual([])
  },
)
