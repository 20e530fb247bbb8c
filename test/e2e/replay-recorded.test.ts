// [RP46] End to end in Chromium, nothing seeded: two members with fake microphones record a room (the host, then a
// second speaker), each writing in the room's chat while they speak; the room ends, the mix job makes the replay; on
// the replay page a jump to the second speaker's chapter shows the chat line they sent then.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { hasChromium, pageFor, SHOTS, startRoomInPage, unmuteInPage } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { chaptersOf, type ReplayRow, speakersOf } from '../../server/replays/store'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const sockets: WsClient[] = []
const dir = mkdtempSync(join(tmpdir(), 'voice-'))

beforeAll(async () => {
  s = await startTestServer()
  if (!hasChromium) return
  // The fake microphone plays a voice-like sound: a gliding pitch with a syllable rhythm (Chromium's own fake device
  // only beeps, too short for a speaker's turn, and the noise suppression the app asks for fades a steady tone).
  const wav = join(dir, 'voice.wav')
  const voice = '0.6*sin(2*PI*(180+120*sin(2*PI*0.9*t))*t)*(0.65+0.35*sin(2*PI*4*t))'
  const ff = Bun.spawnSync(
    ['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', `aevalsrc=${voice}:s=48000:d=60`].concat(['-ac', '1', wav]),
  )
  if (ff.exitCode !== 0) throw new Error(`ffmpeg: ${ff.stderr.toString()}`)
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  })
})
afterAll(async () => {
  for (const w of sockets) w.close()
  await browser?.close()
  await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

const capBytes = (roomId: number, userId: number) => {
  const p = join(s.dataDir, 'recordings', String(roomId), `${userId}.cap`)
  return existsSync(p) ? statSync(p).size : 0
}
/** Waits while a speaker's capture file grows by `bytes` (their fake microphone is heard and recorded). */
async function recorded(roomId: number, userId: number, bytes: number) {
  const from = capBytes(roomId, userId)
  await until(() => capBytes(roomId, userId) >= from + bytes, `${bytes} more bytes recorded of user ${userId}`)
}
async function chat(ws: WsClient, roomId: number, body: string) {
  const open = await ws.request('bc.room.open', { roomId })
  if (!open.ok) throw new Error(`bc.room.open: ${open.error.code}`)
  const r = await ws.request('bc.send', { threadId: open.chat.id, clientId: crypto.randomUUID(), body })
  if (!r.ok) throw new Error(`bc.send: ${r.error.code}`)
}
async function consentYes(page: Page) {
  const ask = page.getByRole('alertdialog', { name: /Include your voice in the replay/ })
  await ask.getByRole('button', { name: 'Yes, include me' }).click()
  await ask.waitFor({ state: 'detached' })
}

test.skipIf(!hasChromium)(
  "[RP46] a room recorded in Chromium becomes a replay; the second speaker's chapter shows their chat line",
  async () => {
    const alice = await signedInClient(s, 'alice_rp')
    const bob = await signedInClient(s, 'bob_rp')
    const aliceWs = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
    const bobWs = await connectWs(s.url, { cookie: bob.cookie, origin: s.origin })
    sockets.push(aliceWs, bobWs)
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie, { width: 1280, height: 800 })
    try {
      const a = A.page
      const b = B.page
      const roomId = await startRoomInPage(a, 'Recorded with two voices', { record: true })
      await consentYes(a)
      await unmuteInPage(a)
      // Alice speaks and writes; then she mutes.
      await recorded(roomId, alice.user.id, 6000)
      await chat(aliceWs, roomId, 'Alice opens the room')
      await recorded(roomId, alice.user.id, 6000)
      await a.getByRole('button', { name: 'Mute', exact: true }).click()
      await a.getByRole('button', { name: 'Unmute', exact: true }).waitFor()

      // Bob comes on stage live, says yes, speaks, writes while he speaks, speaks on.
      await b.goto(`/rooms/${roomId}`)
      await b.getByRole('button', { name: 'Raise hand' }).waitFor()
      s.ctx.rooms.service.inviteToSpeak(roomId, alice.user.id, bob.user.id)
      await b.getByRole('button', { name: 'Go live' }).first().click()
      await consentYes(b)
      await recorded(roomId, bob.user.id, 6000)
      await chat(bobWs, roomId, 'Bob here, speaking second')
      await recorded(roomId, bob.user.id, 6000)
      const end = await aliceWs.request('room.end', { roomId })
      expect(end.ok).toBe(true)

      // The mix job makes the replay.
      const lib = s.ctx.replayLibrary.api
      let replay: ReplayRow | null = null
      await until(
        async () => (replay = await lib.store.byRoom(roomId))?.state === 'ready',
        () => `the replay to be ready (${JSON.stringify(replay)})`,
        WAIT * 4,
      )
      const chapters = chaptersOf(replay!)
      expect(chapters.some((c) => c.userId === alice.user.id)).toBe(true)
      expect(chapters.some((c) => c.userId === bob.user.id)).toBe(true)
      expect(speakersOf(replay!).sort()).toEqual([alice.user.id, bob.user.id].sort())

      // Bob's page: the ended room links to the replay; his chapter; his line is said, Alice's before it too.
      await b.goto(`/rooms/${roomId}`)
      await b.getByRole('link', { name: 'Play the replay' }).click()
      await b.getByRole('heading', { name: 'Recorded with two voices' }).waitFor()
      await b.getByText('Bob here, speaking second').waitFor()
      await b.locator('audio').evaluate((el: HTMLAudioElement) => (el.muted = true))
      const bobChapter = chapters.find((c) => c.userId === bob.user.id)!
      await b.locator('.chapter', { hasText: bobChapter.title }).first().click()
      await b.locator('.chapter.current', { hasText: bobChapter.title }).waitFor()
      await b.locator('.talk-line.said', { hasText: 'Bob here, speaking second' }).waitFor()
      await b.locator('.talk-line.said', { hasText: 'Alice opens the room' }).waitFor()
      await b.locator('audio').evaluate((el: HTMLAudioElement) => el.pause())
      await b.screenshot({ path: `${SHOTS}/replay-recorded-1280.png`, fullPage: true })
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
