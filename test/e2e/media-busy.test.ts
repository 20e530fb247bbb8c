// Too many listeners connecting at once, in Chromium (M59): with MEDIA_MAX_CONNECTING at one and a listener that
// asked for an offer and never answers, a member who opens the room sees "Busy — retrying…" (the room and its chat
// stay usable); once the other is through, the browser's own retry connects its audio and the banner goes.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { Bot, until } from '../helpers/bot'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const bots: Bot[] = []
const members: Member[] = []
const sockets: WsClient[] = []
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `media-busy-${name}.png`) })

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  Bot.portRange = [45000, 45999]
  s = await startTestServer({ GUESTS: 'true', MEDIA_MAX_CONNECTING: '1' })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  for (const w of sockets) w.close()
  await browser?.close()
  await s.stop()
  Bot.portRange = undefined
})

test.skipIf(!hasChromium)(
  '[M59] a listener refused with media_busy sees "Busy — retrying…" and connects by itself when the others are through',
  async () => {
    const host = await member(s, 'hostb')
    const late = await member(s, 'lateb')
    members.push(host, late)
    const room = await createRoom(host, { title: 'Rush hour town hall' })
    await ok(host, 'room.join', { roomId: room.id })
    await ok(host, 'room.mute', { roomId: room.id, muted: false })
    const hb = new Bot(host.ws, 'H')
    bots.push(hb)
    await hb.connectAudio(room.id)
    const media = s.ctx.media.service
    // The bot is connected on its side; the server hears it from its media worker a moment later (a busy machine:
    // later still), and until then the host's peer is the one connecting.
    await until(async () => (await media.rtcStats())!.connecting === 0, "the host's peer connected on the server")
    // A guest who asked for an offer and never answers: one peer connecting, the cap.
    const pending = await connectWs(s.url, { origin: s.origin })
    sockets.push(pending)
    expect((await pending.request('room.join', { roomId: room.id })).ok).toBe(true)
    expect((await pending.request('rtc.connect', { roomId: room.id })).ok).toBe(true)
    expect((await media.rtcStats())!.connecting).toBe(1)

    const { page } = await pageFor(browser, s.url, late.http.cookie)
    await page.goto('/')
    await page.locator('.room-card', { hasText: 'Rush hour town hall' }).getByRole('link', { name: 'Join' }).click()
    await page.getByText('Busy — retrying…').waitFor()
    await shot(page, 'room-390')
    await page.setViewportSize({ width: 1280, height: 800 })
    await shot(page, 'room-1280')

    // The other listener gives up: the browser's next try gets in, and the banner goes.
    expect((await pending.request('rtc.leave', { roomId: room.id })).ok).toBe(true)
    await page.getByText('Busy — retrying…').waitFor({ state: 'detached', timeout: 120_000 })
    await until(
      async () => media.stats().peers === 2 && (await media.rtcStats())!.connecting === 0,
      'the browser is connected',
      60_000,
    )
  },
)
