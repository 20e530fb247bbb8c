// One permission check for every write of Backchannel (send, upload, edit, react, delete, typing): a table of
// situations × actions, each cell over real sockets and HTTP, against one check (BackchannelService.checkWrite).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { bringUp, roomWith } from '../helpers/members'
import { clientId, closeAll, dm, follow, ok, outcome, person, send, type Person } from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const mk = async (prefix = 'w') => {
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

// A 1×1 PNG.
const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)

const ACTIONS = ['send', 'upload', 'edit', 'react', 'delete', 'typing'] as const
type Action = (typeof ACTIONS)[number]

/** The member's own earlier message in the thread (`mine`) and another's (`theirs`) the actions act on. */
interface Cell {
  actor: Person
  thread: number
  mine: number
  theirs: number
}

/** Tries one action; the catalog code, or 'ok'. Edits and deletes act on the actor's own message. */
async function attempt(c: Cell, action: Action): Promise<string> {
  switch (action) {
    case 'send':
      return outcome(c.actor, 'bc.send', { threadId: c.thread, clientId: clientId(), body: 'new words' })
    case 'upload': {
      const r = await c.actor.http.req('POST', `/api/threads/${c.thread}/images`, PNG, {
        'content-type': 'image/png',
      })
      return r.status === 201 ? 'ok' : r.json.error.code
    }
    case 'edit':
      return outcome(c.actor, 'bc.edit', { messageId: c.mine, body: 'changed what you read' })
    case 'react':
      return outcome(c.actor, 'bc.react', { messageId: c.theirs, emoji: '👍', on: true })
    case 'delete':
      return outcome(c.actor, 'bc.delete', { messageId: c.mine })
    case 'typing':
      // Typing is answered ok even when refused (it is not stored); the refusal shows as an error code.
      return outcome(c.actor, 'bc.typing', { threadId: c.thread })
  }
}

/** Each situation builds a fresh thread with two messages, then changes what the table is about. */
const SITUATIONS: Record<string, { setup: () => Promise<Cell>; expect: Record<Action, string> }> = {
  'a 1:1 thread': {
    setup: async () => {
      const [a, b] = [await mk(), await mk()]
      await follow(b, a)
      await follow(a, b)
      const t = await dm(a, b)
      const mine = await send(a, t, 'hello')
      const theirs = await send(b, t, 'hi')
      return { actor: a, thread: t, mine: mine.id, theirs: theirs.id }
    },
    expect: { send: 'ok', upload: 'ok', edit: 'ok', react: 'ok', delete: 'ok', typing: 'ok' },
  },
  'a 1:1 thread, the other blocked me': {
    setup: async () => {
      const [a, b] = [await mk(), await mk()]
      await follow(b, a)
      await follow(a, b)
      const t = await dm(a, b)
      const mine = await send(a, t, 'an old message')
      const theirs = await send(b, t, 'hi')
      expect((await b.http.req('PUT', `/api/users/${a.name}/block`)).status).toBe(200)
      return { actor: a, thread: t, mine: mine.id, theirs: theirs.id }
    },
    // Taking one's own words back stays possible; changing what the blocker reads does not.
    expect: { send: 'blocked', upload: 'blocked', edit: 'blocked', react: 'blocked', delete: 'ok', typing: 'blocked' },
  },
  'a 1:1 thread, I blocked the other': {
    setup: async () => {
      const [a, b] = [await mk(), await mk()]
      await follow(b, a)
      await follow(a, b)
      const t = await dm(a, b)
      const mine = await send(a, t, 'an old message')
      const theirs = await send(b, t, 'hi')
      expect((await a.http.req('PUT', `/api/users/${b.name}/block`)).status).toBe(200)
      return { actor: a, thread: t, mine: mine.id, theirs: theirs.id }
    },
    expect: { send: 'blocked', upload: 'blocked', edit: 'blocked', react: 'blocked', delete: 'ok', typing: 'blocked' },
  },
  'a group I was removed from': {
    setup: async () => {
      const [a, b] = [await mk(), await mk()]
      await follow(a, b)
      await follow(b, a)
      const t = (await ok(b, 'bc.group.create', { title: 'Crew', usernames: [a.name] })).thread.id
      const mine = await send(a, t, 'hello crew')
      const theirs = await send(b, t, 'hi')
      await ok(b, 'bc.group.remove', { threadId: t, userId: a.id })
      return { actor: a, thread: t, mine: mine.id, theirs: theirs.id }
    },
    expect: {
      send: 'thread_not_found',
      upload: 'thread_not_found',
      edit: 'thread_not_found',
      react: 'thread_not_found',
      delete: 'thread_not_found',
      typing: 'thread_not_found',
    },
  },
  'a room chat, turned off, as the audience': {
    setup: async () => {
      const [host, a] = [await mk(), await mk()]
      const room = await roomWith(host, [a])
      const chat = (await ok(a, 'bc.room.open', { roomId: room.id })).chat.id
      const mine = await send(a, chat, 'from the audience')
      const theirs = await send(host, chat, 'welcome')
      await ok(host, 'bc.room.chat', { roomId: room.id, enabled: false })
      return { actor: a, thread: chat, mine: mine.id, theirs: theirs.id }
    },
    // Room threads have no typing indicator: it is accepted and goes nowhere.
    expect: { send: 'chat_off', upload: 'chat_off', edit: 'chat_off', react: 'chat_off', delete: 'ok', typing: 'ok' },
  },
  'a room chat, turned off, as its host': {
    setup: async () => {
      const [host, a] = [await mk(), await mk()]
      const room = await roomWith(host, [a])
      const chat = (await ok(host, 'bc.room.open', { roomId: room.id })).chat.id
      const mine = await send(host, chat, 'announcements')
      const theirs = await send(a, chat, 'hi')
      await ok(host, 'bc.room.chat', { roomId: room.id, enabled: false })
      return { actor: host, thread: chat, mine: mine.id, theirs: theirs.id }
    },
    expect: { send: 'ok', upload: 'ok', edit: 'ok', react: 'ok', delete: 'ok', typing: 'ok' },
  },
  'backstage, after leaving the stage': {
    setup: async () => {
      const [host, a] = [await mk(), await mk()]
      const room = await roomWith(host, [a])
      await bringUp(host, a, room.id)
      const back = (await ok(a, 'bc.room.open', { roomId: room.id })).backstage!.id
      const mine = await send(a, back, 'speaker notes')
      const theirs = await send(host, back, 'thanks')
      await ok(host, 'room.move', { roomId: room.id, userId: a.id })
      return { actor: a, thread: back, mine: mine.id, theirs: theirs.id }
    },
    expect: {
      send: 'not_on_stage',
      upload: 'not_on_stage',
      edit: 'not_on_stage',
      react: 'not_on_stage',
      delete: 'ok',
      typing: 'ok',
    },
  },
  'a room chat after the room ended': {
    setup: async () => {
      const [host, a] = [await mk(), await mk()]
      const room = await roomWith(host, [a])
      const chat = (await ok(a, 'bc.room.open', { roomId: room.id })).chat.id
      const mine = await send(a, chat, 'bye all')
      const theirs = await send(host, chat, 'bye')
      await ok(host, 'room.end', { roomId: room.id })
      return { actor: a, thread: chat, mine: mine.id, theirs: theirs.id }
    },
    expect: {
      send: 'room_ended',
      upload: 'room_ended',
      edit: 'room_ended',
      react: 'room_ended',
      delete: 'ok',
      typing: 'ok',
    },
  },
}

for (const [name, sit] of Object.entries(SITUATIONS)) {
  test(`[B11] writes in ${name}: ${ACTIONS.map((a) => `${a} ${sit.expect[a]}`).join(', ')}`, async () => {
    const got: Record<string, string> = {}
    // A fresh thread per action: a delete or an edit must not change what the next action finds.
    for (const action of ACTIONS) got[action] = await attempt(await sit.setup(), action)
    expect(got).toEqual(sit.expect)
  })
}

test('[B11] a member who was blocked cannot change what the blocker reads: the old message stays', async () => {
  const [a, b] = [await mk(), await mk()]
  await follow(b, a)
  const t = await dm(a, b)
  const m = await send(a, t, 'see you at noon')
  expect((await b.http.req('PUT', `/api/users/${a.name}/block`)).status).toBe(200)
  expect(await outcome(a, 'bc.edit', { messageId: m.id, body: 'see you at midnight' })).toBe('blocked')
  const history = await ok(b, 'bc.history', { threadId: t })
  expect(history.messages.find((x: { id: number }) => x.id === m.id)).toMatchObject({
    body: 'see you at noon',
    editedAt: null,
  })
})

test('[B1] a member removed from a group sees nothing of it afterwards: no new title in sync or events', async () => {
  const [owner, gone, stays] = [await mk(), await mk(), await mk()]
  await follow(gone, owner)
  await follow(stays, owner)
  const t = (await ok(owner, 'bc.group.create', { title: 'Before', usernames: [gone.name, stays.name] })).thread.id
  await send(owner, t, 'first')
  const before = (await ok(gone, 'bc.sync', { after: 0 })).seq
  await ok(owner, 'bc.group.remove', { threadId: t, userId: gone.id })
  const removed = await gone.ws.next((e) => e.type === 'bc.thread' && e.thread.id === t && e.thread.state === 'left')
  expect(removed.thread).toMatchObject({ state: 'left', title: 'Before', members: [], lastMessage: null })
  await ok(owner, 'bc.group.rename', { threadId: t, title: 'Secret plans' })
  await ok(owner, 'bc.group.add', { threadId: t, usernames: [(await mk()).name] })
  await send(owner, t, 'after you left')
  // The members who stayed hear of it; the one removed hears nothing of the new title.
  await stays.ws.next((e) => e.type === 'bc.thread' && e.thread.title === 'Secret plans')
  // A round trip on the removed member's socket: anything sent to it with the rename has arrived by now.
  await ok(gone, 'bc.inbox', {})
  expect(gone.ws.events.filter((e) => JSON.stringify(e).includes('Secret plans'))).toEqual([])
  // Sync from before the removal: the thread comes back once, as left, without what came after.
  const sync = await ok(gone, 'bc.sync', { after: before })
  const mine = sync.threads.filter((x) => x.id === t)
  expect(mine).toHaveLength(1)
  expect(mine[0]).toMatchObject({ state: 'left', members: [], lastMessage: null })
  expect(JSON.stringify(sync)).not.toContain('Secret plans')
  expect(JSON.stringify(sync)).not.toContain('after you left')
  // Sync from after the removal: nothing of the group at all.
  const after = await ok(gone, 'bc.sync', { after: removed.seq })
  expect(after.threads.filter((x) => x.id === t)).toEqual([])
  expect(JSON.stringify((await gone.http.get('/api/threads')).json)).not.toContain('Secret plans')
  expect(JSON.stringify((await ok(gone, 'bc.search', { q: 'after' })).results)).toBe('[]')
  expect(await outcome(gone, 'bc.thread', { threadId: t })).toBe('thread_not_found')
})
