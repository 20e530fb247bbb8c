// Two (then three) members in Chromium: a conversation with hostile text, a safe https link and an image; Requests
// with Accept; the room's Chat and Q&A panels. Screenshots of the inbox and a thread at 390×844 and on a desktop.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `backchannel-${name}.png`), fullPage: false })
const DESKTOP = { width: 1280, height: 800 }
const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)

/** Records anything a payload could do: a global flag, a dialog, a script error. */
const TRAP = () => {
  ;(window as any).__pwned = 0
  ;(window as any).__alerts = 0
  window.alert = () => {
    ;(window as any).__alerts++
  }
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

const HOSTILE = [
  'look <img src=x onerror="window.__pwned=1;alert(1)">',
  '<script>window.__pwned=2</script>',
  'javascript:window.__pwned=3',
  '[click me](javascript:window.__pwned=4)',
  'and the real one https://example.org/agenda?day=1.',
].join(' ')

test.skipIf(!hasChromium)(
  '[B16][B33] hostile text shows as text and runs nothing in the other page; an https link is clickable and safe',
  async () => {
    const alice = await signedInClient(s, 'alice_b')
    const bob = await signedInClient(s, 'bob_b')
    await s.ctx.accounts.service.updateProfile(alice.user.id, { displayName: 'Alice Archer' })
    await s.ctx.accounts.service.updateProfile(bob.user.id, { displayName: 'Bob Baker' })
    await bob.put('/api/users/alice_b/follow')
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie)
    await B.context.addInitScript(TRAP)
    let dialogs = 0
    B.page.on('dialog', (d) => {
      dialogs++
      void d.dismiss()
    })
    try {
      const a = A.page,
        b = B.page
      // Alice starts from Bob's profile: the "Message" button opens their thread.
      await a.goto('/u/bob_b')
      await a.getByRole('link', { name: 'Message' }).click()
      await a.waitForURL(/\/backchannel\/\d+$/)
      const threadUrl = new URL(a.url()).pathname
      const box = a.getByRole('textbox', { name: 'Message' })
      await box.fill('Hi Bob! Are you coming to the town hall on Friday?')
      await box.press('Enter')
      await a.locator('.msg:not(.pending)', { hasText: 'town hall on Friday' }).waitFor()

      await b.goto('/people')
      await b.locator('.nav-badge', { hasText: '1' }).waitFor() // the unread count shows on the navigation anywhere
      await b.getByRole('link', { name: /Backchannel/ }).click()
      const row = b.locator('.thread-row', { hasText: 'Alice Archer' })
      await row.waitFor()
      await expect(await row.locator('.unread-badge').textContent()).toBe('1')
      await shot(b, 'inbox-390')
      await row.getByRole('link').click()
      await b.waitForURL(threadUrl)
      await b.getByRole('textbox', { name: 'Message' }).fill('Yes! I will bring questions.')
      await b.getByRole('button', { name: 'Send' }).click()
      await a.locator('.msg', { hasText: 'I will bring questions' }).waitFor()

      // The hostile message, typed in the real composer and sent with Enter.
      await box.fill(HOSTILE)
      await box.press('Enter')
      const got = b.locator('.msg', { hasText: 'onerror' })
      await got.waitFor()
      const text = await got.locator('.msg-text').textContent()
      expect(text).toContain('<img src=x onerror="window.__pwned=1;alert(1)">')
      expect(text).toContain('<script>window.__pwned=2</script>')
      expect(await b.locator('.msgs img[src="x"], .msgs script').count()).toBe(0)
      expect(await b.locator('a[href^="javascript:"]').count()).toBe(0)
      const links = got.locator('.msg-text a')
      expect(await links.count()).toBe(1)
      expect(await links.getAttribute('href')).toBe('https://example.org/agenda?day=1')
      expect(await links.getAttribute('rel')).toBe('noopener noreferrer nofollow')
      expect(await links.getAttribute('target')).toBe('_blank')
      // Clicking it opens a new tab (blocked from the network here), not the app and not a script.
      await b.route('https://example.org/**', (r) => r.fulfill({ status: 200, body: 'ok' }))
      await B.context.route('https://example.org/**', (r) => r.fulfill({ status: 200, body: 'ok' }))
      const [popup] = await Promise.all([B.context.waitForEvent('page'), links.click()])
      expect(popup.url()).toBe('https://example.org/agenda?day=1')
      expect(await popup.evaluate(() => window.opener)).toBeNull()
      await popup.close()
      expect(await b.evaluate(() => [(window as any).__pwned, (window as any).__alerts])).toEqual([0, 0])
      expect(dialogs).toBe(0)

      // An image: uploaded over HTTP as Alice, sent with the composer's attach button.
      await a
        .locator('input[type=file][aria-label="Attach image"]')
        .setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: Buffer.from(PNG) })
      await a.getByAltText('Image to send').waitFor()
      await box.fill('the venue map')
      await box.press('Enter')
      const img = b.locator('.msg img.msg-image')
      await img.waitFor()
      expect(await img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(1)

      // Reactions and replies from Bob; Alice sees both live.
      const first = b.locator('.msg', { hasText: 'town hall on Friday' })
      // The actions sit behind a compact menu (⋯ on hover, long-press on touch), not a permanent row.
      expect(await first.getByRole('button', { name: 'Reply' }).count()).toBe(0)
      await first.getByRole('button', { name: 'Message actions' }).click()
      await shot(b, 'message-menu-390')
      await first.getByRole('menuitem', { name: 'React 🎉' }).click()
      await a.locator('.msg', { hasText: 'town hall on Friday' }).getByRole('button', { name: /🎉 1/ }).waitFor()
      await first.getByRole('button', { name: 'Message actions' }).click()
      await first.getByRole('menuitem', { name: 'Reply' }).click()
      await b.getByRole('textbox', { name: 'Message' }).fill('Friday works, see the link above')
      await b.getByRole('textbox', { name: 'Message' }).press('Enter')
      await a.locator('.msg', { hasText: 'Friday works' }).locator('.msg-quote').waitFor()
      await a.locator('.msg-meta', { hasText: 'Seen' }).waitFor()
      await shot(b, 'thread-390')
      await b.setViewportSize(DESKTOP)
      await shot(b, 'thread-desktop')
      await b.goto('/backchannel')
      await b.locator('.thread-row').first().waitFor()
      await shot(b, 'inbox-desktop')
      expect(await b.evaluate(() => [(window as any).__pwned, (window as any).__alerts])).toEqual([0, 0])
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)

test.skipIf(!hasChromium)('[B3] a request waits in the Requests tab until "Accept request"', async () => {
  const carol = await signedInClient(s, 'carol_b')
  const dave = await signedInClient(s, 'dave_b')
  const C = await pageFor(browser, s.url, carol.cookie)
  const D = await pageFor(browser, s.url, dave.cookie)
  try {
    await C.page.goto('/backchannel/new/dave_b')
    await C.page.waitForURL(/\/backchannel\/\d+$/)
    await C.page.getByRole('textbox', { name: 'Message' }).fill('Hello Dave, we have not met yet')
    await C.page.getByRole('button', { name: 'Send' }).click()
    await C.page.locator('.msg:not(.pending)', { hasText: 'not met yet' }).waitFor()
    const d = D.page
    await d.goto('/backchannel')
    await d.getByRole('tab', { name: /Requests/ }).click()
    const req = d.locator('.thread-row', { hasText: 'carol_b' })
    await req.waitFor()
    await shot(d, 'requests-390')
    expect(await d.getByRole('button', { name: 'Decline request' }).count()).toBe(1)
    await req.getByRole('button', { name: 'Accept request' }).click()
    await d.getByText('No message requests.').waitFor()
    await d.getByRole('tab', { name: 'Inbox' }).click()
    await d.locator('.thread-row', { hasText: 'carol_b' }).waitFor()
  } finally {
    await C.context.close()
    await D.context.close()
  }
})

test.skipIf(!hasChromium)(
  '[B14] in a room: chat, Q&A with "Ask a question", "Upvote", "Bring to stage" and "Mark answered"',
  async () => {
    const host = await signedInClient(s, 'host_b')
    const guest = await signedInClient(s, 'erin_b')
    const room = (await host.post('/api/rooms', { title: 'Open mic night', kind: 'open' })).json.room
    const H = await pageFor(browser, s.url, host.cookie)
    const E = await pageFor(browser, s.url, guest.cookie)
    try {
      const h = H.page,
        e = E.page
      await h.goto(`/rooms/${room.id}`)
      await h.getByRole('heading', { name: /On stage/ }).waitFor()
      await e.goto(`/rooms/${room.id}`)
      // On a phone the conversation is one tab beside the stage.
      await h.getByRole('tab', { name: 'Chat & Q&A' }).click()
      await e.getByRole('tab', { name: 'Chat & Q&A' }).click()
      const panels = e.locator('[data-room-panels]')
      await panels.getByRole('tab', { name: 'Chat' }).waitFor()
      expect(await panels.getByRole('tab', { name: 'Backstage' }).count()).toBe(0)
      await panels
        .getByRole('textbox', { name: 'Message the room' })
        .fill('Hello everyone 👋 https://example.org/slides')
      await panels.getByRole('textbox', { name: 'Message the room' }).press('Enter')
      await h.locator('[data-room-panels] .msg', { hasText: 'Hello everyone' }).waitFor()
      expect(await h.locator('[data-room-panels]').getByRole('tab', { name: 'Backstage' }).count()).toBe(1)
      await panels.scrollIntoViewIfNeeded()
      await e.screenshot({ path: join(SHOTS, 'backchannel-room-chat-390.png') })

      await panels.getByRole('tab', { name: 'Q&A' }).click()
      await panels.getByRole('textbox', { name: 'Your question' }).fill('What got you started?')
      await panels.getByRole('button', { name: 'Ask a question' }).click()
      await panels.locator('.question', { hasText: 'What got you started?' }).waitFor()
      expect(await panels.getByRole('button', { name: 'Bring to stage' }).count()).toBe(0)
      await panels.locator('.vote').first().scrollIntoViewIfNeeded()
      await e.screenshot({ path: join(SHOTS, 'backchannel-room-qa-390.png') })

      const hp = h.locator('[data-room-panels]')
      await hp.getByRole('tab', { name: 'Q&A' }).click()
      const q = hp.locator('.question', { hasText: 'What got you started?' })
      await q.getByRole('button', { name: 'Upvote' }).click()
      await panels
        .locator('.question', { hasText: 'What got you started?' })
        .locator('.vote span', { hasText: '1' })
        .waitFor()
      await q.getByRole('button', { name: 'Bring to stage' }).click()
      await e.getByText('You are invited to speak.').waitFor()
      await e.locator('.room-pinned', { hasText: 'What got you started?' }).waitFor()
      await q.getByRole('button', { name: 'Mark answered' }).click()
      await hp.getByText('No open questions.').waitFor()
      await h.screenshot({ path: join(SHOTS, 'backchannel-room-host-390.png') })

      // After the room: its chat and questions stay readable from Backchannel › Rooms.
      h.once('dialog', (d) => void d.accept())
      await h.getByRole('button', { name: 'End room' }).click()
      await e.getByText('This room has ended.').waitFor()
      await e.goto('/backchannel/rooms')
      const roomRow = e.locator('.thread-row', { hasText: 'Open mic night' })
      await roomRow.waitFor()
      await roomRow.getByRole('link').click()
      await e.locator('.msg', { hasText: 'Hello everyone' }).waitFor()
      await e.getByRole('button', { name: /Show questions \(1\)/ }).click()
      await e.getByText('What got you started?').waitFor()
      await e.screenshot({ path: join(SHOTS, 'backchannel-room-after-390.png') })
    } finally {
      await H.context.close()
      await E.context.close()
    }
  },
)

test.skipIf(!hasChromium)(
  '[B6] a page that was offline catches up in order; a message typed offline is sent once when back',
  async () => {
    const fay = await signedInClient(s, 'fay_b')
    const gus = await signedInClient(s, 'gus_b')
    await gus.put('/api/users/fay_b/follow')
    await fay.put('/api/users/gus_b/follow')
    const F = await pageFor(browser, s.url, fay.cookie)
    const G = await pageFor(browser, s.url, gus.cookie)
    try {
      const f = F.page,
        g = G.page
      await f.goto('/backchannel/new/gus_b')
      await f.waitForURL(/\/backchannel\/\d+$/)
      const url = new URL(f.url()).pathname
      const fBox = f.getByRole('textbox', { name: 'Message' })
      await fBox.fill('first')
      await fBox.press('Enter')
      await g.goto(url)
      await g.locator('.msg', { hasText: 'first' }).waitFor()
      // Gus drops off the network; Fay writes five messages meanwhile.
      await G.context.setOffline(true)
      s.ctx.hub.disconnectUser(gus.user.id, 4000, 'network change')
      for (let i = 1; i <= 5; i++) {
        await fBox.fill(`while away ${i}`)
        await fBox.press('Enter')
      }
      await f.locator('.msg:not(.pending)', { hasText: 'while away 5' }).waitFor()
      await G.context.setOffline(false)
      await g.locator('.msg', { hasText: 'while away 5' }).waitFor()
      const texts = await g.locator('.msg-text').allTextContents()
      expect(texts.filter((t) => t.startsWith('while away'))).toEqual([1, 2, 3, 4, 5].map((i) => `while away ${i}`))

      // Gus types while offline: the message waits (pending, kept in localStorage) and goes once when he is back.
      await G.context.setOffline(true)
      s.ctx.hub.disconnectUser(gus.user.id, 4000, 'network change')
      const gBox = g.getByRole('textbox', { name: 'Message' })
      await gBox.fill('typed in a tunnel')
      await gBox.press('Enter')
      await g.locator('.msg.pending', { hasText: 'typed in a tunnel' }).waitFor()
      const saved = await g.evaluate(() =>
        Object.keys(localStorage)
          .filter((k) => k.startsWith('townhall.bc.outbox'))
          .map((k) => localStorage.getItem(k))
          .join(''),
      )
      expect(saved).toContain('typed in a tunnel')
      await G.context.setOffline(false)
      await f.locator('.msg', { hasText: 'typed in a tunnel' }).waitFor()
      await g.locator('.msg:not(.pending)', { hasText: 'typed in a tunnel' }).waitFor()
      expect(await f.locator('.msg', { hasText: 'typed in a tunnel' }).count()).toBe(1)
      const stored = s.ctx.core.db
        .query("SELECT COUNT(*) AS n FROM bc_messages WHERE body = 'typed in a tunnel'")
        .get() as { n: number }
      expect(stored.n).toBe(1)
    } finally {
      await F.context.close()
      await G.context.close()
    }
  },
)

test.skipIf(!hasChromium)('[B1] a group made in the New group screen reaches its members', async () => {
  const hana = await signedInClient(s, 'hana_b')
  const ivan = await signedInClient(s, 'ivan_b')
  const jo = await signedInClient(s, 'jo_b')
  for (const c of [ivan, jo]) await c.put('/api/users/hana_b/follow')
  const H = await pageFor(browser, s.url, hana.cookie)
  const I = await pageFor(browser, s.url, ivan.cookie)
  try {
    const h = H.page
    await h.goto('/backchannel')
    await h.getByRole('link', { name: 'New group' }).click()
    await h.getByLabel('Title').fill('Friday speakers')
    const find = h.getByRole('searchbox', { name: 'Search people to add' })
    await find.fill('ivan')
    await h.getByRole('button', { name: 'Add @ivan_b' }).click()
    await find.fill('jo')
    await h.getByRole('button', { name: 'Add @jo_b' }).click()
    await h.screenshot({ path: join(SHOTS, 'backchannel-new-group-390.png') })
    await h.getByRole('button', { name: /Create group \(3\)/ }).click()
    await h.waitForURL(/\/backchannel\/\d+$/)
    await h.getByText('3 members').waitFor()
    await h.getByRole('textbox', { name: 'Message' }).fill('Welcome! Agenda: https://example.org/friday')
    await h.getByRole('textbox', { name: 'Message' }).press('Enter')
    await I.page.goto('/backchannel')
    const row = I.page.locator('.thread-row', { hasText: 'Friday speakers' })
    await row.waitFor()
    expect(await row.textContent()).toContain('hana_b: Welcome!') // in a group the preview names its author
    await row.getByRole('link').click()
    await I.page.locator('.msg', { hasText: 'Welcome!' }).waitFor()
    await I.page.screenshot({ path: join(SHOTS, 'backchannel-group-thread-390.png') })
  } finally {
    await H.context.close()
    await I.context.close()
  }
})
