// [RP41] [RP46] [RP57] The replay page in Chromium: the player with its chapters, the room's chat following the
// playback time (a jump to the second speaker's chapter shows the line sent at that moment, not the one after), the
// list with the private feed, a clip's page, at 390×844 and 1280×800 (screenshots in test/.tmp/shots).
// The replay's file is made with ffmpeg and its row (chapters, the wall-time timeline) set through the store, the way
// the mix job sets it, so that the times are exact (the real recording and mix: replay-recorded.test.ts).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { signIn, startTestServer, type TestServer } from '../helpers/server'
import { bringUp, closeAll, createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
let H: Member, SP: Member
let replayId = 0
let dir = ''
const DURATION_MS = 8000

const say = async (m: Member, threadId: number, body: string) =>
  (await ok(m, 'bc.send', { threadId, clientId: crypto.randomUUID(), body })).message.createdAt

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tone-'))
  const tone = join(dir, 'tone.opus')
  const ff = Bun.spawnSync(
    ['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', `sine=f=330:d=${DURATION_MS / 1000}`].concat([
      '-c:a',
      'libopus',
      tone,
    ]),
  )
  if (ff.exitCode !== 0) throw new Error(`ffmpeg: ${ff.stderr.toString()}`)
  s = await startTestServer()
  H = await member(s, 'host')
  SP = await member(s, 'speaker')
  const room = await createRoom(H, { kind: 'open', title: 'Town budget, recorded' })
  await ok(H, 'room.join', { roomId: room.id })
  await ok(SP, 'room.join', { roomId: room.id })
  await bringUp(H, SP, room.id)
  const chat = (await ok(H, 'bc.room.open', { roomId: room.id })).chat.id
  await ok(SP, 'bc.room.open', { roomId: room.id })
  const t0 = await say(H, chat, 'Welcome, everyone')
  const t1 = await say(SP, chat, 'Second speaker here: the numbers are in')
  await until(() => Date.now() > t1, 'the next millisecond') // the line after is stamped later
  const t2 = await say(H, chat, 'Thanks, that is all for today')
  await ok(H, 'room.end', { roomId: room.id })
  const store = s.ctx.replayLibrary.api.store
  replayId = (await store.insertPending(room.id, []))!
  mkdirSync(join(s.dataDir, 'replays'), { recursive: true })
  copyFileSync(tone, join(s.dataDir, 'replays', `${replayId}.opus`))
  // The host is heard from the start; the second speaker from 3 s, at the moment of their line; the last line
  // is heard at 6 s.
  await store.setMixed(replayId, {
    path: `replays/${replayId}.opus`,
    bytes: statSync(tone).size,
    durationMs: DURATION_MS,
    chapters: [
      { startMs: 0, title: H.name, kind: 'speaker', userId: H.id },
      { startMs: 3000, title: SP.name, kind: 'speaker', userId: SP.id },
      { startMs: 6000, title: H.name, kind: 'speaker', userId: H.id },
    ],
    timeline: [
      { at: t0, ms: 0, len: Math.max(1, t1 - t0) },
      { at: t1, ms: 3000, len: 1 },
      { at: t2, ms: 6000, len: 2000 },
    ],
    speakers: [H.id, SP.id],
  })
  browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  closeAll([H, SP])
  await s?.stop()
  rmSync(dir, { recursive: true, force: true })
})

test.skipIf(!hasChromium)(
  "[RP46] jump to the second speaker's chapter: the chat shows the line sent then, not the one after",
  async () => {
    for (const viewport of [
      { width: 390, height: 844 },
      { width: 1280, height: 800 },
    ]) {
      const { context, page } = await pageFor(browser, s.url, SP.http.cookie, viewport)
      await page.goto(`/rooms/${(await H.http.get(`/api/replays/${replayId}`)).json.replay.roomId}`)
      await page.getByRole('link', { name: 'Play the replay' }).click()
      await page.getByRole('heading', { name: 'Town budget, recorded' }).waitFor()
      await page.getByText('Welcome, everyone').waitFor()
      await page.locator('audio').evaluate((a: HTMLAudioElement) => (a.muted = true))
      await page.getByRole('button', { name: new RegExp(`0:03\\s+${SP.name}`) }).click()
      await page.locator('.chapter.current', { hasText: SP.name }).waitFor()
      await page.locator('.talk-line.said', { hasText: 'Second speaker here' }).waitFor()
      expect(await page.locator('.talk-line', { hasText: 'Thanks, that is all' }).getAttribute('class')).toContain(
        'later',
      )
      // Speed, download, Media Session while it plays.
      await page.getByLabel('Speed').selectOption('1.5')
      // The player applies the choice on its next render: on a busy machine, after the select's change returns.
      const rate = () => page.locator('audio').evaluate((a: HTMLAudioElement) => a.playbackRate)
      await until(async () => (await rate()) === 1.5, 'the audio playing at 1.5×')
      expect(await page.getByRole('link', { name: 'Download' }).getAttribute('href')).toBe(
        `/api/replays/${replayId}/audio?download=1`,
      )
      await page.waitForFunction(() => navigator.mediaSession.metadata?.title === 'Town budget, recorded')
      await page.locator('audio').evaluate((a: HTMLAudioElement) => a.pause())
      await page.screenshot({ path: `${SHOTS}/replay-${viewport.width}.png`, fullPage: true })
      await context.close()
    }
  },
)

test.skipIf(!hasChromium)('[RP57] a clip cut in the app: its own page with a player, at both sizes', async () => {
  const { context, page } = await pageFor(browser, s.url, H.http.cookie, { width: 1280, height: 800 })
  await page.goto(`/replays/${replayId}`)
  await page.getByRole('button', { name: 'Clip', exact: true }).click()
  await page.getByLabel('Title (optional)').fill('The numbers are in')
  await page.getByRole('button', { name: 'Make the clip' }).click()
  const link = page.getByRole('link', { name: 'The numbers are in' })
  await link.waitFor()
  const url = new URL((await link.getAttribute('href'))!)
  await page.screenshot({ path: `${SHOTS}/replay-clips-1280.png`, fullPage: true })
  for (const viewport of [
    { width: 390, height: 844 },
    { width: 1280, height: 800 },
  ]) {
    await page.setViewportSize(viewport)
    await page.goto(url.pathname)
    await page.getByRole('heading', { name: 'The numbers are in' }).waitFor()
    expect(await page.locator('audio').count()).toBe(1)
    // The clip's audio loads in the browser (its length read through Range requests).
    await page.waitForFunction(() => {
      const a = document.querySelector('audio')!
      return a.readyState >= 1 && Math.abs(a.duration - 8) < 0.2
    })
    await page.screenshot({ path: `${SHOTS}/clip-${viewport.width}.png`, fullPage: true })
  }
  await page.goto('/replays')
  await page.getByRole('button', { name: 'Make my feed' }).click()
  const feed = await page.getByLabel('Feed address').inputValue()
  expect(feed).toMatch(/\/feed\/[A-Za-z0-9_-]{32}\.rss$/)
  expect((await fetch(feed.replace(s.origin, s.url))).status).toBe(200)
  await page.screenshot({ path: `${SHOTS}/replays-1280.png`, fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: `${SHOTS}/replays-390.png`, fullPage: true })
  await context.close()
})

test.skipIf(!hasChromium)('[RP65] the admin console: how long replays are kept, the disk they take', async () => {
  await s.ctx.accounts.service.createAdmin('root', 'correct horse battery')
  const admin = await signIn(s, 'root')
  const { context, page } = await pageFor(browser, s.url, admin.cookie, { width: 1280, height: 800 })
  await page.goto('/admin/replays')
  await page.getByRole('heading', { name: 'Keeping replays' }).waitFor()
  await page.getByRole('link', { name: 'Town budget, recorded' }).waitFor()
  await page.getByLabel('Keep replays for (days; 0 = forever)').fill('30')
  await page.getByRole('button', { name: 'Save', exact: true }).click()
  await page.getByText('Saved').waitFor()
  expect(s.ctx.core.settings.get().replayKeepDays).toBe(30)
  await page.screenshot({ path: `${SHOTS}/admin-replays-1280.png`, fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: `${SHOTS}/admin-replays-390.png`, fullPage: true })
  await context.close()
})
