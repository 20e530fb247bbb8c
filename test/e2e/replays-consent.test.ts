// Recording in Chromium (RP4, RP8–RP10): A starts a recorded room from the hallway on a phone, sees the REC badge and
// is asked for consent; B, on a desktop, sees "Recorded" on the hallway card, comes on stage, says no (A sees the
// mark), then changes their mind with the switch. Screenshots at 390×844 and 1280×800.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { hasChromium, launch, pageFor, SHOTS, startRoomInPage } from '../helpers/browser'
import { signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let browser: Browser
const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `replays-consent-${name}.png`) })
const answers = (roomId: number) =>
  s.ctx.core.db
    .query<{ user_id: number; consent: number }, [number]>(
      'SELECT user_id, consent FROM recording_consents WHERE room_id = ? ORDER BY id',
    )
    .all(roomId)

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
  '[RP4][RP8][RP9][RP10] the REC badge, the consent question, the mark and the switch',
  async () => {
    const alice = await signedInClient(s, 'alice_rec')
    const bob = await signedInClient(s, 'bob_rec')
    const A = await pageFor(browser, s.url, alice.cookie)
    const B = await pageFor(browser, s.url, bob.cookie, { width: 1280, height: 800 })
    try {
      const a = A.page,
        b = B.page
      const roomId = await startRoomInPage(a, 'Recorded town hall', { record: true })
      // The host is on stage: the badge, and the question (nothing recorded until the answer).
      await a.getByRole('status', { name: 'Recorded' }).waitFor()
      const ask = a.getByRole('alertdialog', { name: 'This room is recorded. Include your voice in the replay?' })
      await ask.waitFor()
      await shot(a, 'prompt-390')
      await ask.getByRole('button', { name: 'Yes, include me' }).click()
      await ask.waitFor({ state: 'detached' })
      expect(await a.getByRole('switch', { name: 'My voice in the replay' }).isChecked()).toBe(true)
      expect(answers(roomId)).toEqual([{ user_id: alice.user.id, consent: 1 }])
      await shot(a, 'room-390')

      await b.goto('/')
      const card = b.locator('.room-card', { hasText: 'Recorded town hall' })
      await card.locator('.hall-recorded', { hasText: 'Recorded' }).waitFor()
      await shot(b, 'hallway-1280')
      await card.getByRole('link', { name: 'Join' }).click()
      await b.getByRole('status', { name: 'Recorded' }).waitFor()
      // A listener is not asked.
      await b.getByRole('button', { name: 'Raise hand' }).waitFor()
      expect(await b.getByRole('alertdialog', { name: /Include your voice/ }).count()).toBe(0)
      s.ctx.rooms.service.inviteToSpeak(roomId, alice.user.id, bob.user.id)
      await b.getByRole('button', { name: 'Join muted' }).first().click()
      const bAsk = b.getByRole('alertdialog', { name: /Include your voice in the replay/ })
      await bAsk.waitFor()
      await shot(b, 'prompt-1280')
      await bAsk.getByRole('button', { name: 'No, leave me out' }).click()
      // A sees that B is not recorded.
      await a.getByRole('button', { name: /bob_rec, speaker, muted, not recorded/ }).waitFor()
      await a.getByLabel('Not recorded: left out of the replay').waitFor()
      await shot(a, 'mark-390')
      // B changes their mind.
      const mine = b.getByRole('switch', { name: 'My voice in the replay' })
      expect(await mine.isChecked()).toBe(false)
      await mine.check()
      await until(() => answers(roomId).length === 3, 'the new answer')
      await a.getByLabel('Not recorded: left out of the replay').waitFor({ state: 'detached' })
      expect(answers(roomId).map((x) => [x.user_id, x.consent])).toEqual([
        [alice.user.id, 1],
        [bob.user.id, 0],
        [bob.user.id, 1],
      ])
      await shot(b, 'room-1280')
    } finally {
      await A.context.close()
      await B.context.close()
    }
  },
)
