// [H52] The app through a server restart, in Chromium (fake microphone): A hosts a room and talks, B listens with a
// raised hand; the server stops gracefully and a new one starts on the same data folder and port. Both pages
// reconnect on their own, B is back in the room with the hand still up and hears A again (WebRTC getStats on a new
// peer), A is still the host and unmuted.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { poll, TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const dir = mkdtempSync(join(tmpdir(), 'townhall-e2e-restart-'))
const ENV = {}
let s: TestServer
let browser: Browser

/** Keeps every RTCPeerConnection the page makes, so the test can read its stats. */
const TRACK_PCS = () => {
  const Orig = window.RTCPeerConnection
  ;(window as any).__pcs = []
  window.RTCPeerConnection = function (this: any, ...args: any[]) {
    const pc = new (Orig as any)(...args)
    ;(window as any).__pcs.push(pc)
    return pc
  } as any
  window.RTCPeerConnection.prototype = Orig.prototype
}

/** The page's newest peer: how many it made, its state, inbound audio packets and the highest audio level. */
async function inbound(page: Page): Promise<{ peers: number; packets: number; level: number; state: string }> {
  return page.evaluate(async () => {
    const pcs: RTCPeerConnection[] = (window as any).__pcs ?? []
    const pc = pcs.at(-1)
    if (!pc) return { peers: 0, packets: 0, level: 0, state: 'none' }
    let packets = 0,
      level = 0
    ;(await pc.getStats()).forEach((r: any) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        packets += r.packetsReceived ?? 0
        level = Math.max(level, r.audioLevel ?? 0)
      }
    })
    return { peers: pcs.length, packets, level, state: pc.connectionState }
  })
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  s = await startTestServer(ENV, { keepDir: dir })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

test.skipIf(!hasChromium)(
  '[H52] after a server restart the app rejoins its room: hand up, host unmuted, audio',
  async () => {
    const alice = await signedInClient(s, 'alice_r')
    const bob = await signedInClient(s, 'bob_r')
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie)
    await A.context.addInitScript(TRACK_PCS)
    await B.context.addInitScript(TRACK_PCS)
    try {
      const a = A.page,
        b = B.page
      const roomId = await startRoomInPage(a, 'Restart check', { unmute: true })
      await b.goto('/')
      await b.locator('.room-card', { hasText: 'Restart check' }).getByRole('link', { name: 'Join' }).click()
      await b.getByRole('button', { name: 'Raise hand' }).click()
      await b.getByRole('button', { name: 'Lower hand' }).waitFor()
      const first = await poll(
        () => inbound(b),
        (v) => v.packets > 20 && v.level > 0,
        'B hears A before the restart',
      )

      const port = s.port
      await s.stop()
      const t0 = performance.now()
      s = await startTestServer({ ...ENV, PORT: String(port) }, { keepDir: dir })
      const started = performance.now()
      // B's app reconnects, re-joins and connects audio anew: a new peer that receives A's voice.
      const again = await poll(
        () => inbound(b),
        (v) => v.peers > first.peers && v.state === 'connected' && v.packets > 20 && v.level > 0,
        'B hears A on a new peer after the restart',
      )
      const heardAfter = performance.now()
      expect(again.level).toBeGreaterThan(0)
      await b.getByRole('button', { name: 'Lower hand' }).waitFor()
      await a.getByRole('button', { name: 'Mute', exact: true }).waitFor()
      expect(s.ctx.rooms.api.participant(roomId, `u:${alice.user.id}`)).toMatchObject({ role: 'host', muted: false })
      expect(s.ctx.rooms.api.participant(roomId, `u:${bob.user.id}`)).toMatchObject({ role: 'audience' })
      await b.screenshot({ path: join(SHOTS, 'restart-rejoined-390.png') })
      console.log(
        `[H52] new server up in ${Math.round(started - t0)} ms; ` +
          `B heard A again ${Math.round(heardAfter - started)} ms after it was up`,
      )
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
