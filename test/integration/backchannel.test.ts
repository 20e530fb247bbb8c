import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Client, type TestServer, startTestServer } from '../helpers/server'
import {
  clientId,
  closeAll,
  dm,
  follow,
  ok,
  outcome,
  person,
  reconnect,
  send,
  type Person,
} from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'

// The machine is shared and noisy: generous limits, no timing assertions.
setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const mk = async (prefix = 'b') => {
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

test('[B1] one 1:1 thread per pair; both see the conversation live in every open tab', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t1 = await dm(a, b)
  expect(await dm(b, a)).toBe(t1)
  const bTab2 = await reconnect(s, { ...b })
  const m = await send(a, t1, 'hello there')
  expect(m).toMatchObject({ threadId: t1, body: 'hello there', author: { username: a.name }, deleted: false })
  const ev1 = await b.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  const ev2 = await bTab2.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  expect(ev1.seq).toBe(m.seq)
  expect(ev2.message.body).toBe('hello there')
  // The author's own socket hears it too (their other tabs stay in step).
  await a.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  bTab2.ws.close()
  const inbox = (await b.http.get('/api/threads')).json
  expect(inbox.threads.find((t: any) => t.id === t1)).toMatchObject({
    kind: 'dm',
    unread: 1,
    state: 'active',
    lastMessage: { body: 'hello there' },
  })
})

test('[B2] edit and delete only your own messages; a delete leaves a tombstone; replies and reactions', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const m = await send(a, t, 'first version')
  expect(await outcome(b, 'bc.edit', { messageId: m.id, body: 'hijack' })).toBe('message_edit_forbidden')
  expect(await outcome(b, 'bc.delete', { messageId: m.id })).toBe('message_delete_forbidden')
  const edited = (await ok(a, 'bc.edit', { messageId: m.id, body: 'second version' })).message
  expect(edited.body).toBe('second version')
  expect(edited.editedAt).toBeGreaterThan(0)
  expect(edited.seq).toBeGreaterThan(m.seq)
  const reply = await send(b, t, 'replying', { replyTo: m.id })
  expect(reply.replyTo).toMatchObject({ id: m.id, author: a.name, body: 'second version' })
  const reacted = (await ok(b, 'bc.react', { messageId: m.id, emoji: '👍', on: true })).message
  expect(reacted.reactions['👍']).toEqual([b.id])
  expect(await outcome(b, 'bc.react', { messageId: m.id, emoji: '<b>', on: true })).toBe('validation')
  const gone = (await ok(a, 'bc.delete', { messageId: m.id })).message
  expect(gone).toMatchObject({ id: m.id, deleted: true, body: '', image: null })
  const ev = await b.ws.next('bc.message', (e) => e.message.id === m.id && e.message.deleted)
  expect(ev.message.body).toBe('')
  const hist = (await ok(b, 'bc.history', { threadId: t })).messages
  expect(hist.map((x: any) => x.id)).toEqual([m.id, reply.id])
  expect(hist[0].deleted).toBe(true)
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), body: 'x'.repeat(4001) })).toBe('validation')
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), body: '   ' })).toBe('validation')
  expect((await send(a, t, 'y'.repeat(4000))).body.length).toBe(4000)
})

test(
  '[B3] a first message from someone I do not follow lands in Requests; ' +
    'accept moves it to the inbox, decline hides it',
  async () => {
    const a = await mk(),
      b = await mk(),
      c = await mk()
    const t = await dm(a, b)
    await send(a, t, 'hi, we met at the meetup')
    let inbox = (await b.http.get('/api/threads')).json
    expect(inbox.requests.map((x: any) => x.id)).toContain(t)
    expect(inbox.threads.map((x: any) => x.id)).not.toContain(t)
    // A request is readable by its recipient; no push while it is pending (see B17).
    expect((await ok(b, 'bc.history', { threadId: t })).messages).toHaveLength(1)
    await ok(b, 'bc.request.accept', { threadId: t })
    inbox = (await b.http.get('/api/threads')).json
    expect(inbox.threads.map((x: any) => x.id)).toContain(t)
    expect(inbox.requests).toHaveLength(0)

    const t2 = await dm(c, b)
    await send(c, t2, 'buy my stuff')
    await ok(b, 'bc.request.decline', { threadId: t2 })
    inbox = (await b.http.get('/api/threads')).json
    expect([...inbox.threads, ...inbox.requests].map((x: any) => x.id)).not.toContain(t2)
    expect(await outcome(b, 'bc.history', { threadId: t2 })).toBe('thread_not_found')
    // The sender is not told; their message goes nowhere.
    const before = (await ok(b, 'bc.sync', { after: 0 })).seq
    const later = await send(c, t2, 'hello?')
    const sync = await ok(b, 'bc.sync', { after: before })
    expect(sync.messages.map((m: any) => m.id)).not.toContain(later.id)
    // Nothing of the declined thread comes back (not even its summary): only its own row's change would (B1).
    expect(sync.threads.find((x: any) => x.id === t2)).toBeUndefined()
    inbox = (await b.http.get('/api/threads')).json
    expect(inbox.requests.map((x: any) => x.id)).not.toContain(t2)
  },
)

test(
  '[B3] "only people I follow": others cannot start a conversation; people I follow can; ' +
    'a request opened before takes no more messages',
  async () => {
    const a = await mk(),
      b = await mk(),
      friend = await mk(),
      early = await mk()
    const opened = await dm(early, b)
    expect((await ok(b, 'bc.prefs', { followersOnly: true })).prefs).toEqual({ followersOnly: true })
    // The send's own check (in its batch), on the request opened before the setting.
    expect(await outcome(early, 'bc.send', { threadId: opened, clientId: clientId(), body: 'hi' })).toBe(
      'followers_only',
    )
    await follow(b, friend)
    expect(await outcome(a, 'bc.dm', { username: b.name })).toBe('followers_only')
    const t = await dm(friend, b)
    await send(friend, t, 'hey')
    expect((await b.http.get('/api/threads')).json.threads.map((x: any) => x.id)).toContain(t)
    expect(await outcome(a, 'bc.group.create', { title: 'G', usernames: [b.name] })).toBe('followers_only')
  },
)

test('[B4] blocked people cannot message each other, either way', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  await send(a, t, 'before the block')
  await b.http.put(`/api/users/${a.name}/block`)
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), body: 'after' })).toBe('blocked')
  expect(await outcome(b, 'bc.send', { threadId: t, clientId: clientId(), body: 'after' })).toBe('blocked')
  expect(await outcome(a, 'bc.dm', { username: b.name })).toBe('blocked')
  const c = await mk()
  expect(await outcome(b, 'bc.group.create', { title: 'G', usernames: [a.name, c.name] })).toBe('blocked')
})

test('[B1] groups: ≤50 members, a title; the creator adds and removes; anyone leaves', async () => {
  const owner = await mk(),
    x = await mk(),
    y = await mk(),
    z = await mk()
  for (const p of [x, y, z]) await follow(p, owner)
  const g = (await ok(owner, 'bc.group.create', { title: 'Speakers', usernames: [x.name, y.name] })).thread
  expect(g).toMatchObject({ kind: 'group', title: 'Speakers', memberCount: 3 })
  expect(await outcome(x, 'bc.group.add', { threadId: g.id, usernames: [z.name] })).toBe('group_creator_only')
  expect(await outcome(x, 'bc.group.remove', { threadId: g.id, userId: y.id })).toBe('group_creator_only')
  await ok(owner, 'bc.group.add', { threadId: g.id, usernames: [z.name] })
  const m = await send(z, g.id, 'glad to be here')
  await x.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  await ok(owner, 'bc.group.remove', { threadId: g.id, userId: y.id })
  const gone = await y.ws.next((e) => e.type === 'bc.thread' && e.thread.id === g.id && e.thread.state === 'left')
  expect(gone.thread.members).toEqual([]) // who is in it now is no longer theirs to see
  expect(await outcome(y, 'bc.history', { threadId: g.id })).toBe('thread_not_found')
  expect(await outcome(y, 'bc.send', { threadId: g.id, clientId: clientId(), body: 'hey' })).toBe('thread_not_found')
  await ok(x, 'bc.group.leave', { threadId: g.id })
  expect(await outcome(x, 'bc.history', { threadId: g.id })).toBe('thread_not_found')
  const many = Array.from({ length: 50 }, (_, i) => `nobody${i}`)
  expect(await outcome(owner, 'bc.group.create', { title: 'Too many', usernames: many })).toBe('validation')
})

test('[B1] a group title is 1–80 characters once trimmed: blanks are refused on creation and renaming', async () => {
  const owner = await mk(),
    x = await mk()
  await follow(x, owner)
  expect(await outcome(owner, 'bc.group.create', { title: '   ', usernames: [x.name] })).toBe('validation')
  const g = (await ok(owner, 'bc.group.create', { title: ' Crew ', usernames: [x.name] })).thread
  expect(g.title).toBe('Crew')
  expect(await outcome(owner, 'bc.group.rename', { threadId: g.id, title: '\t \n' })).toBe('validation')
})

test('[B5] typing, unread counts and read state reach the other members', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  await ok(a, 'bc.typing', { threadId: t })
  expect(await b.ws.next((e) => e.type === 'bc.typing' && e.threadId === t)).toMatchObject({
    userId: a.id,
    username: a.name,
  })
  const m1 = await send(a, t, 'one'),
    m2 = await send(a, t, 'two')
  expect((await ok(b, 'bc.thread', { threadId: t })).thread.unread).toBe(2)
  await ok(b, 'bc.read', { threadId: t, messageId: m2.id })
  const ev = await a.ws.next((e) => e.type === 'bc.read' && e.threadId === t)
  expect(ev).toMatchObject({ userId: b.id, messageId: m2.id })
  const th = (await ok(b, 'bc.thread', { threadId: t })).thread
  expect(th.unread).toBe(0)
  expect(th.members.find((x: any) => x.id === b.id)!.lastReadId).toBe(m2.id)
  // Reading backwards changes nothing.
  expect((await ok(b, 'bc.read', { threadId: t, messageId: m1.id })).lastReadId).toBe(m2.id)
  const muted = (await ok(b, 'bc.mute', { threadId: t, muted: true })).thread
  expect(muted.muted).toBe(true)
})

test('[B5] typing reaches no one who blocked the typist; nothing is kept for unreadable threads', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  await send(a, t, 'hi')
  await b.http.put(`/api/users/${a.name}/block`)
  expect(await outcome(a, 'bc.typing', { threadId: t })).toBe('blocked')
  // b's reply leaves the server after any typing event it would have been sent: none came before it.
  await ok(b, 'bc.inbox', {})
  expect(b.ws.events.some((e) => e.type === 'bc.typing' && e.threadId === t)).toBe(false)
  // Typing in threads one cannot read is refused and leaves no per-socket state behind.
  const conn = s.ctx.hub.connectionsOf(a.id)[0]!
  const before = conn.state.size
  for (let i = 0; i < 30; i++)
    expect(await outcome(a, 'bc.typing', { threadId: 1_000_000 + i })).toBe('thread_not_found')
  expect(conn.state.size).toBe(before)
})

test(
  '[B6] every change gets a global increasing seq; ' +
    'sync after a seq returns exactly the changes after it, in order',
  async () => {
    const a = await mk(),
      b = await mk()
    await follow(b, a)
    const t = await dm(a, b)
    const start = (await ok(b, 'bc.sync', { after: 0 })).seq
    const sent = []
    for (let i = 0; i < 5; i++) sent.push(await send(a, t, `m${i}`))
    const seqs = sent.map((m) => m.seq)
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs)
    expect(new Set(seqs).size).toBe(5)
    const edit = (await ok(a, 'bc.edit', { messageId: sent[1].id, body: 'm1 edited' })).message
    const r = await ok(b, 'bc.sync', { after: start })
    // m1 appears once, at its latest change.
    expect(r.messages.map((m: any) => m.body)).toEqual(['m0', 'm2', 'm3', 'm4', 'm1 edited'])
    expect(r.messages.at(-1)!.seq).toBe(edit.seq)
    expect(r.more).toBe(false)
    expect(r.seq).toBeGreaterThanOrEqual(edit.seq)
    expect((await ok(b, 'bc.sync', { after: r.seq })).messages).toHaveLength(0)
    // Paging: a small limit gives pages that continue where the last ended.
    const p1 = await ok(b, 'bc.sync', { after: start, limit: 2 })
    expect(p1.more).toBe(true)
    const p2 = await ok(b, 'bc.sync', { after: p1.seq, limit: 10 })
    expect([...p1.messages, ...p2.messages].map((m: any) => m.body)).toEqual(['m0', 'm2', 'm3', 'm4', 'm1 edited'])
  },
)

test('[B7] a retried send with the same client id stores one message and answers with it', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const id = clientId()
  // Two copies in flight at once (same tick) and one after the first was stored.
  const [r1, r2] = await Promise.all([
    ok(a, 'bc.send', { threadId: t, clientId: id, body: 'once' }),
    ok(a, 'bc.send', { threadId: t, clientId: id, body: 'once' }),
  ])
  const r3 = await ok(a, 'bc.send', { threadId: t, clientId: id, body: 'once' })
  expect(r1.message.id).toBe(r2.message.id)
  expect(r3.message.id).toBe(r1.message.id)
  const hist = (await ok(b, 'bc.history', { threadId: t })).messages
  expect(hist.filter((m: any) => m.body === 'once')).toHaveLength(1)
  const n = s.ctx.core.db
    .query('SELECT COUNT(*) AS n FROM bc_messages WHERE author_id = ? AND client_id = ?')
    .get(a.id, id) as { n: number }
  expect(n.n).toBe(1)
  // The same client id from another author is another message.
  const other = await ok(b, 'bc.send', { threadId: t, clientId: id, body: 'mine' })
  expect(other.message.id).not.toBe(r1.message.id)
})

test('[B6] a member offline during 100 messages gets all 100 on reconnect, in order', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  await send(a, t, 'before')
  const seen = (await ok(b, 'bc.sync', { after: 0 })).seq
  b.ws.close()
  await b.ws.waitClosed()
  // a writes from four tabs (each socket has its own rate limit), one message at a time so the order is known.
  const tabs = [a, ...(await Promise.all([1, 2, 3].map(() => reconnect(s, { ...a }))))]
  const ids: number[] = []
  for (let i = 0; i < 100; i++) ids.push((await send(tabs[i % 4]!, t, `offline ${i}`)).id)
  for (const tab of tabs.slice(1)) tab.ws.close()
  await reconnect(s, b)
  const got: any[] = []
  let after = seen
  for (;;) {
    const r = await ok(b, 'bc.sync', { after, limit: 30 })
    got.push(...r.messages)
    after = r.seq
    if (!r.more) break
  }
  expect(got.map((m) => m.id)).toEqual(ids)
  expect(got.map((m) => m.body)).toEqual(ids.map((_, i) => `offline ${i}`))
})

test('[B9] search finds my messages with snippets, only in threads I may read', async () => {
  const a = await mk(),
    b = await mk(),
    c = await mk()
  await follow(b, a)
  await follow(c, a)
  const t1 = await dm(a, b),
    t2 = await dm(a, c)
  await send(a, t1, 'the quarterly aubergine forecast is ready')
  await send(a, t2, 'secret aubergine plans for c only')
  const rb = await b.http.get('/api/threads/search?q=aubergine')
  expect(rb.status).toBe(200)
  expect(rb.json.results).toHaveLength(1)
  expect(rb.json.results[0].thread.id).toBe(t1)
  expect(rb.json.results[0].snippet).toContain('\u0002aubergine\u0003')
  expect((await a.http.get('/api/threads/search?q=auberg')).json.results).toHaveLength(2)
  // Query syntax is not passed through: operators and quotes are plain words.
  expect((await b.http.get('/api/threads/search?q=' + encodeURIComponent('"aubergine" OR NEAR(x'))).status).toBe(200)
  expect((await ok(c, 'bc.search', { q: 'quarterly' })).results).toHaveLength(0)
})

test('[B10] images are checked by content (PNG, JPEG, WebP, GIF ≤ 10 MB) and served only to members', async () => {
  const a = await mk(),
    b = await mk(),
    stranger = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const up = await a.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })
  expect(up.status).toBe(201)
  expect(up.json.image).toMatchObject({ mime: 'image/png' })
  const fake = await a.http.req('POST', `/api/threads/${t}/images`, new TextEncoder().encode('<svg onload=alert(1)>'), {
    'content-type': 'image/png',
  })
  expect(fake.status).toBe(415)
  const foreign = await stranger.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })
  expect(foreign.status).toBe(404)
  const m = await send(a, t, '', { image: up.json.image.name })
  const image = m.image!
  expect(m.image).toBe(up.json.image.url)
  const got = await b.http.get(image)
  expect(got.status).toBe(200)
  expect(got.headers.get('content-type')).toBe('image/png')
  expect(got.headers.get('x-content-type-options')).toBe('nosniff')
  expect((await stranger.http.get(image)).status).toBe(404)
  expect((await new Client(s).get(image)).status).toBe(401)
  // An upload belongs to its thread and its uploader.
  expect(await outcome(b, 'bc.send', { threadId: t, clientId: clientId(), image: up.json.image.name })).toBe(
    'validation',
  )
  // Over 10 MB is refused, whatever it is.
  const big = new Uint8Array(10 * 1024 * 1024 + 1)
  big.set(PNG)
  expect((await a.http.req('POST', `/api/threads/${t}/images`, big, { 'content-type': 'image/png' })).status).toBe(413)
  // A member uploads at most a burst of 20 images, then waits.
  let last = 0
  for (let i = 0; i < 21 && last !== 429; i++)
    last = (await b.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })).status
  expect(last).toBe(429)
})

test('[B10] a deleted message takes its image with it: the image is not served any more, even to members', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const up = await a.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })
  const m = await send(a, t, 'look', { image: up.json.image.name })
  const image = m.image!
  expect((await b.http.get(image)).status).toBe(200)
  const gone = (await ok(a, 'bc.delete', { messageId: m.id })).message
  expect(gone).toMatchObject({ deleted: true, image: null })
  expect((await b.http.get(image)).status).toBe(404)
  expect((await a.http.get(image)).status).toBe(404)
  expect(
    await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), body: 'again', image: up.json.image.name }),
  ).toBe('validation')
})

test('[B10] a member uploads at most 500 MB of images a day: then rate_limited; others are unaffected', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  // a has already stored 500 MB today (rows as the upload route writes them).
  s.ctx.core.db
    .query('INSERT INTO bc_uploads (name, thread_id, user_id, mime, size, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(`${t}-quotafillerquotaf.png`, t, a.id, 'image/png', 500 * 1024 * 1024, Date.now())
  const r = await a.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })
  expect(r.status).toBe(429)
  expect(r.json.error.code).toBe('rate_limited')
  expect((await b.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })).status).toBe(201)
})

test('[B11] permission table: a non-member cannot read, post, sync, search or see images of a thread', async () => {
  const a = await mk(),
    b = await mk(),
    outsider = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const m = await send(a, t, 'between us: zucchini')
  const table: [string, Record<string, unknown>, string][] = [
    ['bc.thread', { threadId: t }, 'thread_not_found'],
    ['bc.history', { threadId: t }, 'thread_not_found'],
    ['bc.send', { threadId: t, clientId: clientId(), body: 'intrude' }, 'thread_not_found'],
    ['bc.edit', { messageId: m.id, body: 'x' }, 'thread_not_found'],
    ['bc.delete', { messageId: m.id }, 'thread_not_found'],
    ['bc.react', { messageId: m.id, emoji: '👍', on: true }, 'thread_not_found'],
    ['bc.read', { threadId: t, messageId: m.id }, 'thread_not_found'],
    ['bc.typing', { threadId: t }, 'thread_not_found'],
    ['bc.mute', { threadId: t, muted: true }, 'thread_not_found'],
    ['bc.group.add', { threadId: t, usernames: [outsider.name] }, 'thread_not_found'],
    ['bc.request.accept', { threadId: t }, 'request_not_found'],
  ]
  for (const [type, fields, code] of table) expect([type, await outcome(outsider, type, fields)]).toEqual([type, code])
  const sync = await ok(outsider, 'bc.sync', { after: 0 })
  expect(sync.messages.map((x: any) => x.id)).not.toContain(m.id)
  expect(sync.threads.map((x: any) => x.id)).not.toContain(t)
  expect((await ok(outsider, 'bc.search', { q: 'zucchini' })).results).toHaveLength(0)
  expect((await outsider.http.get(`/api/threads/${t}`)).status).toBe(404)
  expect((await new Client(s).get('/api/threads')).status).toBe(401)
  // Bad input is a catalog error, never a crash.
  expect(await outcome(outsider, 'bc.send', { threadId: 'x', clientId: clientId(), body: 'x' })).toBe('validation')
  expect(await outcome(outsider, 'bc.send', { threadId: t, clientId: 'has spaces', body: 'x' })).toBe('validation')
  expect(await outcome(outsider, 'bc.sync', { after: -1 })).toBe('validation')
})

test('[B64] a send asked short is answered with its id, seq and time, after its event; a retry whole', async () => {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  const t = await dm(a, b)
  const aTab2 = await reconnect(s, { ...a })
  const cid = clientId()
  const r = await ok(a, 'bc.send', { threadId: t, clientId: cid, body: 'short answer', ack: 'short' })
  expect(r.ok).toBe(true)
  expect(r.message).toBeUndefined()
  expect(Object.keys(r.sent).sort()).toEqual(['clientId', 'createdAt', 'id', 'seq', 'threadId'])
  expect(r.sent).toMatchObject({ threadId: t, clientId: cid })
  // The message itself came as its event, on this socket before the answer (queued when the reply resolved).
  const mine = a.ws.events.find((e) => e.type === 'bc.message' && e.message.clientId === cid)
  expect(mine?.message).toMatchObject({
    id: r.sent.id,
    seq: r.sent.seq,
    createdAt: r.sent.createdAt,
    body: 'short answer',
  })
  // The sender's other tab and the recipient get the same event.
  for (const p of [aTab2, b]) {
    const ev = await p.ws.next((e) => e.type === 'bc.message' && e.message.id === r.sent.id)
    expect(ev.message).toEqual(mine.message)
  }
  // A retry sends no event: it is answered with the stored message, whole, even asked short.
  const again = await ok(a, 'bc.send', { threadId: t, clientId: cid, body: 'short answer', ack: 'short' })
  expect(again.sent).toBeUndefined()
  expect(again.message).toEqual(mine.message)
  // Without `ack`, the whole message, as before; any other value is refused.
  const whole = await send(a, t, 'whole answer')
  expect(whole).toMatchObject({ body: 'whole answer', author: { id: a.id } })
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), body: 'x', ack: 'long' })).toBe('validation')
  aTab2.ws.close()
})

test('[B17] push: a new message notifies accepted, unmuted recipients only', async () => {
  const calls: { userId: number; url: string }[] = []
  const push = s.ctx.push.service,
    notify = push.notify,
    hasDevice = push.hasDevice
  // A spy around the real push service: it records the calls and passes them on. Every member counts as having a
  // device (Backchannel asks notify only for those who have one; the rule tested is who of them it asks).
  push.hasDevice = () => true
  push.notify = async (userId, kind, m) => {
    if (kind === 'dm') calls.push({ userId, url: m.url }) // the activity inbox pushes new followers (kind activity)
    await notify.call(push, userId, kind, m)
  }
  try {
    const a = await mk(),
      b = await mk(),
      c = await mk()
    await follow(b, a)
    const t = await dm(a, b)
    await send(a, t, 'ping')
    expect(calls).toEqual([{ userId: b.id, url: `/backchannel/${t}` }])
    await ok(b, 'bc.mute', { threadId: t, muted: true })
    await send(a, t, 'ping again')
    const t2 = await dm(a, c) // c does not follow a: a request
    await send(a, t2, 'hello stranger')
    expect(calls).toHaveLength(1)
  } finally {
    push.notify = notify
    push.hasDevice = hasDevice
  }
})
