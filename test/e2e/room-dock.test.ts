// The room stays with you (issue 9): Bob listens in a room, goes to Backchannel, keeps the room in the mini-player,
// gets an invitation to speak there and accepts it muted; then unmutes from the mini-player. Back in the room, a phone
// shows Stage / Chat / Q&A as tabs with the chat's composer in view; a desktop shows the chat beside the stage.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `dock-${name}.png`), fullPage: false })

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
  '[R51] the mini-player on the Backchannel screen; an invitation to speak accepted from there; the phone room ' +
    'layout keeps the composer in view; the desktop puts the chat beside the stage',
  async () => {
    const alice = await signedInClient(s, 'alice_d')
    const bob = await signedInClient(s, 'bob_d')
    await s.ctx.accounts.service.updateProfile(alice.user.id, { displayName: 'Alice Armstrong' })
    const room = (await alice.post('/api/rooms', { title: 'Late night jazz talk', kind: 'open' })).json.room
    const aws = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
    expect((await aws.request('room.join', { roomId: room.id })).ok).toBe(true)
    const B = await pageFor(browser, s.url, bob.cookie)
    try {
      const b = B.page
      await b.goto(`/rooms/${room.id}`)
      await b.getByRole('heading', { name: /On stage/ }).waitFor()
      // the hallway card of my room says Return
      await b.getByRole('link', { name: 'Hallway' }).click()
      await b.locator('.room-card', { hasText: 'Late night jazz talk' }).getByRole('link', { name: 'Return' }).waitFor()
      // elsewhere: the mini-player
      await b.getByRole('link', { name: 'Backchannel' }).click()
      await b.waitForURL(/\/backchannel$/)
      const mini = b.getByRole('region', { name: 'Your room' })
      await mini.getByText('Late night jazz talk').waitFor()
      await mini.getByRole('button', { name: 'Raise hand' }).click()
      await mini.getByRole('button', { name: 'Lower hand' }).waitFor()
      await shot(b, 'mini-backchannel-390')
      // the invitation pops up here; accept muted
      expect((await aws.request('room.invite', { roomId: room.id, userId: bob.user.id })).ok).toBe(true)
      const pop = b.getByRole('alertdialog', { name: /invited to speak/ })
      await pop.waitFor()
      await shot(b, 'invite-backchannel-390')
      await pop.getByRole('button', { name: 'Join muted' }).click()
      await mini.getByRole('button', { name: 'Unmute' }).waitFor()
      expect(s.ctx.rooms.api.participant(room.id, `u:${bob.user.id}`)).toMatchObject({ role: 'speaker', muted: true })
      await mini.getByRole('button', { name: 'Unmute' }).click()
      await mini.getByRole('button', { name: 'Mute' }).waitFor()
      await until(() => s.ctx.rooms.api.participant(room.id, `u:${bob.user.id}`)?.muted === false, 'bob unmuted')
      await b.setViewportSize({ width: 1280, height: 800 })
      await shot(b, 'mini-backchannel-desktop')
      await b.setViewportSize({ width: 390, height: 844 })

      // back in the room on a phone: Stage | Chat & Q&A as tabs, the chat's composer on screen above the controls
      await mini.getByRole('link', { name: /Return to/ }).click()
      await b.getByRole('tab', { name: 'Stage', exact: true }).waitFor()
      await b.getByRole('button', { name: 'Move to audience' }).waitFor()
      await shot(b, 'room-stage-390')
      await b.getByRole('tab', { name: 'Chat & Q&A' }).click()
      const box = b.locator('.room-side .composer textarea')
      await box.waitFor()
      // Even with a banner above the room (reconnecting, busy…) pushing the panel down, the composer stays in view.
      await b.evaluate(() => {
        const tall = document.createElement('div')
        tall.style.height = '300px'
        document.querySelector('.room-layout')?.before(tall)
      })
      const r = (await box.boundingBox())!
      const bar = (await b.locator('.room-controls').boundingBox())!
      expect(r.y).toBeGreaterThan(0)
      expect(r.y + r.height).toBeLessThanOrEqual(bar.y + 1)
      await box.fill('Hello @alice_d, great set!')
      await box.press('Enter')
      await b.locator('.room-side').getByText('great set!').waitFor()
      await shot(b, 'room-chat-390')
      // a reaction floats over the stage for everyone
      await b.getByRole('tab', { name: 'Stage', exact: true }).click()
      await b.getByRole('button', { name: 'React', exact: true }).click()
      await b.getByRole('button', { name: 'React 🔥' }).click()
      await b.locator('.reaction-bubble').first().waitFor()
      await aws.next('room.reaction', (e) => e.emoji === '🔥')
      // a desktop: stage and chat side by side
      await b.setViewportSize({ width: 1280, height: 800 })
      await b.locator('.room-side .composer textarea').waitFor()
      const stageBox = (await b.locator('.stage-section').boundingBox())!
      const sideBox = (await b.locator('.room-side').boundingBox())!
      expect(sideBox.x).toBeGreaterThan(stageBox.x + stageBox.width - 1)
      await shot(b, 'room-desktop')
      // step down to the audience
      await b.getByRole('button', { name: 'Move to audience' }).click()
      await b.getByRole('button', { name: 'Raise hand' }).waitFor()
      // the mention reached Alice's activity
      const act = await aws.request('activity.list', {})
      expect(act.items.some((i) => i.kind === 'mention')).toBe(true)
    } finally {
      await B.context.close()
      aws.close()
    }
  },
)
