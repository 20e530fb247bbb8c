// The activity inbox: each kind of item reaches the right person (and nobody else), live on every tab, with an unread
// count; read state syncs across devices; blocked people never produce items.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Client, PASSWORD, startTestServer, signedInClient, type TestServer } from '../helpers/server'
import { clientId, closeAll, follow, ok, outcome, person, reconnect, send, type Person } from '../helpers/backchannel'
import { createRoom } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { mentions } from '../../server/activity'
import type { ActivityItem } from '../../server/protocol'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const mk = async (prefix = 'ac') => {
  const p = await person(s, prefix)
  people.push(p)
  return p
}
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  closeAll(people)
  await s.stop()
})

const items = async (p: Person) => (await ok(p, 'activity.list', {})).items as ActivityItem[]
const kinds = async (p: Person) => (await items(p)).map((i) => i.kind)

test('[R50] mentions are parsed from the text: @name, each once, not e-mail addresses', () => {
  expect(mentions('hi @Ann and @bob_2, @ann again; mail x@y.com')).toEqual(['ann', 'bob_2'])
  expect(mentions('@@nope @ok')).toEqual(['ok'])
})

test('[R50] each kind produces an item for the right person only, live with the unread count', async () => {
  const host = await mk(),
    fan = await mk(),
    other = await mk(),
    guest = await mk()
  // new follower: to the followee only
  await follow(fan, host)
  const ev = await host.ws.next('activity.new', (e) => e.item.kind === 'follower')
  expect(ev.item).toMatchObject({ kind: 'follower', actor: { username: fan.name }, url: `/u/${fan.name}`, read: false })
  expect(ev.unread).toBe(1)
  // following again after an unfollow does not add a second item
  await fan.http.del(`/api/users/${host.name}/follow`)
  await follow(fan, host)
  // someone I follow scheduled a room: the follower, not the others
  const later = await createRoom(host, { title: 'Later on', startsAt: Date.now() + 3_600_000 })
  await fan.ws.next('activity.new', (e) => e.item.kind === 'room_scheduled' && e.item.url === `/rooms/${later.id}`)
  // invited to a closed room: the invited member
  const closed = await createRoom(host, { title: 'Closed one', kind: 'closed', invited: [guest.name] })
  const inv = await guest.ws.next('activity.new', (e) => e.item.kind === 'room_invite')
  expect(inv.item).toMatchObject({ detail: 'Closed one', url: `/rooms/${closed.id}`, actor: { username: host.name } })
  // someone I follow started a room: the follower who may join (the closed room is not for the fan)
  await ok(host, 'room.join', { roomId: closed.id })
  await ok(host, 'room.end', { roomId: closed.id })
  expect((await items(fan)).map((i) => `${i.kind} ${i.url}`)).toEqual([`room_scheduled /rooms/${later.id}`])
  expect(await kinds(host)).toEqual(['follower'])
  expect(await kinds(other)).toEqual([])
  expect(await kinds(guest)).toEqual(['room_invite'])
})

test('[R50] invited to speak, and someone I follow started a room', async () => {
  const host = await mk(),
    fan = await mk(),
    stranger = await mk()
  await follow(fan, host)
  const room = await createRoom(host, { title: 'Live now' })
  const started = await fan.ws.next('activity.new', (e) => e.item.kind === 'room_started')
  expect(started.item).toMatchObject({ text: 'started a room', detail: 'Live now', url: `/rooms/${room.id}` })
  for (const m of [host, fan, stranger]) await ok(m, 'room.join', { roomId: room.id })
  await ok(host, 'room.invite', { roomId: room.id, userId: stranger.id })
  const inv = await stranger.ws.next('activity.new', (e) => e.item.kind === 'speak_invite')
  expect(inv.item).toMatchObject({ actor: { username: host.name }, url: `/rooms/${room.id}` })
  expect(await kinds(stranger)).toEqual(['speak_invite'])
  expect((await kinds(fan)).filter((k) => k === 'speak_invite')).toEqual([])
  await ok(host, 'room.end', { roomId: room.id })
})

test('[B30] @mentions in a group or a room chat tell the mentioned reader; not outsiders nor the blocked', async () => {
  const a = await mk(),
    b = await mk(),
    c = await mk(),
    outsider = await mk()
  for (const p of [a, c]) await follow(p, b)
  await follow(b, a)
  await follow(b, c)
  const g = (await ok(b, 'bc.group.create', { title: 'Crew', usernames: [a.name, c.name] })).thread.id
  const m = await send(b, g, `hey @${a.name} and @${outsider.name}, see @${b.name}`)
  const ev = await a.ws.next('activity.new', (e) => e.item.kind === 'mention')
  expect(ev.item).toMatchObject({
    url: `/backchannel/${g}`,
    text: 'mentioned you in Crew',
    actor: { username: b.name },
  })
  expect(ev.item.detail).toContain('hey @')
  // c blocked a: a's mention of c produces nothing for c
  await c.http.put(`/api/users/${a.name}/block`)
  await send(a, g, `@${c.name} hello`).catch(() => null)
  // a room chat: the mentioned participant hears of it
  const room = await createRoom(b, { title: 'Chatty' })
  for (const p of [b, a]) await ok(p, 'room.join', { roomId: room.id })
  const chat = (await ok(a, 'bc.room.open', { roomId: room.id })).chat.id
  await send(a, chat, `thanks @${b.name}!`)
  const rm = await b.ws.next('activity.new', (e) => e.item.kind === 'mention')
  expect(rm.item).toMatchObject({ url: `/rooms/${room.id}`, text: 'mentioned you in the chat of Chatty' })
  expect((await kinds(outsider)).includes('mention')).toBe(false)
  expect((await kinds(c)).includes('mention')).toBe(false)
  expect((await kinds(b)).filter((k) => k === 'mention')).toHaveLength(1)
  expect(m.id).toBeGreaterThan(0)
  await ok(b, 'room.end', { roomId: room.id })
})

test('[B31] a message request is an item for its recipient, once per thread', async () => {
  const a = await mk(),
    b = await mk()
  const t = (await ok(a, 'bc.dm', { username: b.name })).thread.id
  await send(a, t, 'hello stranger')
  await send(a, t, 'hello again')
  const ev = await b.ws.next('activity.new', (e) => e.item.kind === 'message_request')
  expect(ev.item).toMatchObject({ url: `/backchannel/${t}`, detail: 'hello stranger', actor: { username: a.name } })
  expect((await kinds(b)).filter((k) => k === 'message_request')).toHaveLength(1)
  expect(await kinds(a)).toEqual([])
})

test('[A30] blocked people never produce items; an item from someone I block later disappears', async () => {
  const a = await mk(),
    b = await mk()
  await b.http.put(`/api/users/${a.name}/block`)
  expect((await a.http.put(`/api/users/${b.name}/follow`)).status).toBe(404)
  expect(await outcome(a, 'bc.dm', { username: b.name })).toBe('blocked')
  expect(await kinds(b)).toEqual([])
  const c = await mk()
  await follow(c, b)
  await b.ws.next('activity.new', (e) => e.item.kind === 'follower')
  expect(await kinds(b)).toEqual(['follower'])
  await b.http.put(`/api/users/${c.name}/block`)
  expect(await kinds(b)).toEqual([])
})

test('[A31] my report handled is an item (no admin named); read state syncs to every tab', async () => {
  const admin = await signedInClient(s, `adm_${Date.now().toString(36)}`.slice(0, 20), 'admin')
  const a = await mk(),
    rex = await mk()
  const r = await a.http.post('/api/reports', { targetType: 'member', targetId: rex.id, reason: 'spam links' })
  expect(r.status).toBe(201)
  expect((await admin.patch(`/api/admin/reports/${r.json.report.id}`, { status: 'resolved' })).status).toBe(200)
  const ev = await a.ws.next('activity.new', (e) => e.item.kind === 'report_handled')
  expect(ev.item).toMatchObject({ actor: null, detail: 'spam links' })
  // a second device
  const tab2 = await reconnect(s, { ...a })
  await follow(rex, a)
  const f = await a.ws.next('activity.new', (e) => e.item.kind === 'follower')
  expect(f.unread).toBe(2)
  const one = await ok(a, 'activity.read', { itemId: ev.item.id })
  expect(one.unread).toBe(1)
  const seen = await tab2.ws.next('activity.read', (e) => e.itemId === ev.item.id)
  expect(seen.unread).toBe(1)
  expect((await ok(tab2, 'activity.read', { upTo: f.item.id })).unread).toBe(0)
  await a.ws.next('activity.read', (e) => e.upTo === f.item.id && e.unread === 0)
  expect((await items(a)).every((i) => i.read)).toBe(true)
  // refusals: nothing named, someone else's item, a wrong type
  expect(await outcome(a, 'activity.read', {})).toBe('activity_read_target')
  expect(await outcome(rex, 'activity.read', { itemId: ev.item.id })).toBe('activity_not_found')
  expect(await outcome(a, 'activity.read', { itemId: 'x' })).toBe('validation')
  expect(await outcome(a, 'activity.list', { limit: 0 })).toBe('validation')
  tab2.ws.close()
})

test('[A31] paging: before and limit', async () => {
  const a = await mk()
  const fans = [await mk(), await mk(), await mk()]
  for (const f of fans) await follow(f, a)
  await a.ws.next('activity.new', (e) => e.unread === 3)
  const first = await ok(a, 'activity.list', { limit: 2 })
  expect(first.items.map((i) => i.actor?.username)).toEqual([fans[2]!.name, fans[1]!.name])
  const rest = await ok(a, 'activity.list', { before: first.items[1]!.id })
  expect(rest.items.map((i) => i.actor?.username)).toEqual([fans[0]!.name])
  expect(clientId()).toBeTruthy()
})

test('[A32] a new member follows their inviter, who is told in their activity', async () => {
  const inviter = await mk()
  const inv = await inviter.http.post('/api/invites', { uses: 1 })
  expect(inv.status).toBe(201)
  const name = `nw_${Date.now().toString(36)}`.slice(0, 20)
  const c = new Client(s)
  const r = await c.post('/api/auth/register', { username: name, password: PASSWORD, invite: inv.json.token })
  expect(r.status).toBe(201)
  const ev = await inviter.ws.next('activity.new', (e) => e.item.kind === 'follower')
  expect(ev.item).toMatchObject({ text: 'joined with your invite and follows you', actor: { username: name } })
  const following = (await c.get(`/api/users/${name}/following`)).json.users.map((u: any) => u.username)
  expect(following).toEqual([inviter.name])
})

test('[A33] people are listed followed first, then by name', async () => {
  const viewer = await mk()
  const tag = Math.random().toString(36).slice(2, 5)
  const names = ['zed', 'amy', 'kim'].map((n) => `${tag}${n}`)
  for (const n of names) await signedInClient(s, n)
  await viewer.http.put(`/api/users/${names[0]}/follow`)
  const found = (await viewer.http.get(`/api/users?q=${tag}&limit=50`)).json.users as any[]
  const mine = found.filter((u) => names.includes(u.username)).map((u) => u.username)
  expect(mine).toEqual([`${tag}zed`, `${tag}amy`, `${tag}kim`])
  expect(found[0].username).toBe(`${tag}zed`)
})

test("[R50] the scheduled rooms' events (changed, cancelled, reminder) are items for those who said yes", async () => {
  const host = await mk(),
    yes = await mk(),
    no = await mk()
  const room = await createRoom(host, { title: 'Book club', startsAt: Date.now() + 3_600_000 })
  expect((await yes.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'yes' })).status).toBe(200)
  expect((await no.http.put(`/api/rooms/${room.id}/rsvp`, { answer: 'no' })).status).toBe(200)
  expect((await host.http.patch(`/api/rooms/${room.id}`, { description: 'Chapter 3' })).status).toBe(200)
  const ch = await yes.ws.next('activity.new', (e) => e.item.kind === 'event_changed')
  expect(ch.item).toMatchObject({ actor: { username: host.name }, detail: 'Book club', url: `/rooms/${room.id}` })
  s.ctx.rooms.api.announceReminder({ roomId: room.id, lead: 'soon', userIds: [yes.id] })
  const rem = await yes.ws.next('activity.new', (e) => e.item.kind === 'event_reminder')
  expect(rem.item.actor).toBeNull()
  expect((await host.http.del(`/api/rooms/${room.id}`)).status).toBe(200)
  await yes.ws.next('activity.new', (e) => e.item.kind === 'event_cancelled')
  expect(await kinds(no)).toEqual([])
})
