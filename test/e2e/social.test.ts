// Issue 9's other screens in Chromium: the bell and the activity screen, the welcome of a new member, the last
// moderator's leave question, and a banned member's open tab signed out with the word for it. Screenshots at
// 390×844 and 1280×800.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const shot = async (page: Page, name: string) => {
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: join(SHOTS, `social-${name}-390.png`) })
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.screenshot({ path: join(SHOTS, `social-${name}-desktop.png`) })
  await page.setViewportSize({ width: 390, height: 844 })
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
  '[A32] a new member is welcomed: they follow their inviter, who sees it under the bell; an item opens its subject',
  async () => {
    const ann = await signedInClient(s, 'ann_s')
    await signedInClient(s, 'cat_s')
    await s.ctx.accounts.service.updateProfile(ann.user.id, { displayName: 'Ann Atwood' })
    await ann.put('/api/users/cat_s/follow')
    await ann.post('/api/rooms', { title: 'Sunday poetry hour', startsAt: Date.now() + 48 * 3600_000 })
    const inv = (await ann.post('/api/invites', { uses: 1 })).json
    const A = await pageFor(browser, s.url, ann.cookie)
    const N = await pageFor(browser, s.url)
    try {
      const a = A.page
      await a.goto('/')
      await a.getByRole('link', { name: 'Activity' }).waitFor()
      // a new member signs up with Ann's invite
      const n = N.page
      await n.goto(`/invite/${inv.token}`)
      await n.getByLabel('Username').fill('newbie_s')
      await n.getByLabel('Password').fill(PASSWORD)
      await n.getByRole('button', { name: /Create|Join|Sign up/ }).click()
      await n.waitForURL(/\/welcome$/)
      await n.getByText('who invited you').waitFor()
      await n.getByRole('button', { name: 'Follow @cat_s' }).waitFor()
      await n.getByText('Sunday poetry hour').waitFor()
      await shot(n, 'welcome')
      await n.getByRole('button', { name: 'Follow @cat_s' }).click()
      await n.getByText('Following').waitFor()
      // Ann's bell counts it, live
      await a.getByRole('link', { name: 'Activity, 1 unread' }).waitFor()
      await a.getByRole('link', { name: 'Activity, 1 unread' }).click()
      await a.getByText('joined with your invite and follows you').waitFor()
      await shot(a, 'activity')
      await a.getByRole('button', { name: /joined with your invite/ }).click()
      await a.waitForURL(/\/u\/newbie_s$/)
      await a.getByRole('link', { name: 'Activity' }).waitFor()
      expect(await a.locator('.bell-badge').count()).toBe(0)
    } finally {
      await A.context.close()
      await N.context.close()
    }
  },
)

test.skipIf(!hasChromium)(
  '[R51] the last moderator leaving is asked to hand the room over or end it; [A34] a ban signs the tab out',
  async () => {
    const host = await signedInClient(s, 'hosty_s')
    const sp = await signedInClient(s, 'speaky_s')
    const room = (await host.post('/api/rooms', { title: 'Hand me over' })).json.room
    const H = await pageFor(browser, s.url, host.cookie)
    const sws = await connectWs(s.url, { cookie: sp.cookie, origin: s.origin })
    try {
      const h = H.page
      await h.goto(`/rooms/${room.id}`)
      await h.getByRole('heading', { name: /On stage/ }).waitFor()
      await h.getByText('You are muted').waitFor()
      await shot(h, 'muted-prompt')
      expect((await sws.request('room.join', { roomId: room.id })).ok).toBe(true)
      expect((await sws.request('room.invite', { roomId: room.id, userId: sp.user.id })).ok).toBe(false)
      // the host brings the speaker up over the socket's counterpart: invite from the person menu
      await h.getByRole('button', { name: /^speaky_s/ }).click()
      await h.getByRole('dialog', { name: 'speaky_s' }).getByRole('button', { name: 'Invite to speak' }).click()
      await sws.next('room.participant', (e) => e.participant.user.id === sp.user.id && e.participant.invited)
      expect((await sws.request('room.respond', { roomId: room.id, accept: true, muted: true })).ok).toBe(true)
      await h.getByRole('button', { name: /^speaky_s, speaker/ }).waitFor()
      await h.getByRole('button', { name: 'Leave quietly' }).click()
      const sheet = h.getByRole('dialog', { name: 'Leave the room?' })
      await sheet.waitFor()
      await shot(h, 'leave-sheet')
      await sheet.getByRole('button', { name: 'Hand over and leave' }).click()
      await h.waitForURL((u) => u.pathname === '/')
      await sws.next('room.participant', (e) => e.participant.user.id === sp.user.id && e.participant.role === 'host')
      expect(s.ctx.rooms.api.room(room.id)?.state).toBe('live')
      // an admin bans the host while their tab is open: it shows the sign-in screen with the word for it
      const admin = await signedInClient(s, 'admin_s', 'admin')
      expect((await admin.post(`/api/admin/members/${host.user.id}/ban`, {})).status).toBe(200)
      await h.getByText('Your account was banned by an admin.').waitFor()
      await h.getByRole('button', { name: 'Sign in' }).waitFor()
      await shot(h, 'banned')
      await h.getByLabel('Username').fill('hosty_s')
      await h.getByLabel('Password').fill(PASSWORD)
      await h.getByRole('button', { name: 'Sign in' }).click()
      await h.getByText('This account is banned.').waitFor()
      expect((await new Client(s).post('/api/auth/login', { username: 'hosty_s', password: PASSWORD })).status).toBe(
        403,
      )
    } finally {
      await H.context.close()
      sws.close()
    }
  },
)
