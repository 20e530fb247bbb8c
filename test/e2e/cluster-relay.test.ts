// Origin → edge in Chromium (M65, M67): Alice starts a room on node A and speaks; Bob's page is on node B, whose SFU
// serves his audio (his peer's offer names B's RTC port) from A's relay; brought on stage, Bob's page is told
// `rtc.moved` and connects again, to A, and Alice hears him. "Hears" is read from WebRTC getStats.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { poll, TEST_LIMIT } from '../helpers/limits'
import { startNode, type Node } from '../helpers/cluster'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

let redis: TestRedis | null = null
let a: TestServer | null = null
let b: Node | null = null
let browser: Browser | null = null

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

/** Inbound audio of the page's live peer, and the media port its offer named. */
async function inbound(page: Page): Promise<{ packets: number; level: number; state: string; port: number }> {
  return page.evaluate(async () => {
    const pcs: RTCPeerConnection[] = (window as any).__pcs ?? []
    const pc = pcs.filter((p) => p.connectionState !== 'closed').at(-1)
    if (!pc) return { packets: 0, level: 0, state: 'none', port: 0 }
    let packets = 0,
      level = 0
    ;(await pc.getStats()).forEach((r: any) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        packets += r.packetsReceived ?? 0
        level = Math.max(level, r.audioLevel ?? 0)
      }
    })
    const port = Number(/ (\d+) typ host/.exec(pc.remoteDescription?.sdp ?? '')?.[1] ?? 0)
    return { packets, level, state: pc.connectionState, port }
  })
}

async function hears(page: Page) {
  const first = await inbound(page)
  return poll(
    () => inbound(page),
    (v) => v.packets > first.packets + 20 && v.level > 0,
    `audio heard (first ${JSON.stringify(first)})`,
  )
}

beforeAll(async () => {
  if (!hasChromium) return
  redis = await startRedis()
  if (!redis) return
  mkdirSync(SHOTS, { recursive: true })
  a = await startTestServer({ REDIS_URL: redis.url, MEDIA_WORKERS: '0', RTC_PORT: String(await freePort()) })
  b = await startNode({ DATA_DIR: a.dataDir, REDIS_URL: redis.url })
  browser = await launch()
})

afterAll(async () => {
  await browser?.close()
  if (b && b.proc.exitCode === null) {
    b.proc.kill('SIGKILL')
    await b.proc.exited
  }
  await a?.stop()
  await redis?.stop()
})

test.skipIf(!hasChromium)(
  '[M65][M67] a page on node B hears a room of node A through B; on stage, it moves to A',
  async () => {
    if (!redis) return console.warn('skipped: redis-server could not start')
    const alice = await signedInClient(a!, 'alice_r')
    const bob = await signedInClient(a!, 'bob_r')
    const A = await pageFor(browser!, a!.url, alice.cookie)
    const B = await pageFor(browser!, b!.url, bob.cookie)
    await A.context.addInitScript(TRACK_PCS)
    await B.context.addInitScript(TRACK_PCS)
    try {
      const pa = A.page,
        pb = B.page
      const roomId = await startRoomInPage(pa, 'Two nodes', { unmute: true })

      // Bob, on B, joins from B's hallway: his audio is B's.
      await pb.goto('/')
      await pb.locator('.room-card', { hasText: 'Two nodes' }).getByRole('link', { name: 'Join' }).click()
      await pb.getByRole('button', { name: 'Raise hand' }).waitFor()
      const heard = await hears(pb)
      expect(heard.state).toBe('connected')
      expect(heard.port).toBe(b!.rtcPort)
      await pb.screenshot({ path: join(SHOTS, 'cluster-relay-edge-listener-390.png') })

      // On stage: the page is told to connect again, to A, and Alice hears him.
      await pb.getByRole('button', { name: 'Raise hand' }).click()
      await pa.locator('.hands').getByRole('button', { name: 'Invite to speak' }).click()
      await pb.getByRole('button', { name: 'Go live' }).click()
      await pb.getByRole('button', { name: 'Mute', exact: true }).waitFor()
      const aPort = (await a!.ctx.media.service.rtcStats())!.udpPort
      await poll(
        () => inbound(pb),
        (v) => v.port === aPort && v.state === 'connected',
        "Bob's audio connected to A",
      )
      expect(a!.ctx.rooms.api.participant(roomId, `u:${bob.user.id}`)).toMatchObject({ role: 'speaker', muted: false })
      expect((await hears(pa)).level).toBeGreaterThan(0)
      await pb.screenshot({ path: join(SHOTS, 'cluster-relay-moved-speaker-390.png') })
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
