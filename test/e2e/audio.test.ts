// Two people talk through Townhall in Chromium (fake microphone): A starts a room and unmutes, B joins and hears A;
// B raises a hand, A invites B to speak, B accepts, and A hears B. "Hears" is read from WebRTC getStats:
// inbound audio packetsReceived grows and audioLevel is above zero.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { poll, TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

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

/** Inbound audio of the page's live peer: packets received (all slots) and the highest audio level. */
async function inbound(page: Page): Promise<{ packets: number; level: number; state: string }> {
  return page.evaluate(async () => {
    const pcs: RTCPeerConnection[] = (window as any).__pcs ?? []
    const pc = pcs.filter((p) => p.connectionState !== 'closed').at(-1)
    if (!pc) return { packets: 0, level: 0, state: 'none' }
    let packets = 0,
      level = 0
    ;(await pc.getStats()).forEach((r: any) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        packets += r.packetsReceived ?? 0
        level = Math.max(level, r.audioLevel ?? 0)
      }
    })
    return { packets, level, state: pc.connectionState }
  })
}

/** Waits until the page hears audio: packets keep arriving and some audio level is above zero. */
async function hears(page: Page) {
  const first = await inbound(page)
  return poll(
    () => inbound(page),
    (v) => v.packets > first.packets + 20 && v.level > 0,
    `audio heard (first ${JSON.stringify(first)})`,
  )
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  s = await startTestServer({ RTC_PORT: '44600' })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
})

test.skipIf(!hasChromium)(
  '[M12] two people talk in Chromium: B hears A; after raise hand, invite and accept, A hears B; ' +
    '[M9] after a network change too',
  async () => {
    const alice = await signedInClient(s, 'alice_a')
    const bob = await signedInClient(s, 'bob_a')
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie)
    await A.context.addInitScript(TRACK_PCS)
    await B.context.addInitScript(TRACK_PCS)
    try {
      const a = A.page,
        b = B.page
      const roomId = await startRoomInPage(a, 'Audio check', { unmute: true })

      await b.goto('/')
      await b.locator('.room-card', { hasText: 'Audio check' }).getByRole('link', { name: 'Join' }).click()
      await b.getByRole('button', { name: 'Raise hand' }).waitFor()
      const heardA = await hears(b)
      expect(heardA.state).toBe('connected')
      expect(heardA.level).toBeGreaterThan(0)
      expect(s.ctx.media.api.stats().peers).toBe(2)

      await b.getByRole('button', { name: 'Raise hand' }).click()
      await a.locator('.hands').getByRole('button', { name: 'Invite to speak' }).click()
      await b.getByRole('button', { name: 'Go live' }).click()
      await b.getByRole('button', { name: 'Mute', exact: true }).waitFor()
      expect(s.ctx.rooms.api.participant(roomId, `u:${bob.user.id}`)).toMatchObject({ role: 'speaker', muted: false })
      const heardB = await hears(a)
      expect(heardB.level).toBeGreaterThan(0)
      await b.screenshot({ path: join(SHOTS, 'audio-room-speaker-390.png') })

      // A network change on B's side: the server sends a new offer with fresh ICE credentials;
      // audio flows again both ways.
      const ufrag = () =>
        b.evaluate(() => /a=ice-ufrag:(\S+)/.exec((window as any).__pcs.at(-1).remoteDescription.sdp)?.[1])
      const before = await ufrag()
      await b.evaluate(() => window.dispatchEvent(new Event('online')))
      expect(await poll(ufrag, (u) => u !== before, 'a new ICE ufrag')).not.toBe(before)
      expect((await hears(b)).state).toBe('connected')
      await hears(a)

      // B leaves quietly: the server closes B's peer.
      await b.getByRole('button', { name: 'Leave quietly' }).click()
      await until(
        () => s.ctx.media.api.stats().peers === 1,
        () => `B's peer closed (peers ${s.ctx.media.api.stats().peers})`,
      )
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
