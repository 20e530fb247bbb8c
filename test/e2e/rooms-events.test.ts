// Rooms as events in Chromium: the upcoming cards (time, hosts, excerpt, who is coming, "Remind me"), sharing a room
// (the link copied is PUBLIC_URL/rooms/<id>), the event page with the host's edit, the calendar feed, the signed-out
// event page (sign in, ask for an invite, listen as a guest), finding rooms, and an ended room's recap. Screenshots
// of each screen at 390×844 and 1280×800.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { poll, TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const HOUR = 3600_000
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }

/** Screenshots of the page as it is, at the phone size and the desktop size. */
async function shots(page: Page, name: string) {
  const size = page.viewportSize()!
  await page.setViewportSize(PHONE)
  await page.screenshot({ path: join(SHOTS, `events-${name}-390.png`) })
  await page.setViewportSize(DESKTOP)
  await page.screenshot({ path: join(SHOTS, `events-${name}-1280.png`) })
  await page.setViewportSize(size)
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  s = await startTestServer()
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
})

test.skipIf(!hasChromium)(
  '[R44] upcoming cards, Remind me and its reminder, share (copy link), the event page, edit, calendar feed, ' +
    'finding rooms, recap',
  async () => {
    const host = await signedInClient(s, 'hana_e')
    const fan = await signedInClient(s, 'felix_e')
    const co = await signedInClient(s, 'cora_e')
    await s.ctx.accounts.service.updateProfile(host.user.id, { displayName: 'Hana Host' })
    await s.ctx.accounts.service.updateProfile(fan.user.id, { displayName: 'Felix Fan' })
    await s.ctx.accounts.service.updateProfile(co.user.id, { displayName: 'Cora Cohost' })
    const created = await host.post('/api/rooms', {
      title: 'Neighbourhood garden planning',
      description: 'What to plant this spring, who waters in July, and the tool shed rota. Bring seeds to swap!',
      startsAt: Date.now() + 26 * HOUR,
      cohosts: ['cora_e'],
    })
    const roomId = created.json.room.id as number
    await co.put(`/api/rooms/${roomId}/rsvp`, { answer: 'yes' }) // a co-host cannot: room_rsvp_host
    await host.post('/api/rooms', { title: 'Book swap', startsAt: Date.now() + 3 * HOUR })
    // a past room with a recap
    const past = await fan.post('/api/rooms', { title: 'Garden tools repair café', description: 'Fixing rakes' })
    const pastId = past.json.room.id as number
    const ws = await connectWs(s.url, { cookie: fan.cookie, origin: s.origin })
    await ws.request('room.join', { roomId: pastId })
    await ws.request('room.end', { roomId: pastId })
    ws.close()

    const F = await pageFor(browser, s.url, fan.cookie)
    await F.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: s.url })
    const f = F.page
    await f.goto('/')
    const card = f.locator('.event-item', { hasText: 'Neighbourhood garden planning' })
    await card.waitFor()
    await card.getByText('with Hana Host, Cora Cohost').waitFor()
    await card.getByText('tomorrow').waitFor()
    await card.getByText('Nobody said yes yet').waitFor()
    await card.getByRole('button', { name: 'Remind me' }).click()
    await card.getByRole('button', { name: 'Going' }).waitFor()
    await card.getByText('1 going').waitFor()
    expect(s.ctx.rooms.api.rsvps(roomId).yes).toEqual([fan.user.id])
    await shots(f, 'hallway')
    // the reminder 10 minutes before reaches the open app (the push goes to devices, none here)
    await s.ctx.reminders.service.run(created.json.room.startsAt - 9 * 60_000)
    await f.getByText('“Neighbourhood garden planning” starts in a few minutes').waitFor()

    // share from the card: the sheet shows the link, Copy puts it on the clipboard
    await card.getByRole('button', { name: 'Share Neighbourhood garden planning' }).click()
    const sheet = f.getByRole('dialog', { name: 'Share this room' })
    expect(await sheet.getByLabel('Link').inputValue()).toBe(`${s.url}/rooms/${roomId}`)
    await sheet.getByRole('button', { name: 'Copy link' }).click()
    await f.getByText('Link copied').waitFor()
    expect(await f.evaluate(() => navigator.clipboard.readText())).toBe(`${s.url}/rooms/${roomId}`)
    expect(await sheet.getByRole('link', { name: 'Add to calendar' }).getAttribute('href')).toBe(`/rooms/${roomId}.ics`)
    await shots(f, 'share')
    await sheet.getByRole('button', { name: 'Close' }).click()

    // the calendar feed sheet
    await f.getByRole('button', { name: 'Calendar feed' }).click()
    const cal = f.getByRole('dialog', { name: 'Your calendar feed' })
    await poll(
      () => cal.getByLabel('Private address').inputValue(),
      (v) => /\/calendar\/[A-Za-z0-9_-]+\.ics$/.test(v),
      'the calendar address',
    )
    await shots(f, 'calendar')
    await cal.getByRole('button', { name: 'Close' }).click()

    // the event page, from the card's title
    await card.getByRole('link', { name: 'Neighbourhood garden planning' }).click()
    await f.getByRole('heading', { name: 'Neighbourhood garden planning' }).waitFor()
    await f.getByRole('heading', { name: 'Who is coming' }).waitFor()
    await f.getByRole('button', { name: 'Not going' }).waitFor()
    expect(await f.getByRole('button', { name: 'Edit' }).count()).toBe(0)
    await shots(f, 'event-page')

    // the host edits it: the fan's open page follows (the room.updated event), with a toast
    const H = await pageFor(browser, s.url, host.cookie)
    const h = H.page
    await h.goto(`/rooms/${roomId}`)
    await h.getByRole('button', { name: 'Edit' }).click()
    const edit = h.getByRole('dialog', { name: 'Edit room' })
    await edit.getByLabel('Title').fill('Garden planning (moved indoors)')
    await shots(h, 'edit')
    await edit.getByRole('button', { name: 'Save changes' }).click()
    await h.getByRole('heading', { name: 'Garden planning (moved indoors)' }).waitFor()
    await f.getByRole('heading', { name: 'Garden planning (moved indoors)' }).waitFor()
    await f.getByText('“Garden planning (moved indoors)” was updated').waitFor()
    await shots(h, 'event-host')

    // finding rooms: grouped live / upcoming / past
    await f.goto('/')
    await f.getByLabel('Find rooms').fill('garden')
    await f.getByRole('heading', { name: /^Upcoming/ }).waitFor()
    await f.getByRole('heading', { name: /^Past/ }).waitFor()
    await f.locator('.search-results').getByRole('link', { name: 'Garden planning (moved indoors)' }).waitFor()
    expect(await f.locator('.search-results').getByText('Book swap').count()).toBe(0)
    await shots(f, 'search')

    // the past room's page is its recap
    await f.locator('.search-results').getByRole('link', { name: 'Garden tools repair café' }).click()
    await f.getByRole('heading', { name: 'Summary' }).waitFor()
    await f.getByText('Peak listeners').waitFor()
    await f.getByRole('button', { name: 'Chat' }).click()
    await shots(f, 'recap')
    await H.context.close()
    await F.context.close()
  },
)

test.skipIf(!hasChromium)(
  '[R36] a signed-out visitor sees the event page: sign in, ask for an invite, listen as a guest',
  async () => {
    const host = await signedInClient(s, 'gwen_e')
    await s.ctx.accounts.service.updateProfile(host.user.id, { displayName: 'Gwen Garden' })
    const up = await host.post('/api/rooms', {
      title: 'Seed swap on Sunday',
      description: 'Swap seeds and stories.',
      startsAt: Date.now() + 50 * HOUR,
    })
    const id = up.json.room.id as number
    const V = await pageFor(browser, s.url)
    const v = V.page
    await v.goto(`/rooms/${id}`)
    await v.getByRole('heading', { name: 'Seed swap on Sunday' }).waitFor()
    await v.getByText('Gwen Garden').first().waitFor()
    await v.getByText('Nobody said they are coming yet.').waitFor()
    await v.getByText('New here? Ask a member for an invite.').waitFor()
    expect(await v.getByRole('button', { name: 'Listen as a guest' }).count()).toBe(0)
    await shots(v, 'public')
    // sign in from there: back on the room's page as a member
    await v.locator('.join-card').getByRole('button', { name: 'Sign in' }).click()
    await v.getByLabel('Username').fill('gwen_e')
    await v.getByLabel('Password').fill('correct horse battery')
    await v.getByRole('button', { name: 'Sign in' }).click()
    await v.getByRole('button', { name: 'Edit' }).waitFor()
    expect(new URL(v.url()).pathname).toBe(`/rooms/${id}`)
    await V.context.close()

    // a live open room, guests allowed: listen as a guest
    await s.ctx.core.settings.update({ guests: true })
    const live = await host.post('/api/rooms', { title: 'Live from the allotment' })
    const liveId = live.json.room.id as number
    const ws = await connectWs(s.url, { cookie: host.cookie, origin: s.origin })
    await ws.request('room.join', { roomId: liveId })
    const G = await pageFor(browser, s.url)
    await G.page.goto(`/rooms/${liveId}`)
    await G.page.getByRole('button', { name: 'Listen as a guest' }).click()
    await G.page.getByRole('heading', { name: /On stage/ }).waitFor()
    await G.context.close()
    await ws.request('room.end', { roomId: liveId })
    ws.close()
    await s.ctx.core.settings.update({ guests: false })
  },
)
