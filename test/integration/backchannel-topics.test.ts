// A thread's messages go out through its topic (Bun's publish, issue 11): every open tab of every member gets each
// message once, a tab opened later too; a member removed gets nothing more on any tab, and again once added back.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { closeAll, follow, ok, person, send, type Person } from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'
import { connectWs, type WsClient } from '../helpers/ws'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const tabs: WsClient[] = []
const mk = async () => {
  const p = await person(s, 'tp')
  people.push(p)
  return p
}
const tab = async (p: Person) => {
  const ws = await connectWs(s.url, { cookie: p.http.cookie, origin: s.origin })
  tabs.push(ws)
  return ws
}
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  closeAll(people)
  for (const t of tabs) t.close()
  await s.stop()
})

/** A round trip on the socket: whatever was sent to it before has arrived. */
const settled = (ws: WsClient) => ws.requestUnchecked('ping')
const copies = (ws: WsClient, id: number) =>
  ws.events.filter((e) => e.type === 'bc.message' && e.message.id === id).length

test('[B1] a message reaches each tab of its members once; a removed member none; added back, all again', async () => {
  const [owner, a, b] = [await mk(), await mk(), await mk()]
  await follow(a, owner)
  await follow(b, owner)
  const t = (await ok(owner, 'bc.group.create', { title: 'Topics', usernames: [a.name, b.name] })).thread.id
  const a2 = await tab(a)

  // Every tab of every member, once (the author's own tabs too).
  const m1 = await send(owner, t, 'one')
  for (const ws of [owner.ws, a.ws, a2, b.ws]) await ws.next('bc.message', (e) => e.message.id === m1.id)
  // A tab opened after the thread's topic was made joins it.
  const a3 = await tab(a)
  const m2 = await send(b, t, 'two')
  for (const ws of [owner.ws, a.ws, a2, a3, b.ws]) await ws.next('bc.message', (e) => e.message.id === m2.id)
  for (const ws of [owner.ws, a.ws, a2, a3, b.ws]) await settled(ws)
  for (const ws of [owner.ws, a.ws, a2, a3, b.ws]) expect([copies(ws, m1.id), copies(ws, m2.id)]).toEqual([0, 0])

  // Removed: the next messages reach the others and none of the removed member's tabs.
  await ok(owner, 'bc.group.remove', { threadId: t, userId: a.id })
  const m3 = await send(owner, t, 'three, after a was removed')
  const m4 = await send(b, t, 'four')
  await b.ws.next('bc.message', (e) => e.message.id === m4.id)
  for (const ws of [a.ws, a2, a3]) await settled(ws)
  for (const ws of [a.ws, a2, a3]) expect(ws.events.filter((e) => e.type === 'bc.message')).toEqual([])
  expect(await b.ws.next('bc.message', (e) => e.message.id === m3.id)).toBeTruthy()

  // Added back: every tab again, from the next message on.
  await ok(owner, 'bc.group.add', { threadId: t, usernames: [a.name] })
  const m5 = await send(owner, t, 'five, a is back')
  for (const ws of [a.ws, a2, a3]) await ws.next('bc.message', (e) => e.message.id === m5.id)
  for (const ws of [a.ws, a2, a3]) await settled(ws)
  for (const ws of [a.ws, a2, a3]) expect(copies(ws, m3.id) + copies(ws, m4.id)).toBe(0)
})

test('[B32] in a group, a member who blocked the author gets it withheld; the others get it as it is', async () => {
  const [owner, blocker, other] = [await mk(), await mk(), await mk()]
  await follow(blocker, owner)
  await follow(other, owner)
  const t = (await ok(owner, 'bc.group.create', { title: 'Blocks', usernames: [blocker.name, other.name] })).thread.id
  const m1 = await send(owner, t, 'before the block')
  for (const p of [blocker, other]) await p.ws.next('bc.message', (e) => e.message.id === m1.id)
  expect((await blocker.http.put(`/api/users/${owner.name}/block`)).status).toBeLessThan(300)
  const m2 = await send(owner, t, 'after the block')
  const seen = await blocker.ws.next('bc.message', (e) => e.message.id === m2.id)
  expect(seen.message).toMatchObject({ hidden: true, body: '' })
  expect((await other.ws.next('bc.message', (e) => e.message.id === m2.id)).message.body).toBe('after the block')
  await settled(blocker.ws)
  expect(copies(blocker.ws, m2.id)).toBe(0)
  // Unblocked: the topic again, as it is.
  expect((await blocker.http.del(`/api/users/${owner.name}/block`)).status).toBeLessThan(300)
  const m3 = await send(owner, t, 'after the unblock')
  expect((await blocker.ws.next('bc.message', (e) => e.message.id === m3.id)).message.body).toBe('after the unblock')
})
