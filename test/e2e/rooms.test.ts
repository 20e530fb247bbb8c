// Two members in Chromium: A starts a room from the hallway, B joins from the hallway card, raises a hand, A invites
// B to speak, B accepts (the microphone is asked for only then), A mutes B, then removes B. Screenshots on the way.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `rooms-${name}.png`), fullPage: false })

/** Counts getUserMedia calls in the page (the microphone must be asked for only on going on stage). */
const COUNT_MIC = () => {
  const md = navigator.mediaDevices
  const orig = md.getUserMedia.bind(md)
  ;(window as any).__micAsks = 0
  md.getUserMedia = (c?: MediaStreamConstraints) => {
    ;(window as any).__micAsks++
    return orig(c)
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

test.skipIf(!hasChromium)(
  '[R40] hallway and room flow in two browsers: start, live hallway, join, raise hand, guest, invite, accept, ' +
    'resume, mute, remove, end',
  async () => {
    const alice = await signedInClient(s, 'alice_r')
    const bob = await signedInClient(s, 'bob_r')
    await s.ctx.accounts.service.updateProfile(bob.user.id, { displayName: 'Bob Builder' })
    await bob.put('/api/users/alice_r/follow')
    await alice.post('/api/rooms', {
      title: 'Book club: The Dispossessed',
      kind: 'open',
      startsAt: Date.now() + 26 * 3600_000,
    })
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie)
    await B.context.addInitScript(COUNT_MIC)
    try {
      const a = A.page,
        b = B.page
      await b.goto('/')
      await b.getByText('No live rooms right now. Start one!').waitFor()
      await b.getByRole('heading', { name: 'Upcoming' }).waitFor()
      const roomId = await startRoomInPage(a, 'Friday town hall', {
        more: async () => {
          await a.getByLabel('Description').fill('Plans for the weekend market. Bring questions!')
          await a.getByLabel('Pinned link (optional)').fill('https://example.org/market')
          await shot(a, 'create-sheet-390')
        },
      })
      await a.getByRole('heading', { name: /On stage/ }).waitFor()

      // B's open hallway shows the new room without a reload
      const card = b.locator('.room-card', { hasText: 'Friday town hall' })
      await card.waitFor()
      await expect(card.getByText('alice_r')).toBeTruthy()
      await shot(b, 'hallway-390')
      await card.getByRole('link', { name: 'Join' }).click()
      await b.getByRole('button', { name: 'Raise hand' }).waitFor()
      expect(await b.evaluate(() => (window as any).__micAsks)).toBe(0)
      await b.getByRole('button', { name: 'Raise hand' }).click()
      await b.getByRole('button', { name: 'Lower hand' }).waitFor()

      // a signed-out guest listens when the admin allows guests: counted, not listed
      await s.ctx.core.settings.update({ guests: true })
      const G = await pageFor(browser, s.url)
      await G.page.goto(`/rooms/${roomId}`)
      await G.page.getByRole('button', { name: 'Listen as a guest' }).click() // the event page first (R36)
      await G.page.getByRole('heading', { name: /On stage/ }).waitFor()
      expect(await G.page.getByRole('button', { name: 'Raise hand' }).count()).toBe(0)
      await a.getByText('and 1 guest').waitFor()
      await shot(G.page, 'room-guest-390')
      await G.context.close()
      await a.getByText('and 1 guest').waitFor({ state: 'detached' })
      await s.ctx.core.settings.update({ guests: false })

      // A sees the hand queue and invites B
      await a.getByRole('heading', { name: /Raised hands/ }).waitFor()
      await shot(a, 'room-hands-390')
      await a.locator('.hands').getByRole('button', { name: 'Invite to speak' }).click()
      await b.getByRole('button', { name: 'Go live' }).waitFor()
      expect(await b.getByRole('button', { name: 'Decline' }).count()).toBe(1)
      await shot(b, 'room-invited-390')
      expect(await b.evaluate(() => (window as any).__micAsks)).toBe(0)
      await b.getByRole('button', { name: 'Go live' }).click()
      await b.getByRole('button', { name: 'Mute', exact: true }).waitFor()
      expect(s.ctx.rooms.api.participant(roomId, `u:${bob.user.id}`)).toMatchObject({ role: 'speaker', muted: false })

      // B's socket drops (a server restart of the socket, a network change): the app reconnects and resumes the seat
      const before = new Set(s.ctx.hub.connectionsOf(bob.user.id).map((c) => c.id))
      for (const c of s.ctx.hub.connectionsOf(bob.user.id)) c.raw.close(1012, 'try again')
      const seat = () => s.ctx.rooms.service.session(roomId)?.seat(`u:${bob.user.id}`)
      await until(
        () => seat()?.state === 'present' && [...seat()!.conns].some((c) => !before.has(c.id)),
        'the seat resumed on a new socket',
      )
      expect([...seat()!.conns].some((c) => !before.has(c.id))).toBe(true)
      expect(seat()).toMatchObject({ state: 'present', role: 'speaker' })
      await b.getByRole('button', { name: 'Mute', exact: true }).waitFor()

      // A mutes B from the person menu; B may unmute
      await a.getByRole('button', { name: /^Bob Builder, speaker/ }).click()
      const menu = a.getByRole('dialog', { name: 'Bob Builder' })
      for (const name of ['Move to audience', 'Mute', 'Make moderator', 'Remove from room', 'View profile', 'Message'])
        expect(await menu.getByRole(/View|Message/.test(name) ? 'link' : 'button', { name, exact: true }).count()).toBe(
          1,
        )
      expect(await menu.getByRole('link', { name: 'Message' }).getAttribute('href')).toBe('/backchannel/new/bob_r')
      await shot(a, 'person-menu-390')
      await menu.getByRole('button', { name: 'Mute', exact: true }).click()
      await b.getByRole('button', { name: 'Unmute', exact: true }).waitFor()
      await shot(b, 'room-speaker-390')
      await a.setViewportSize({ width: 1280, height: 800 })
      await shot(a, 'room-desktop')
      await b.getByRole('button', { name: 'Unmute', exact: true }).click()
      await b.getByRole('button', { name: 'Mute', exact: true }).waitFor()

      // A removes B; B cannot come back
      await a.getByRole('button', { name: /^Bob Builder, speaker/ }).click()
      await a.getByRole('dialog', { name: 'Bob Builder' }).getByRole('button', { name: 'Remove from room' }).click()
      await b.getByText('You were removed from this room.').waitFor()
      await b.goto('/')
      await b.getByRole('button', { name: 'Start a room' }).waitFor()
      expect(await b.locator('.room-card', { hasText: 'Friday town hall' }).count()).toBe(0)
      await b.setViewportSize({ width: 1280, height: 800 })
      await shot(b, 'hallway-desktop')

      // A ends the room
      a.once('dialog', (d) => d.accept())
      await a.getByRole('button', { name: 'End room' }).click()
      await a.getByText('This room has ended.').waitFor()
      expect(s.ctx.rooms.api.room(roomId)!.state).toBe('ended')
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
