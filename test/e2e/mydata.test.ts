// [D52] [D53] In Chromium: "Your data" on my profile downloads one .tar; "Delete my account…" says what happens to my
// messages, asks for the password, and signs the page out when done. Screenshots at 390×844 and 1280×800.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  s = await startTestServer()
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
})

test.skipIf(!hasChromium)('[D52] [D53] download my data, then delete my account, from my profile', async () => {
  const eve = await signedInClient(s, 'eve_data')
  const { context, page } = await pageFor(browser, s.url, eve.cookie)
  try {
    await page.goto('/me')
    const card = page.getByRole('region', { name: 'Your data' })
    await card.waitFor()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      card.getByRole('link', { name: 'Download my data' }).click(),
    ])
    expect(download.suggestedFilename()).toMatch(/^townhall-eve_data-\d{4}-\d\d-\d\d\.tar$/)
    await card.getByRole('button', { name: 'Delete my account…' }).click()
    await card.getByText('In one-to-one conversations the other person keeps').waitFor()
    await card.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(SHOTS, 'mydata-delete-390.png'), fullPage: false })
    await page.setViewportSize({ width: 1280, height: 800 })
    await card.scrollIntoViewIfNeeded()
    await page.screenshot({ path: join(SHOTS, 'mydata-delete-1280.png') })
    await card.getByLabel('Your password').fill('wrong password!')
    page.once('dialog', (d) => d.accept())
    await card.getByRole('button', { name: 'Delete my account' }).click()
    await page.getByText('The current password is wrong.').waitFor()
    await card.getByLabel('Your password').fill(PASSWORD)
    page.once('dialog', (d) => d.accept())
    await card.getByRole('button', { name: 'Delete my account' }).click()
    await page.getByText('Your account was deleted').waitFor()
    expect(s.ctx.accounts.api.byId(eve.user.id)!.username).toBe(`deleted_${eve.user.id}`)
    expect((await eve.get('/api/me')).status).toBe(401)
  } finally {
    await context.close()
  }
})
