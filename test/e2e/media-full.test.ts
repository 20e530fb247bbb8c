// A full room in Chromium: with the budget at one listener, the hallway card says "This room is full", a member who
// opens the room anyway sees it in the room (and keeps its chat), and once invited to the stage gets audio at once.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { startTestServer, type TestServer } from '../helpers/server'
import { Bot, until } from '../helpers/bot'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const bots: Bot[] = []
const members: Member[] = []
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `media-full-${name}.png`) })

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  Bot.portRange = [45000, 45999]
  s = await startTestServer({ RTC_PORT_MIN: '42800', RTC_PORT_MAX: '42999', MEDIA_ROOM_MAX_LISTENERS: '1' })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  await browser?.close()
  await s.stop()
  Bot.portRange = undefined
})

test.skipIf(!hasChromium)(
  '[M53] the hallway card and the room say "This room is full"; invited to the stage, audio connects',
  async () => {
    const host = await member(s, 'hostf')
    const first = await member(s, 'firstf')
    const late = await member(s, 'latef')
    members.push(host, first, late)
    const room = await createRoom(host, { title: 'Packed town hall' })
    await ok(host, 'room.join', { roomId: room.id })
    await ok(host, 'room.mute', { roomId: room.id, muted: false })
    const hb = new Bot(host.ws, 'H')
    const fb = new Bot(first.ws, 'F')
    bots.push(hb, fb)
    await hb.connectAudio(room.id)
    await ok(first, 'room.join', { roomId: room.id })
    await fb.connectAudio(room.id)
    hb.speak(20)
    await until(() => fb.received.length > 5, 'the first listener hears the host')

    const { page } = await pageFor(browser, s.url, late.http.cookie)
    await page.goto('/')
    const card = page.locator('.room-card', { hasText: 'Packed town hall' })
    await card.getByText('This room is full').waitFor()
    await shot(page, 'hallway-390')
    await page.setViewportSize({ width: 1280, height: 800 })
    await shot(page, 'hallway-1280')
    await page.setViewportSize({ width: 390, height: 844 })

    await card.getByRole('link', { name: 'Join' }).click()
    await page.getByText('This room is full.').waitFor()
    await shot(page, 'room-390')
    await page.setViewportSize({ width: 1280, height: 800 })
    await shot(page, 'room-1280')
    // Those in keep hearing.
    const n = fb.received.length
    await until(() => fb.received.length > n + 20, 'the first listener still hears the host')

    // Invited to the stage, the refused member connects at once: the banner goes.
    await ok(host, 'room.invite', { roomId: room.id, userId: late.id })
    await page.getByRole('button', { name: 'Go live' }).click()
    await page.getByText('This room is full.').waitFor({ state: 'detached' })
    await until(() => s.ctx.media.service.stats().peers === 3, 'the new speaker has a peer')
    expect(s.ctx.media.service.stats().listeners).toBe(1)
    hb.silence()
  },
)
