// Videos and voice messages in Chromium (with its fake microphone): one member records a voice message and sends a
// WebM video; the other plays the voice message at 2× (its currentTime advances) and plays and seeks the video (Range
// requests). Screenshots of the thread at 390×844 and 1280×800.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS } from '../helpers/browser'
import { poll, TEST_LIMIT } from '../helpers/limits'
import { makeMedia, type MediaFiles } from '../helpers/media'
import { dm, follow, ok } from '../helpers/backchannel'
import { member, roomWith } from '../helpers/members'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
let f: MediaFiles
let dir: string
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SHOTS, `backchannel-media-${name}.png`), fullPage: false })

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true })
  dir = mkdtempSync(join(tmpdir(), 'townhall-media-e2e-'))
  f = await makeMedia(dir)
  s = await startTestServer()
  if (hasChromium) browser = await launch()
})
afterAll(async () => {
  await browser?.close()
  await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

test.skipIf(!hasChromium)(
  '[B47][B48] a recorded voice message plays at 2× for the other member; a WebM video plays and seeks',
  async () => {
    const alice = await signedInClient(s, 'alice_m')
    const bob = await signedInClient(s, 'bob_m')
    await s.ctx.accounts.service.updateProfile(alice.user.id, { displayName: 'Alice Archer' })
    await s.ctx.accounts.service.updateProfile(bob.user.id, { displayName: 'Bob Baker' })
    await bob.put('/api/users/alice_m/follow')
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie)
    const a = A.page
    const b = B.page
    await a.goto('/backchannel/new/bob_m')
    await a.getByRole('textbox', { name: 'Message' }).fill('Hello Bob, a clip and a note from the meetup')
    await a.getByRole('button', { name: 'Send' }).click()
    await a.waitForURL(/\/backchannel\/\d+$/)
    const threadId = Number(a.url().split('/').pop())

    // Hold the mic button until five seconds are recorded, then let go: the preview comes, then it is sent.
    const mic = a.getByRole('button', { name: 'Record voice' })
    await mic.hover()
    await a.mouse.down()
    await a.getByRole('status', { name: 'Recording voice message' }).getByText('0:05').waitFor()
    await a.mouse.up()
    await a.getByRole('button', { name: 'Send recording' }).click()
    await a.getByRole('group', { name: /^Voice message from Alice Archer/ }).waitFor()
    // A second voice message, tapped on and off this time.
    await a.getByRole('button', { name: 'Record voice' }).click()
    await a.getByRole('status', { name: 'Recording voice message' }).getByText('0:01').waitFor()
    await a.getByRole('button', { name: 'Stop recording' }).last().click()
    await a.getByRole('button', { name: 'Send recording' }).click()
    await poll(
      () => a.getByRole('group', { name: /^Voice message from/ }).count(),
      (n) => n === 2,
      'two voice messages on the sender side',
    )

    // A video: its poster and duration are made in the page, the upload shows progress, then it is sent.
    await a.getByRole('textbox', { name: 'Message' }).fill('the stage at the meetup')
    await a.getByLabel('Attach video').setInputFiles(f.paths.webm)
    await a.locator('video.msg-video').waitFor()

    // Bob: the messages arrive with their media; the voice messages are unplayed.
    const ranges: number[] = []
    b.on('response', (r) => r.url().includes('/media/') && ranges.push(r.status()))
    await b.goto(`/backchannel/${threadId}`)
    const voices = b.getByRole('group', { name: /^Voice message from Alice Archer, .*not played/ })
    await poll(
      () => voices.count(),
      (n) => n === 2,
      'two unplayed voice messages',
    )
    const first = b.getByRole('group', { name: /^Voice message from Alice Archer/ }).first()
    await first.getByRole('button', { name: 'Playback speed 1×' }).click()
    await first.getByRole('button', { name: 'Playback speed 1.5×' }).click()
    await first.getByRole('button', { name: 'Playback speed 2×' }).waitFor()
    await first.getByRole('button', { name: 'Play voice message' }).click()
    const state = await poll(
      () =>
        b.evaluate(() => {
          const el = document.getElementById('voice-player') as HTMLAudioElement | null
          return el ? { at: el.currentTime, rate: el.playbackRate, paused: el.paused } : null
        }),
      (x) => !!x && x.at > 0.5 && !x.paused,
      'the voice message playing',
    )
    expect(state!.rate).toBe(2)
    // It keeps playing on another screen, with a bar to control it; the next voice message follows by itself, and
    // both are played then (the server knows).
    await b.getByRole('link', { name: 'People' }).click()
    await b.getByRole('region', { name: 'Voice message playing' }).waitFor()
    await shot(b, 'voice-bar-390')
    await poll(
      async () => (await s.ctx.core.db.query('SELECT COUNT(*) AS n FROM bc_voice_played').get()) as { n: number },
      (r) => r.n === 2,
      'two played voice messages stored',
    )
    await b.getByRole('region', { name: 'Voice message playing' }).waitFor({ state: 'detached' })
    await b.getByRole('link', { name: 'Backchannel' }).click()
    await b.goto(`/backchannel/${threadId}`)
    await first.waitFor()
    await poll(
      () => voices.count(),
      (n) => n === 0,
      'no unplayed dot after a reload',
    )

    // The video plays and seeks in Bob's page (the browser asks for ranges: 206).
    const seeked = await b.evaluate(async () => {
      const v = document.querySelector('video.msg-video') as HTMLVideoElement
      v.muted = true
      await v.play()
      await new Promise<void>((r) => {
        const check = () => (v.currentTime > 0.2 ? r() : requestAnimationFrame(check))
        check()
      })
      v.pause()
      v.currentTime = 1.5
      await new Promise((r) => v.addEventListener('seeked', r, { once: true }))
      return { at: v.currentTime, duration: v.duration, poster: v.poster }
    })
    expect(seeked.at).toBeGreaterThan(1.4)
    expect(seeked.duration).toBeGreaterThan(1.9)
    expect(seeked.poster).toContain(`/api/threads/${threadId}/images/`)
    expect(ranges).toContain(206)

    // Screenshots: Bob's thread with the video and voice messages, phone and desktop.
    await shot(b, 'thread-390')
    await b.setViewportSize({ width: 1280, height: 800 })
    await b.goto(`/backchannel/${threadId}`)
    await b.locator('video.msg-video').waitFor()
    await shot(b, 'thread-1280')
    await a.setViewportSize({ width: 390, height: 844 })
    await a.getByRole('button', { name: 'Record voice' }).click()
    await a.getByRole('status', { name: 'Recording voice message' }).getByText('0:01').waitFor()
    await shot(a, 'recording-390')
    await a.getByRole('button', { name: 'Stop recording' }).last().click()
    await a.getByRole('button', { name: 'Send recording' }).waitFor()
    await shot(a, 'preview-390')
    await A.context.close()
    await B.context.close()
  },
)

test.skipIf(!hasChromium)(
  '[B47] a video upload can be cancelled; a failed one is retried and the video is sent once; slide to cancel',
  async () => {
    const carol = await signedInClient(s, 'carol_m')
    const dave = await signedInClient(s, 'dave_m')
    await dave.put('/api/users/carol_m/follow')
    const C = await pageFor(browser, s.url, carol.cookie)
    const c = C.page
    await c.goto('/backchannel/new/dave_m')
    await c.getByRole('textbox', { name: 'Message' }).fill('a video is coming')
    await c.getByRole('button', { name: 'Send' }).click()
    await c.waitForURL(/\/backchannel\/\d+$/)
    const threadId = Number(c.url().split('/').pop())
    const UPLOAD = /\/videos\?/

    // An upload that hangs: cancelled from the tray, nothing is sent.
    await c.route(UPLOAD, () => {})
    await c.getByLabel('Attach video').setInputFiles(f.paths.webm)
    await c.getByText(/Uploading video/).waitFor()
    await c.getByRole('button', { name: 'Cancel video' }).click()
    await c.getByRole('button', { name: 'Cancel video' }).waitFor({ state: 'detached' })
    await c.unroute(UPLOAD)

    // An upload the server refuses for now: the tray says so and offers Retry, which sends it once.
    await c.route(UPLOAD, (r) =>
      r.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'unavailable', message: 'Try again later.' } }),
      }),
    )
    await c.getByLabel('Attach video').setInputFiles(f.paths.webm)
    await c.getByText('Not sent: Try again later.').waitFor()
    await c.unroute(UPLOAD)
    await c.getByRole('button', { name: 'Retry' }).click()
    await c.locator('video.msg-video').waitFor()
    const count = () =>
      s.ctx.core.db
        .query<{ n: number }, [number]>(
          "SELECT COUNT(*) AS n FROM bc_messages WHERE thread_id = ? AND image LIKE '%.webm' AND deleted_at IS NULL",
        )
        .get(threadId)!.n
    await poll(
      async () => count(),
      (n) => n === 1,
      'one video message stored',
    )
    expect(await c.locator('video.msg-video').count()).toBe(1)

    // Holding the mic and sliding away cancels the recording: nothing to preview, nothing sent.
    const mic = c.getByRole('button', { name: 'Record voice' })
    const box = (await mic.boundingBox())!
    await c.mouse.move(box.x + box.width / 2, box.y + box.height / 2)
    await c.mouse.down()
    await c.getByRole('status', { name: 'Recording voice message' }).getByText('Slide to cancel').waitFor()
    await c.mouse.move(box.x - 150, box.y + box.height / 2, { steps: 5 })
    await c.getByRole('status', { name: 'Recording voice message' }).waitFor({ state: 'detached' })
    await c.mouse.up()
    expect(await c.getByRole('button', { name: 'Send recording' }).count()).toBe(0)
    expect(await c.getByRole('group', { name: /^Voice message/ }).count()).toBe(0)
    await C.context.close()
  },
)

/** Counts pause() and play() on the room's audio elements (those playing a MediaStream). */
const COUNT_ROOM_AUDIO = () => {
  const w = window as any
  w.__room = { paused: 0, played: 0 }
  w.__roomEls = new Set<HTMLMediaElement>()
  const pause = HTMLMediaElement.prototype.pause
  const play = HTMLMediaElement.prototype.play
  HTMLMediaElement.prototype.pause = function (this: HTMLMediaElement) {
    if (this.srcObject) w.__room.paused++
    return pause.call(this)
  }
  HTMLMediaElement.prototype.play = function (this: HTMLMediaElement) {
    if (this.srcObject) {
      w.__room.played++
      w.__roomEls.add(this)
    }
    return play.call(this)
  }
}

test.skipIf(!hasChromium)(
  "[B48] a voice message pauses the live room's audio while it plays and resumes it after",
  async () => {
    const host = await member(s, 'host')
    const bob = await member(s, 'lis')
    try {
      await follow(bob, host)
      const t = await dm(host, bob)
      const up = await host.http.req(
        'POST',
        `/api/threads/${t}/voice?durationMs=3000&waveform=${'90,'.repeat(63)}90`,
        f.ogg,
      )
      await ok(host, 'bc.send', { threadId: t, clientId: `vm-${Date.now()}`, body: '', media: up.json.voice.name })
      const room = await roomWith(host, [])
      const B = await pageFor(browser, s.url, bob.http.cookie)
      await B.context.addInitScript(COUNT_ROOM_AUDIO)
      const b = B.page
      await b.goto(`/rooms/${room.id}`)
      await b.getByRole('heading', { name: /On stage/ }).waitFor()
      const counts = () =>
        b.evaluate(() => {
          const w = window as any
          const voice = document.getElementById('voice-player') as HTMLAudioElement | null
          const els = [...w.__roomEls] as HTMLMediaElement[]
          return {
            ...(w.__room as { paused: number; played: number }),
            roomPlaying: els.filter((e) => !e.paused).length,
            voicePlaying: !!voice && !voice.paused,
            session: navigator.mediaSession.metadata?.title ?? null,
          }
        })
      const before = await poll(counts, (c) => c.played > 0, "the room's audio playing")
      // Over to the thread without leaving the room (in-app navigation), and play the voice message.
      await b.evaluate((to) => {
        history.pushState(null, '', to)
        dispatchEvent(new PopStateEvent('popstate'))
      }, `/backchannel/${t}`)
      await b
        .getByRole('group', { name: /^Voice message from/ })
        .getByRole('button', { name: 'Play voice message' })
        .click()
      // On the lock screen meanwhile: the voice message (Media Session).
      await poll(
        counts,
        (c) => c.voicePlaying && c.roomPlaying === 0 && c.session === 'Voice message',
        "the room's audio paused while the voice plays",
      )
      // It ends after 3 s (at whatever speed): the room's audio plays again.
      await poll(
        counts,
        (c) => !c.voicePlaying && c.roomPlaying > 0 && c.played > before.played && c.session === 'A room',
        "the room's audio (and the room on the lock screen) back",
      )
      expect(await b.evaluate(() => (document.getElementById('voice-player') as HTMLAudioElement).paused)).toBe(true)
      await B.context.close()
    } finally {
      host.ws.close()
      bob.ws.close()
    }
  },
)
