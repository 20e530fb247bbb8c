// Per-speaker volume in Chromium (R71): two werift bots speak on stage, a member listens in Chromium. The listener
// opens a speaker's stage card and turns them down to 0: the <audio> element of the slot that carries that speaker
// (told by `rtc.slots`, R70) plays at volume 0, the other speaker's stays at 1; the choice survives a reload.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { poll, TEST_LIMIT } from '../helpers/limits'
import { Bot } from '../helpers/bot'
import { bringUp, createRoom, member, ok, type Member } from '../helpers/members'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const bots: Bot[] = []
const members: Member[] = []

/** Keeps every <audio> the page makes with `new Audio()` (the room's slots are not in the DOM). */
const TRACK_AUDIO = () => {
  const Orig = window.Audio
  ;(window as any).__audios = []
  window.Audio = function (this: any, ...args: any[]) {
    const el = new (Orig as any)(...args)
    ;(window as any).__audios.push(el)
    return el
  } as any
  window.Audio.prototype = Orig.prototype
}

/** The page's live slot elements: the speaker each carries (told by rtc.slots) → its volume. */
const volumesBySpeaker = (page: Page) =>
  page.evaluate(() => {
    const out: Record<string, number> = {}
    for (const el of (window as any).__audios as HTMLAudioElement[])
      if (el.srcObject && el.dataset.speaker) out[el.dataset.speaker] = el.volume
    return out
  })

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  Bot.portRange = [46000, 46999]
  s = await startTestServer({ RTC_PORT: '44700' })
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  await browser?.close()
  await s.stop()
  Bot.portRange = undefined
})

async function speakerBot(tag: string) {
  const m = await member(s, tag.toLowerCase())
  members.push(m)
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  return Object.assign(m, { bot })
}

test.skipIf(!hasChromium)(
  "[R71] a listener turns one speaker down to 0: that speaker's element plays at 0, the other's at 1; remembered",
  async () => {
    const host = await speakerBot('VA'),
      other = await speakerBot('VB')
    const room = await createRoom(host, { title: 'Volume check' })
    const roomId = room.id
    await ok(host, 'room.join', { roomId })
    await ok(host, 'room.mute', { roomId, muted: false })
    await ok(other, 'room.join', { roomId })
    await bringUp(host, other, roomId)
    for (const p of [host, other]) await p.bot.connectAudio(roomId)
    host.bot.speak(10)
    other.bot.speak(20)

    const carol = await signedInClient(s, 'carol_v')
    const L = await pageFor(browser, s.url, carol.cookie)
    await L.context.addInitScript(TRACK_AUDIO)
    const hKey = `u:${host.id}`,
      oKey = `u:${other.id}`
    try {
      const page = L.page
      await page.goto(`/rooms/${roomId}`)
      await page.getByRole('button', { name: 'Raise hand' }).waitFor()
      await poll(
        () => volumesBySpeaker(page),
        (v) => v[hKey] === 1 && v[oKey] === 1,
        'both speakers playing, each in a slot the page was told of',
      )
      await page.getByRole('button', { name: new RegExp(`^${host.name},`) }).click()
      const slider = page.getByRole('slider', { name: `Volume of ${host.name} for you` })
      await slider.fill('0')
      const got = await poll(
        () => volumesBySpeaker(page),
        (v) => v[hKey] === 0,
        "the host's element at volume 0",
      )
      expect(got[oKey]).toBe(1)
      await page.getByText('0 %').waitFor()
      expect(await page.getByRole('button', { name: `Silence ${host.name} for me` }).getAttribute('aria-pressed')).toBe(
        'true',
      )
      await page.screenshot({ path: join(SHOTS, 'room-volume-390.png') })
      await page.keyboard.press('Escape')

      // Reloaded wide, on the same device: the host is still at 0 (localStorage), the other speaker at 1.
      await page.setViewportSize({ width: 1280, height: 800 })
      await page.reload()
      await page.getByRole('button', { name: 'Raise hand' }).waitFor()
      await poll(
        () => volumesBySpeaker(page),
        (v) => v[hKey] === 0 && v[oKey] === 1,
        'the remembered volume applied after a reload',
      )
      await page.getByRole('button', { name: new RegExp(`^${other.name},`) }).click()
      await page.getByRole('slider', { name: `Volume of ${other.name} for you` }).fill('50')
      await poll(
        () => volumesBySpeaker(page),
        (v) => v[oKey] === 0.5 && v[hKey] === 0,
        "the other speaker's element at 0.5",
      )
      await page.screenshot({ path: join(SHOTS, 'room-volume-1280.png') })
    } finally {
      await L.context.close()
    }
  },
)
