// The room screen when the room moves to another node (W46): on `room.moving` the app shows "Moving the room to another
// server…", joins the room again (the member's `room.join` is held back here, through Playwright's WebSocket route, so
// the banner can be seen), and once back in it the banner goes and the member is in their seat as before. The event
// is the server's own, published to the room's topic as a draining node does (cluster-handover.test.ts moves a room
// between real nodes).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { roomTopic } from '../../server/realtime/bus'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { TEST_LIMIT, until } from '../helpers/limits'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'

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
