// Rooms as events (issue 9): the shared link's Open Graph card, the signed-out event page, RSVPs, the host's edits
// and cancellation told to those who said yes, the .ics and the private calendar feed (parsed by ical.js), the
// reminders at 10 minutes and at the start (once, across restarts), finding rooms, and an ended room's recap.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { createECDH, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ece from 'http_ece'
import ICAL from 'ical.js'
import type { RoomEvents } from '../../server/contracts'
import { Client, startTestServer, type TestServer } from '../helpers/server'
import { bringUp, closeAll, createRoom, member, ok, type Member } from '../helpers/members'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let pushService: ReturnType<typeof Bun.serve>
const received: { path: string; body: Buffer }[] = []
const everyone: Member[] = []
const make = async (p = 'e') => {
  const m = await member(s, p)
  everyone.push(m)
  return m
}
const HOUR = 3600_000

beforeAll(async () => {
  s = await startTestServer({ PUSH_ALLOW_HTTP: 'true', PUBLIC_URL: 'http://town.test:8080' })
  pushService = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      received.push({ path: new URL(req.url).pathname, body: Buffer.from(await req.arrayBuffer()) })
      return new Response(null, { status: 201 })
    },
  })
})
afterAll(async () => {
  closeAll(everyone)
  pushService.stop(true)
  await s.stop()
})

/** Subscribes a member's device to the fake push service; returns what it receives, decrypted. */
async function device(m: Member, path: string) {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16)
  const endpoint = `http://127.0.0.1:${pushService.port}${path}`
  const sub = {
    endpoint,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
  }
  expect((await m.http.post('/api/push/subscribe', sub)).status).toBeLessThan(300)
  return () =>
    received
      .filter((r) => r.path === path)
      .map((r) =>
        JSON.parse(ece.decrypt(r.body, { version: 'aes128gcm', privateKey: ecdh, authSecret: auth }).toString()),
      )
}

/** Collects a RoomsApi event for the rest of the file. */
function collect<E extends keyof RoomEvents>(event: E) {
  const seen: RoomEvents[E][] = []
  s.ctx.rooms.api.on(event, (e) => seen.push(e))
  return seen
}

/** The meta tags of an HTML page: property or name → content, entities decoded. */
function metaOf(html: string) {
  const out: Record<string, string> = {}
  const decode = (v: string) =>
    v
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&')
  for (const m of html.matchAll(/<meta\s+(?:property|name)="([^"]+)"\s+content="([^"]*)">/g)) out[m[1]!] = decode(m[2]!)
  const title = /<title>([^<]*)<\/title>/.exec(html)?.[1]
  return { meta: out, title: title && decode(title) }
}

/** An .ics parsed by ical.js: its VEVENTs. */
function parseIcs(text: string) {
  const cal = new ICAL.Component(ICAL.parse(text))
  return cal.getAllSubcomponents('vevent').map((v) => {
    const e = new ICAL.Event(v)
    return {
      uid: e.uid,
      summary: e.summary,
      description: e.description,
      start: e.startDate.toJSDate().getTime(),
      end: e.endDate.toJSDate().getTime(),
      url: v.getFirstPropertyValue('url') as string,
      status: v.getFirstPropertyValue('status') as string,
      sequence: e.sequence,
    }
  })
}

test('[R35] /rooms/<id> is the app with an Open Graph card: an open room unfurls, others reveal nothing', async () => {
  const host = await make('og')
  await s.ctx.accounts.service.updateProfile(host.id, { displayName: 'Ada <Host> & "Co"' })
  const startsAt = Date.UTC(2027, 0, 15, 18, 30)
  const open = await createRoom(host, {
    title: 'Jazz & <b>blues</b> "night"',
    description: 'Bring records.\nAll welcome.',
    startsAt: Math.max(startsAt, Date.now() + 2 * HOUR),
  })
  const r = await new Client(s).get(`/rooms/${open.id}`)
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toContain('text/html')
  expect(r.headers.get('content-security-policy')).toContain("default-src 'self'")
  expect(r.text).toContain('<div id="app">') // the app itself
  expect(r.text).not.toContain('<b>blues</b>') // escaped
  const { meta, title } = metaOf(r.text)
  expect(title).toBe('Jazz & <b>blues</b> "night" · Townhall')
  expect(meta['og:title']).toBe('Jazz & <b>blues</b> "night"')
  expect(meta['og:description']).toContain('Hosted by Ada <Host> & "Co"')
  expect(meta['og:description']).toContain('Bring records.')
  expect(meta['og:description']).toMatch(/\d{4}, \d\d:\d\d UTC/)
  expect(meta['og:url']).toBe(`http://town.test:8080/rooms/${open.id}`)
  expect(meta['og:image']).toBe('http://town.test:8080/icons/icon-512.png')
  expect(meta['twitter:card']).toBe('summary')
  expect(meta['twitter:title']).toBe(meta['og:title']!)
  expect(meta.description).toBe(meta['og:description']!)
  // the image it names is served
  expect((await new Client(s).get('/icons/icon-512.png')).headers.get('content-type')).toBe('image/png')

  // closed, social and unknown rooms: the same generic card, no title, no host, no time
  const closed = await createRoom(host, { title: 'Secret plans', kind: 'closed', startsAt: Date.now() + 3 * HOUR })
  const social = await createRoom(host, { title: 'Friends only', kind: 'social', startsAt: Date.now() + 3 * HOUR })
  const cards = []
  for (const path of [`/rooms/${closed.id}`, `/rooms/${social.id}`, '/rooms/999999', '/rooms/abc']) {
    const res = await new Client(s).get(path)
    expect([path, res.status]).toEqual([path, 200])
    expect(res.text).not.toContain('Secret plans')
    expect(res.text).not.toContain('Friends only')
    expect(res.text).not.toContain('Ada')
    const card = metaOf(res.text)
    expect(card.meta['og:url']).toBe(`http://town.test:8080${path}`)
    delete card.meta['og:url']
    cards.push(card)
  }
  for (const c of cards) expect(c).toEqual(cards[0]!)
  expect(cards[0]!.meta['og:title']).toBe('A room on Townhall')
  // a member who may see the closed room still gets the generic card (unfurlers are not signed in)
  expect((await host.http.get(`/rooms/${closed.id}`)).text).not.toContain('Secret plans')
})

test('[R36] the event page: anyone sees an open room (title, time, hosts, RSVPs); others need a member', async () => {
  const host = await make('ep'),
    co = await make('ec'),
    fan = await make('ef')
  const room = await createRoom(host, {
    title: 'Open house',
    startsAt: Date.now() + 5 * HOUR,
    cohosts: [co.name],
  })
  await fan.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })
  const anon = await new Client(s).get(`/api/rooms/${room.id}/event`)
  expect(anon.status).toBe(200)
  expect(anon.json).toMatchObject({
    room: { id: room.id, title: 'Open house', state: 'scheduled', cancelled: false },
    rsvp: { going: 1, people: [], mine: null },
    url: `http://town.test:8080/rooms/${room.id}`,
    mayEdit: false,
    mayJoin: false,
    guests: false,
    registration: 'invite',
    recap: null,
  })
  expect(anon.json.hosts.map((h: any) => h.username)).toEqual([host.name, co.name])
  // a member sees who is coming; the host may edit
  const mine = await host.http.get(`/api/rooms/${room.id}/event`)
  expect(mine.json.rsvp.people.map((u: any) => u.username)).toEqual([fan.name])
  expect(mine.json.mayEdit).toBe(true)
  // closed: not for the signed out, nor for a member who is not invited
  const closed = await createRoom(host, { title: 'Closed one', kind: 'closed', startsAt: Date.now() + 5 * HOUR })
  expect((await new Client(s).get(`/api/rooms/${closed.id}/event`)).json.error.code).toBe('not_found')
  expect((await fan.http.get(`/api/rooms/${closed.id}/event`)).json.error.code).toBe('not_found')
  expect((await new Client(s).get('/api/rooms/abc/event')).json.error.code).toBe('validation')
})

test('[R37] RSVP: yes / no / take back, counts and who is coming; upcoming rooms a member may join', async () => {
  const host = await make('rh'),
    a = await make('ra'),
    b = await make('rb'),
    outsider = await make('ro')
  const room = await createRoom(host, { title: 'Book club', startsAt: Date.now() + 2 * HOUR })
  const rsvp = (m: Member, answer: unknown, id = room.id) => m.http.put(`/api/rooms/${id}/rsvp`, { answer })
  expect((await rsvp(a, 'yes')).json.rsvp).toMatchObject({ going: 1, mine: 'yes' })
  expect((await rsvp(b, 'yes')).json.rsvp).toMatchObject({ going: 2, mine: 'yes' })
  expect((await rsvp(b, 'no')).json.rsvp).toMatchObject({ going: 1, mine: 'no' })
  expect((await rsvp(b, null)).json.rsvp).toMatchObject({ going: 1, mine: null })
  expect((await rsvp(a, 'maybe')).json.error.code).toBe('validation')
  expect((await rsvp(host, 'yes')).json.error.code).toBe('room_rsvp_host')
  expect((await new Client(s).put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })).json.error.code).toBe(
    'unauthorized',
  )
  // the hallway card carries the count, the faces and my answer
  const card = (await a.http.get('/api/rooms')).json.upcoming.find((r: any) => r.id === room.id)
  expect(card.rsvp).toMatchObject({ going: 1, mine: 'yes' })
  expect(card.rsvp.people.map((u: any) => u.username)).toEqual([a.name])
  // a closed room: only the invited answer; others do not learn it exists
  const closed = await createRoom(host, {
    title: 'Closed',
    kind: 'closed',
    invited: [a.name],
    startsAt: Date.now() + 2 * HOUR,
  })
  expect((await rsvp(a, 'yes', closed.id)).status).toBe(200)
  expect((await rsvp(outsider, 'yes', closed.id)).json.error.code).toBe('not_found')
  // a live room takes no answers
  const live = await createRoom(b, { title: 'Now' })
  expect((await rsvp(a, 'yes', live.id)).json.error.code).toBe('room_rsvp_not_scheduled')
  await s.ctx.rooms.service.end(live.id, null)
})

test('[R38] the host edits or cancels an upcoming room; those who said yes hear it (WS, push, RoomsApi)', async () => {
  const changed = collect('eventChanged'),
    cancelled = collect('eventCancelled')
  const host = await make('xh'),
    yes = await make('xy'),
    no = await make('xn'),
    co = await make('xc'),
    other = await make('xo')
  const pushes = await device(yes, '/r38-yes')
  const noPushes = await device(no, '/r38-no')
  const room = await createRoom(host, { title: 'Planning', startsAt: Date.now() + 3 * HOUR })
  await yes.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })
  await no.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'no' })
  const edit = (m: Member, body: unknown, id = room.id) => m.http.patch(`/api/rooms/${id}`, body)
  // only the host; input checked
  expect((await edit(other, { title: 'Mine now' })).json.error.code).toBe('room_edit_forbidden')
  expect((await edit(yes, { title: 'Mine now' })).json.error.code).toBe('room_edit_forbidden')
  expect((await edit(host, { title: '   ' })).json.error.code).toBe('validation')
  expect((await edit(host, { startsAt: Date.now() - HOUR })).json.error.code).toBe('validation')
  expect((await edit(host, { startsAt: 1.5 })).json.error.code).toBe('validation')
  expect((await edit(host, { cohosts: ['nobody_zz_9'] })).json.error.code).toBe('validation')
  const newStart = Date.now() + 4 * HOUR
  const r = await edit(host, { title: 'Planning, v2', startsAt: newStart, cohosts: [co.name] })
  expect(r.status).toBe(200)
  expect(r.json.room).toMatchObject({ title: 'Planning, v2', startsAt: newStart })
  const ev = await yes.ws.next('room.updated', (e) => e.room.id === room.id)
  expect(ev.changes.sort()).toEqual(['cohosts', 'startsAt', 'title'])
  await co.ws.next('room.updated', (e) => e.room.id === room.id) // the new co-host hears of it
  expect(changed.find((e) => e.roomId === room.id)).toMatchObject({ byUserId: host.id, title: 'Planning, v2' })
  expect(changed.find((e) => e.roomId === room.id)!.userIds.sort()).toEqual([yes.id, co.id].sort())
  await until(() => pushes().length === 1, 'the push of the change')
  expect(pushes()[0]).toMatchObject({
    kind: 'room_reminder',
    title: 'Planning, v2 was updated',
    url: `/rooms/${room.id}`,
  })
  expect(pushes()[0].body).toContain('New time')
  // the co-host may now start it; an edit that changes nothing tells nobody
  expect((await edit(host, { title: 'Planning, v2' })).status).toBe(200)
  // cancel: not by others; then those who said yes are told, and the room is gone from the hallway
  expect((await other.http.del(`/api/rooms/${room.id}`)).json.error.code).toBe('room_cancel_forbidden')
  expect((await host.http.del(`/api/rooms/${room.id}`)).status).toBe(200)
  expect(await yes.ws.next('room.cancelled', (e) => e.roomId === room.id)).toMatchObject({ title: 'Planning, v2' })
  expect(cancelled.find((e) => e.roomId === room.id)!.userIds.sort()).toEqual([yes.id, co.id].sort())
  await until(() => pushes().length === 2, 'the push of the cancellation')
  expect(pushes()[1].title).toBe('Cancelled: Planning, v2')
  expect((await host.http.del(`/api/rooms/${room.id}`)).json.error.code).toBe('room_cancel_not_scheduled')
  expect((await edit(host, { title: 'Again' })).json.error.code).toBe('room_edit_not_scheduled')
  const page = await yes.http.get(`/api/rooms/${room.id}/event`)
  expect(page.json.room).toMatchObject({ state: 'ended', cancelled: true })
  expect((await yes.http.get('/api/rooms')).json.upcoming.some((x: any) => x.id === room.id)).toBe(false)
  // who said no heard nothing (a later push to them arrives, so the silence is not a slow service)
  const control = await createRoom(host, { title: 'Control', startsAt: Date.now() + 3 * HOUR })
  await no.http.put(`/api/rooms/${control.id}/rsvp`, { answer: 'yes' })
  await edit(host, { title: 'Control 2' }, control.id)
  await until(() => noPushes().length === 1, 'the control push')
  expect(noPushes()[0].title).toBe('Control 2 was updated')
  expect(no.ws.events.filter((e) => e.type === 'room.updated' && e.room.id === room.id)).toEqual([])
})

test('[R39] a room .ics and the private calendar feed parse as iCalendar, with escaping and folded lines', async () => {
  const host = await make('ih'),
    fan = await make('if')
  const startsAt = Date.now() + 6 * HOUR
  const longTitle = 'Ünïcode, semi;colons\\back — ' + 'a very long title '.repeat(5)
  const room = await createRoom(host, {
    title: longTitle.slice(0, 120),
    description: 'Line one,\nline two; with ✓ marks',
    startsAt,
  })
  const r = await new Client(s).get(`/rooms/${room.id}.ics`)
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toBe('text/calendar; charset=utf-8')
  for (const line of r.text.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75)
  expect(r.text.endsWith('\r\n')).toBe(true)
  const [e] = parseIcs(r.text)
  expect(e).toMatchObject({
    uid: `room-${room.id}@town.test:8080`,
    summary: longTitle.slice(0, 120).trim(),
    start: Math.floor(startsAt / 1000) * 1000,
    end: Math.floor(startsAt / 1000) * 1000 + HOUR,
    url: `http://town.test:8080/rooms/${room.id}`,
    status: 'CONFIRMED',
    sequence: 0,
  })
  expect(e!.description).toContain('Line one,\nline two; with ✓ marks')
  expect(e!.description).toContain(`Hosted by ${host.name} (@${host.name})`)
  // a closed room's .ics: only for those who may see it
  const closed = await createRoom(host, { title: 'Hidden', kind: 'closed', startsAt })
  expect((await new Client(s).get(`/rooms/${closed.id}.ics`)).status).toBe(404)
  expect((await fan.http.get(`/rooms/${closed.id}.ics`)).status).toBe(404)
  expect((await host.http.get(`/rooms/${closed.id}.ics`)).status).toBe(200)

  // the feed: what I host or said yes to, never what I said no to
  const feedUrl = (await fan.http.get('/api/calendar')).json.url as string
  expect(feedUrl).toMatch(/^http:\/\/town\.test:8080\/calendar\/[A-Za-z0-9_-]{32}\.ics$/)
  expect((await fan.http.get('/api/calendar')).json.url).toBe(feedUrl) // stable
  const feed = async (url = feedUrl) => new Client(s).get(new URL(url).pathname)
  const other = await createRoom(host, { title: 'Not for me', startsAt })
  await fan.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })
  await fan.http.put(`/api/rooms/${other.id}/rsvp`, { answer: 'no' })
  const own = await createRoom(fan, { title: 'My own', startsAt: startsAt + HOUR })
  let events = parseIcs((await feed()).text)
  expect(events.map((x) => x.uid).sort()).toEqual(
    [`room-${room.id}@town.test:8080`, `room-${own.id}@town.test:8080`].sort(),
  )
  // an edit bumps SEQUENCE; a cancelled event stays in the feed as CANCELLED
  await host.http.patch(`/api/rooms/${room.id}`, { title: 'Renamed' })
  await fan.http.del(`/api/rooms/${own.id}`)
  events = parseIcs((await feed()).text)
  expect(events.find((x) => x.summary === 'Renamed')!.sequence).toBe(1)
  expect(events.find((x) => x.summary === 'My own')!.status).toBe('CANCELLED')
  // regenerating: a new address, the old one is gone
  const next = (await fan.http.post('/api/calendar')).json.url as string
  expect(next).not.toBe(feedUrl)
  expect((await feed()).status).toBe(404)
  expect((await feed(next)).status).toBe(200)
  expect((await new Client(s).get('/calendar/short.ics')).status).toBe(404)
  expect((await new Client(s).get('/api/calendar')).json.error.code).toBe('unauthorized')
})

test('[R41] reminders at 10 minutes and at the start reach who said yes, once each, across restarts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'townhall-remind-'))
  let a = await startTestServer({}, { keepDir: dir })
  try {
    const seen: RoomEvents['eventReminder'][] = []
    a.ctx.rooms.api.on('eventReminder', (e) => seen.push(e))
    const host = await member(a, 'mh'),
      yes = await member(a, 'my'),
      no = await member(a, 'mn')
    await no.http.put(`/api/users/${host.name}/follow`) // a follower who said no is not reminded either
    const startsAt = Date.now() + 30 * 60_000
    const room = await createRoom(host, { title: 'Reminded', startsAt })
    await yes.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })
    await no.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'no' })
    const run = (at: number) => a.ctx.reminders.service.run(at)
    expect(await run(startsAt - 11 * 60_000)).toBe(0)
    expect(await run(startsAt - 9 * 60_000)).toBe(1)
    expect(await yes.ws.next('room.reminder', (e) => e.roomId === room.id)).toMatchObject({
      lead: 'soon',
      title: 'Reminded',
      startsAt,
    })
    expect(seen).toEqual([
      { roomId: room.id, title: 'Reminded', lead: 'soon', startsAt, userIds: expect.any(Array) as any },
    ])
    expect(seen[0]!.userIds.sort()).toEqual([host.id, yes.id].sort())
    expect(await run(startsAt - 8 * 60_000)).toBe(0)
    // a restart: nothing is sent twice
    for (const m of [host, yes, no]) m.ws.close()
    await a.stop()
    a = await startTestServer({}, { keepDir: dir })
    a.ctx.rooms.api.on('eventReminder', (e) => seen.push(e))
    const yes2 = await connectWs(a.url, { cookie: yes.http.cookie, origin: a.origin })
    expect(await a.ctx.reminders.service.run(startsAt - 7 * 60_000)).toBe(0)
    expect(await a.ctx.reminders.service.run(startsAt + 1000)).toBe(1)
    expect(await yes2.next('room.reminder', (e) => e.roomId === room.id)).toMatchObject({ lead: 'start' })
    expect(seen.at(-1)).toMatchObject({ lead: 'start', userIds: expect.arrayContaining([yes.id, host.id]) })
    expect(await a.ctx.reminders.service.run(startsAt + 2000)).toBe(0)
    // a new start time reminds again
    yes2.close()
  } finally {
    await a.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

test('[R42] finding rooms by title, description and host, grouped; never a room one may not see', async () => {
  const host = await make('sHost'),
    viewer = await make('sv'),
    invited = await make('si')
  const up = await createRoom(host, {
    title: 'Quantum gardening',
    description: 'Tomatoes and qubits',
    startsAt: Date.now() + 2 * HOUR,
  })
  const secret = await createRoom(host, {
    title: 'Quantum secrets',
    kind: 'closed',
    invited: [invited.name],
    startsAt: Date.now() + 2 * HOUR,
  })
  const live = await createRoom(host, { title: 'Live garden talk', description: 'about quantum things' })
  const past = await createRoom(viewer, { title: 'Old quantum chat' })
  await ok(viewer, 'room.join', { roomId: past.id })
  await ok(viewer, 'room.end', { roomId: past.id })
  const find = async (m: Member, q: string) => {
    const r = await m.http.get(`/api/rooms/search?q=${encodeURIComponent(q)}`)
    expect([q, r.status]).toEqual([q, 200])
    const ids = (list: any[]) => list.map((x) => x.id)
    return { live: ids(r.json.live), upcoming: ids(r.json.upcoming), past: ids(r.json.past) }
  }
  expect(await find(viewer, 'quantum')).toEqual({ live: [live.id], upcoming: [up.id], past: [past.id] })
  expect(await find(viewer, 'QUANT')).toEqual({ live: [live.id], upcoming: [up.id], past: [past.id] }) // prefix
  expect((await find(invited, 'quantum')).upcoming.sort()).toEqual([up.id, secret.id].sort())
  expect(await find(viewer, 'tomatoes')).toEqual({ live: [], upcoming: [up.id], past: [] }) // description
  expect(await find(viewer, 'secrets')).toEqual({ live: [], upcoming: [], past: [] })
  const byHost = await find(viewer, '@' + host.name.slice(0, 6))
  expect(byHost.upcoming).toEqual([up.id])
  expect(byHost.live).toEqual([live.id])
  // operators and wildcards are words, not syntax
  for (const q of ['"', 'quantum OR', '*', 'NEAR(a b)', "%' --", 'a"b', '\\']) await find(viewer, q)
  expect((await viewer.http.get('/api/rooms/search?q=')).json.error.code).toBe('validation')
  expect((await new Client(s).get('/api/rooms/search?q=quantum')).json.error.code).toBe('unauthorized')
  await s.ctx.rooms.service.end(live.id, null)
})

test('[R43] an ended room recaps its duration, speakers and peak listeners', async () => {
  const host = await make('ph'),
    sp = await make('ps'),
    l1 = await make('pl'),
    l2 = await make('pm')
  const room = await createRoom(host, { title: 'Recap me' })
  for (const m of [host, sp, l1, l2]) await ok(m, 'room.join', { roomId: room.id })
  await bringUp(host, sp, room.id)
  await ok(l2, 'room.leave', { roomId: room.id })
  await ok(host, 'room.end', { roomId: room.id })
  const r = await l1.http.get(`/api/rooms/${room.id}/event`)
  expect(r.json.room.state).toBe('ended')
  expect(r.json.recap.peakListeners).toBe(4)
  expect(r.json.recap.durationMs).toBeGreaterThanOrEqual(0)
  expect(r.json.recap.speakers.map((u: any) => u.username).sort()).toEqual([host.name, sp.name].sort())
  const stored = s.ctx.core.db.query('SELECT peak_listeners FROM rooms WHERE id = ?').get(room.id) as any
  expect(stored.peak_listeners).toBe(4)
})
