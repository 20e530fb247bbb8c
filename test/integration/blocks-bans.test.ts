// Blocking in shared groups and room chats (the blocker no longer reads the blocked member's messages), and bans or
// suspensions closing a member's open tabs with the word for what happened (issue 9).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Client, PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { closeAll, follow, ok, person, send, type Person } from '../helpers/backchannel'
import { createRoom } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const mk = async (prefix = 'bb') => {
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

test('[B32] in a shared group the blocker gets the blocked member’s messages withheld; others read them', async () => {
  const a = await mk(),
    b = await mk(),
    c = await mk()
  for (const p of [a, c]) await follow(p, b)
  const g = (await ok(b, 'bc.group.create', { title: 'Shared', usernames: [a.name, c.name] })).thread.id
  await c.http.put(`/api/users/${a.name}/block`)
  const m = await send(a, g, 'secret plans with a photo')
  const toC = await c.ws.next('bc.message', (e) => e.message.id === m.id)
  expect(toC.message).toMatchObject({ hidden: true, body: '', image: null, author: { username: a.name } })
  const toB = await b.ws.next('bc.message', (e) => e.message.id === m.id)
  expect(toB.message.body).toBe('secret plans with a photo')
  expect(toB.message.hidden).toBeUndefined()
  // history, sync, the thread's last message and search, for the blocker only
  const hist = (await ok(c, 'bc.history', { threadId: g })).messages.find((x) => x.id === m.id)!
  expect(hist).toMatchObject({ hidden: true, body: '' })
  expect((await ok(b, 'bc.history', { threadId: g })).messages.find((x) => x.id === m.id)!.body).toContain('secret')
  const sync = await ok(c, 'bc.sync', { after: 0 })
  expect(sync.messages.find((x) => x.id === m.id)).toMatchObject({ hidden: true, body: '' })
  expect(sync.threads.find((t) => t.id === g)!.lastMessage).toMatchObject({ hidden: true, body: '' })
  expect((await ok(c, 'bc.search', { q: 'secret' })).results).toEqual([])
  expect((await ok(b, 'bc.search', { q: 'secret' })).results.length).toBe(1)
  // a reply quoting the blocked member: the quote is emptied for the blocker only
  const reply = await send(b, g, 'answering that', { replyTo: m.id })
  const rc = await c.ws.next('bc.message', (e) => e.message.id === reply.id)
  expect(rc.message).toMatchObject({ body: 'answering that', replyTo: { author: a.name, body: '' } })
  const ra = await a.ws.next('bc.message', (e) => e.message.id === reply.id)
  expect(ra.message.replyTo?.body).toContain('secret')
  // my own messages and the others' stay as they are for me
  const mine = await send(c, g, 'hello all')
  expect(mine.hidden).toBeUndefined()
})

test('[B32] in a room chat too: the listener who blocked someone gets their messages withheld', async () => {
  const host = await mk(),
    a = await mk(),
    c = await mk()
  const room = await createRoom(host, { title: 'Block chat' })
  for (const p of [host, a, c]) await ok(p, 'room.join', { roomId: room.id })
  await c.http.put(`/api/users/${a.name}/block`)
  const chat = (await ok(a, 'bc.room.open', { roomId: room.id })).chat.id
  await ok(c, 'bc.room.open', { roomId: room.id })
  const m = await send(a, chat, 'from the blocked one')
  expect((await c.ws.next('bc.message', (e) => e.message.id === m.id)).message).toMatchObject({ hidden: true })
  expect((await host.ws.next('bc.message', (e) => e.message.id === m.id)).message.body).toBe('from the blocked one')
  await ok(host, 'room.end', { roomId: room.id })
})

test('[A34] a ban or a suspension closes the open tabs with the word for it; sign-in says which', async () => {
  const admin = await signedInClient(s, `adm_${Date.now().toString(36)}`.slice(0, 20), 'admin')
  for (const status of ['banned', 'suspended'] as const) {
    const p = await mk()
    const r = await admin.post(`/api/admin/members/${p.id}/${status === 'banned' ? 'ban' : 'suspend'}`, {})
    expect(r.status).toBe(200)
    expect(await p.ws.waitClosed()).toEqual({ code: 4001, reason: status })
    const login = await new Client(s).post('/api/auth/login', { username: p.name, password: PASSWORD })
    expect([login.status, login.json.error.code]).toEqual([
      403,
      status === 'banned' ? 'account_banned' : 'account_suspended',
    ])
  }
})
