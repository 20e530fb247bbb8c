// The room screen's banners in Chromium. The last host leaving (R73): alone on stage with a listener, the host is asked
// (Leave, End, Stay) and told what leaving does; they leave, and the listener's room shows the countdown "The host
// left — the room ends in N s unless a host returns" (R72); the host comes back and the banner goes, the room goes on.
// The room moving to another node (W46): on `room.moving` the app shows "Moving the room to another server…" and joins
// the room again (its `room.join` is held back here, through Playwright's WebSocket route, so the banner can be seen);
// back in it, the banner goes and the member is in their seat as before. The event is the server's own, published to
// the room's topic as a draining node does (cluster-handover.test.ts moves a room between real nodes).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { roomTopic } from '../../server/realtime/bus'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  s = await startTestServer({ RTC_PORT: '44800' })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
})

test.skipIf(!hasChromium)(
  '[R73] the last host is asked before leaving; the listener sees the countdown; the host returns and it goes on',
  async () => {
    const hana = await signedInClient(s, 'hana_h')
    const leo = await signedInClient(s, 'leo_h')
    const H = await pageFor(browser, s.url, hana.cookie)
    const L = await pageFor(browser, s.url, leo.cookie, { width: 1280, height: 800 })
    try {
      const h = H.page,
        l = L.page
      const roomId = await startRoomInPage(h, 'Hostless check')
      await l.goto(`/rooms/${roomId}`)
      await l.getByRole('button', { name: 'Raise hand' }).waitFor()
      await h.getByText('leo_h').waitFor()

      // The host leaves: asked first, and told what leaving does with nobody else on stage.
      await h.getByRole('button', { name: 'Leave quietly' }).click()
      const sheet = h.getByRole('dialog', { name: 'Leave the room?' })
      await sheet.getByText('unless a host returns').waitFor()
      await h.screenshot({ path: join(SHOTS, 'rooms-hostless-sheet-390.png') })
      await sheet.getByRole('button', { name: 'Leave', exact: true }).click()

      // The listener: a countdown banner, and the room is still live.
      const banner = l.getByRole('status').filter({ hasText: 'The host left' })
      await banner.waitFor()
      expect(await banner.textContent()).toMatch(/the room ends in \d+ s unless a host returns/)
      expect(s.ctx.rooms.api.room(roomId)!.state).toBe('live')
      await l.screenshot({ path: join(SHOTS, 'rooms-hostless-1280.png') })
      await l.setViewportSize({ width: 390, height: 844 })
      await l.screenshot({ path: join(SHOTS, 'rooms-hostless-390.png') })

      // The host comes back: host again, the banner goes.
      await h.goto(`/rooms/${roomId}`)
      await until(() => s.ctx.rooms.api.participant(roomId, `u:${hana.user.id}`)?.role === 'host', 'host again')
      await banner.waitFor({ state: 'detached' })
      await l.getByText('A host is back').waitFor()
      expect(s.ctx.rooms.api.room(roomId)!.state).toBe('live')
    } finally {
      await H.context.close()
      await L.context.close()
    }
  },
)

test.skipIf(!hasChromium)(
  '[W46] the room moving: "Moving the room…" until the app is back in it, same seat',
  async () => {
    const mia = await signedInClient(s, 'mia_mv')
    const room = (await mia.post('/api/rooms', { title: 'Moving check', kind: 'open' })).json.room as { id: number }
    const { context, page } = await pageFor(browser, s.url, mia.cookie)
    // Every frame passes through; while `hold` is set, the app's room.join waits here.
    let hold = false
    const held: string[] = []
    let release: (() => void) | null = null
    await context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer()
      ws.onMessage((m) => {
        const text = String(m)
        if (hold && JSON.parse(text).type === 'room.join') held.push(text)
        else server.send(text)
      })
      release = () => {
        hold = false
        for (const m of held.splice(0)) server.send(m)
      }
    })
    try {
      await page.goto(`/rooms/${room.id}`)
      await page.getByRole('button', { name: 'Leave quietly' }).waitFor()
      await until(() => s.ctx.rooms.service.participant(room.id, `u:${mia.user.id}`) !== null, 'mia in the room')
      await until(() => release !== null, 'the socket routed')

      hold = true
      s.ctx.core.bus.publish(roomTopic(room.id), { type: 'room.moving', roomId: room.id })
      const banner = page.getByRole('status').filter({ hasText: 'Moving the room to another server…' })
      await banner.waitFor()
      // The app joins the room again at once (held here), and still shows the room as it was.
      await until(() => held.length === 1, 'the app joining the room again')
      await page.getByRole('button', { name: 'Leave quietly' }).waitFor()
      await page.screenshot({ path: join(SHOTS, 'rooms-moving-390.png') })
      await page.setViewportSize({ width: 1280, height: 800 })
      await page.screenshot({ path: join(SHOTS, 'rooms-moving-1280.png') })

      // Back in it: the banner goes, the seat is the same (the host's).
      release!()
      await banner.waitFor({ state: 'detached' })
      expect(s.ctx.rooms.service.participant(room.id, `u:${mia.user.id}`)?.role).toBe('host')
      expect(s.ctx.rooms.api.room(room.id)!.state).toBe('live')
      expect(await page.getByText('the room ends in').count()).toBe(0)
    } finally {
      await context.close()
    }
  },
)
