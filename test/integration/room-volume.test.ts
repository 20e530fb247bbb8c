// Per-speaker volume (R70): werift bots over loopback, two speakers and a listener in a real room. The listener is
// told who is in each of its downlink slots (`rtc.slots`), and the slot it names for a speaker is the one whose
// SSRC carries that speaker's packets (the bots' payloads name them); the message follows the loudest set, rarely.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { Bot, until } from '../helpers/bot'
import { bringUp, createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts), away from every ephemeral port and other files'.
const ports = await reservePorts()

let s: TestServer
const bots: Bot[] = []
const members: Member[] = []

beforeAll(async () => {
  Bot.portRange = ports.range(0, 999)
  s = await startTestServer({ RTC_PORT: String(ports.at(1300)) })
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  await s.stop()
  Bot.portRange = undefined
  await ports.release()
})

async function person(tag: string) {
  const m = await member(s, tag.toLowerCase())
  members.push(m)
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  return Object.assign(m, { bot })
}

type Slots = (string | null)[]
/** Every `rtc.slots` a socket received (left in its event queue: nothing here consumes them). */
const slotEvents = (m: Member, roomId: number) =>
  m.ws.events.filter((e) => e.type === 'rtc.slots' && e.roomId === roomId) as { slots: Slots }[]
const lastSlots = (m: Member, roomId: number): Slots => slotEvents(m, roomId).at(-1)?.slots ?? []

/** The mids on which a bot received a speaker's packets since `mark` (its slot's m-line). */
const midsOf = (bot: Bot, tag: string, mark: number) =>
  [
    ...new Set(
      bot.received
        .slice(mark)
        .filter((r) => r.from === tag)
        .map((r) => r.mid),
    ),
  ].sort()
/** The SSRCs on which a bot received a speaker's packets since `mark`. */
const ssrcsOf = (bot: Bot, tag: string, mark: number) =>
  new Set(
    bot.received
      .slice(mark)
      .filter((r) => r.from === tag)
      .map((r) => r.ssrc),
  )

describe('[R70] a listener knows who is in each slot', () => {
  test('[R70] rtc.slots names the speaker whose audio the slot carries, and follows the loudest set', async () => {
    const host = await person('HA'),
      speaker = await person('SB'),
      listener = await person('LC')
    const room = await createRoom(host)
    const roomId = room.id
    await ok(host, 'room.join', { roomId })
    await ok(host, 'room.mute', { roomId, muted: false })
    await ok(speaker, 'room.join', { roomId })
    await ok(listener, 'room.join', { roomId })
    await bringUp(host, speaker, roomId)
    for (const p of [host, speaker, listener]) await p.bot.connectAudio(roomId)
    const hKey = `u:${host.id}`,
      sKey = `u:${speaker.id}`

    // The host speaks: the listener is told the slot, and that slot's m-line and SSRC carry the host's voice.
    host.bot.speak(10)
    await until(
      () => lastSlots(listener, roomId).includes(hKey),
      () => `the listener is told the host's slot (last ${JSON.stringify(lastSlots(listener, roomId))})`,
    )
    const hSlot = lastSlots(listener, roomId).indexOf(hKey)
    let mark = listener.bot.received.length
    await until(() => midsOf(listener.bot, 'HA', mark).length > 0 && listener.bot.received.length > mark + 20, 'audio')
    expect(midsOf(listener.bot, 'HA', mark)).toEqual([String(hSlot + 1)])
    const hSsrc = [...ssrcsOf(listener.bot, 'HA', mark)]
    expect(hSsrc).toHaveLength(1)

    // The speaker joins in, softer: the set changes, the message names them in a slot of their own, whose SSRC
    // carries their packets; the host keeps theirs.
    speaker.bot.speak(30)
    await until(
      () => lastSlots(listener, roomId).includes(sKey),
      () => `the listener is told the speaker's slot (last ${JSON.stringify(lastSlots(listener, roomId))})`,
    )
    const both = lastSlots(listener, roomId)
    expect(both.indexOf(hKey)).toBe(hSlot)
    const sSlot = both.indexOf(sKey)
    expect(sSlot).not.toBe(hSlot)
    mark = listener.bot.received.length
    await until(
      () => midsOf(listener.bot, 'SB', mark).length > 0 && midsOf(listener.bot, 'HA', mark).length > 0,
      'both',
    )
    await until(() => listener.bot.received.length > mark + 50, 'more audio')
    expect(midsOf(listener.bot, 'SB', mark)).toEqual([String(sSlot + 1)])
    expect(midsOf(listener.bot, 'HA', mark)).toEqual([String(hSlot + 1)])
    expect([...ssrcsOf(listener.bot, 'HA', mark)]).toEqual(hSsrc)
    expect(ssrcsOf(listener.bot, 'SB', mark).has(hSsrc[0]!)).toBe(false)

    // Each speaker hears the other, never themselves, in the slots they are told of.
    await until(() => lastSlots(host, roomId).includes(sKey), "the host is told the speaker's slot")
    expect(lastSlots(host, roomId)).not.toContain(hKey)
    await until(() => lastSlots(speaker, roomId).includes(hKey), "the speaker is told the host's slot")

    // The host falls silent: they leave the set and their slot is empty in the next message.
    host.bot.silence()
    await until(
      () => !lastSlots(listener, roomId).includes(hKey),
      () => `the host's slot emptied (last ${JSON.stringify(lastSlots(listener, roomId))})`,
    )
    const after = lastSlots(listener, roomId)
    expect(after[hSlot]).toBeNull()
    expect(after[sSlot]).toBe(sKey)

    // Cheap: a message per change of the set, never per packet, and never the same set twice in a row.
    const sent = slotEvents(listener, roomId).map((e) => JSON.stringify(e.slots))
    expect(listener.bot.received.length).toBeGreaterThan(100)
    expect(sent.length).toBeLessThanOrEqual(6)
    for (let i = 1; i < sent.length; i++) expect(sent[i]).not.toBe(sent[i - 1])
    speaker.bot.silence()
  })
})
