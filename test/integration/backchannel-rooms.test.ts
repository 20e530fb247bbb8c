import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { bringUp, roomWith } from '../helpers/members'
import { clientId, closeAll, ok, outcome, person, send, type Person } from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'

// The machine is shared and noisy: generous limits, no timing assertions.
setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Person[] = []
const mk = async (prefix = 'r') => {
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

test('[B12] room chat: everyone in the room posts and hears it; moderators delete; the host turns it off', async () => {
  const host = await mk(),
    aud = await mk(),
    aud2 = await mk(),
    outsider = await mk()
  const room = await roomWith(host, [aud, aud2])
  const opened = await ok(aud, 'bc.room.open', { roomId: room.id })
  expect(opened).toMatchObject({
    role: 'audience',
    canModerate: false,
    backstage: null,
    chat: { kind: 'room_chat', roomId: room.id },
  })
  const chat = opened.chat.id
  const m = await send(aud, chat, 'hello room')
  await host.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  await aud2.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
  // Outsiders neither read nor post.
  expect(await outcome(outsider, 'bc.room.open', { roomId: room.id })).toBe('room_chat_unreadable')
  expect(await outcome(outsider, 'bc.history', { threadId: chat })).toBe('thread_not_found')
  expect(await outcome(outsider, 'bc.send', { threadId: chat, clientId: clientId(), body: 'x' })).toBe(
    'thread_not_found',
  )
  // Moderation: the audience deletes only its own; a moderator deletes anyone's.
  expect(await outcome(aud2, 'bc.delete', { messageId: m.id })).toBe('message_delete_forbidden')
  expect((await ok(host, 'bc.delete', { messageId: m.id })).message.deleted).toBe(true)
  // Chat off: the audience cannot post, moderators still can; only moderators switch it.
  expect(await outcome(aud, 'bc.room.chat', { roomId: room.id, enabled: false })).toBe('chat_toggle_forbidden')
  await ok(host, 'bc.room.chat', { roomId: room.id, enabled: false })
  expect(await aud.ws.next('bc.chat', (e) => e.roomId === room.id)).toMatchObject({ enabled: false })
  expect(await outcome(aud, 'bc.send', { threadId: chat, clientId: clientId(), body: 'muted?' })).toBe('chat_off')
  await send(host, chat, 'announcements only')
  await ok(host, 'bc.room.chat', { roomId: room.id, enabled: true })
  await send(aud, chat, 'back again')
})

test(
  '[B12] turning a chat on or off is refused before anything is written: ' +
    'no thread appears for a room the member is not moderating',
  async () => {
    const host = await mk(),
      outsider = await mk()
    const room = (
      await host.http.post('/api/rooms', { title: 'Invite only', kind: 'closed', startsAt: Date.now() + 3_600_000 })
    ).json.room
    const threads = () =>
      s.ctx.core.db
        .query<{ n: number }, [number]>('SELECT COUNT(*) AS n FROM bc_threads WHERE room_id = ?')
        .get(room.id)!.n
    expect(await outcome(outsider, 'bc.room.chat', { roomId: room.id, enabled: false })).toBe('chat_toggle_forbidden')
    // An unknown room answers the same: whether a room exists is not revealed.
    expect(await outcome(outsider, 'bc.room.chat', { roomId: 9_999_999, enabled: false })).toBe('chat_toggle_forbidden')
    expect(threads()).toBe(0)
  },
)

test('[B13] only the stage (host, moderators, speakers) sees backstage', async () => {
  const host = await mk(),
    speaker = await mk(),
    aud = await mk()
  const room = await roomWith(host, [speaker, aud])
  const hostView = await ok(host, 'bc.room.open', { roomId: room.id })
  expect(hostView.backstage).toMatchObject({ kind: 'backstage' })
  const back = hostView.backstage!.id
  await send(host, back, 'speaker notes: keep it short')
  expect((await ok(aud, 'bc.room.open', { roomId: room.id })).backstage).toBeNull()
  expect(await outcome(aud, 'bc.history', { threadId: back })).toBe('thread_not_found')
  expect(await outcome(aud, 'bc.send', { threadId: back, clientId: clientId(), body: 'let me in' })).toBe(
    'thread_not_found',
  )
  expect((await ok(aud, 'bc.search', { q: 'speaker notes' })).results).toHaveLength(0)
  await bringUp(host, speaker, room.id)
  const sp = await ok(speaker, 'bc.room.open', { roomId: room.id })
  expect(sp.backstage?.id).toBe(back)
  expect((await ok(speaker, 'bc.history', { threadId: back })).messages.map((m: any) => m.body)).toEqual([
    'speaker notes: keep it short',
  ])
  const m = await send(speaker, back, 'ready')
  await host.ws.next((e) => e.type === 'bc.message' && e.message.id === m.id)
})

test('[B14] Q&A: the audience asks (≤500), all upvote once, only moderators answer, dismiss or stage', async () => {
  const host = await mk(),
    asker = await mk(),
    voter = await mk()
  const room = await roomWith(host, [asker, voter])
  expect(await outcome(asker, 'bc.q.ask', { roomId: room.id, clientId: clientId(), body: 'x'.repeat(501) })).toBe(
    'validation',
  )
  const cid = clientId()
  const q = (await ok(asker, 'bc.q.ask', { roomId: room.id, clientId: cid, body: 'How do you scale SQLite?' })).question
  expect(
    (await ok(asker, 'bc.q.ask', { roomId: room.id, clientId: cid, body: 'How do you scale SQLite?' })).question.id,
  ).toBe(q.id)
  await host.ws.next((e) => e.type === 'bc.question' && e.question.id === q.id)
  expect((await ok(voter, 'bc.q.upvote', { questionId: q.id })).question).toMatchObject({ votes: 1, voted: true })
  expect((await ok(voter, 'bc.q.upvote', { questionId: q.id })).question.votes).toBe(1)
  expect((await ok(host, 'bc.q.upvote', { questionId: q.id })).question.votes).toBe(2)
  for (const state of ['answered', 'dismissed'])
    expect(await outcome(voter, 'bc.q.mark', { questionId: q.id, state })).toBe('question_mark_forbidden')
  expect(await outcome(asker, 'bc.q.stage', { questionId: q.id })).toBe('question_mark_forbidden')
  const q2 = (await ok(voter, 'bc.q.ask', { roomId: room.id, clientId: clientId(), body: 'Off-topic' })).question
  expect((await ok(host, 'bc.q.mark', { questionId: q2.id, state: 'dismissed' })).question.state).toBe('dismissed')
  // Bring to stage: the asker is invited to speak and the question is pinned on the room.
  const staged = (await ok(host, 'bc.q.stage', { questionId: q.id })).question
  expect(staged.stagedAt).toBeGreaterThan(0)
  const pin = await voter.ws.next((e) => e.type === 'room.pinned' && e.roomId === room.id)
  expect(pin.pinned).toMatchObject({ kind: 'question', id: q.id, text: 'How do you scale SQLite?', by: asker.name })
  await ok(asker, 'room.respond', { roomId: room.id, accept: true })
  expect((await ok(host, 'bc.q.mark', { questionId: q.id, state: 'answered' })).question.state).toBe('answered')
  // A question from someone already on the stage is pinned without a new invitation.
  const q3 = (await ok(asker, 'bc.q.ask', { roomId: room.id, clientId: clientId(), body: 'Follow-up from the stage' }))
    .question
  expect((await ok(host, 'bc.q.stage', { questionId: q3.id })).question.stagedAt).toBeGreaterThan(0)
  const list = (await ok(voter, 'bc.room.open', { roomId: room.id })).questions
  expect(list.find((x: any) => x.id === q.id)).toMatchObject({ state: 'answered', votes: 2, voted: true })
})

test('[B12] a removed member stops reading room chat at once: history, sync, search, inbox, room.open', async () => {
  const host = await mk(),
    aud = await mk(),
    other = await mk()
  const room = await roomWith(host, [aud, other])
  const { chat } = await ok(aud, 'bc.room.open', { roomId: room.id })
  await send(aud, chat.id, 'before removal zanzibar')
  const seen = (await ok(aud, 'bc.sync', { after: 0 })).seq
  await ok(host, 'room.remove', { roomId: room.id, userId: aud.id })
  await send(host, chat.id, 'after removal zanzibar')
  expect(await outcome(aud, 'bc.history', { threadId: chat.id })).toBe('thread_not_found')
  expect(await outcome(aud, 'bc.room.open', { roomId: room.id })).toBe('room_chat_unreadable')
  const synced = await ok(aud, 'bc.sync', { after: seen })
  expect(synced.messages).toEqual([])
  expect(JSON.stringify(synced.threads)).not.toContain('after removal')
  expect((await ok(aud, 'bc.search', { q: 'zanzibar' })).results).toEqual([])
  expect((await aud.http.get('/api/threads')).json.rooms).toEqual([])
  // Those still in the room read on.
  expect((await ok(other, 'bc.history', { threadId: chat.id })).messages.map((m: any) => m.body)).toEqual([
    'before removal zanzibar',
    'after removal zanzibar',
  ])
})

test('[B15] after the room ends, its chat, backstage and Q&A stay readable only to those who were in it', async () => {
  const host = await mk(),
    aud = await mk(),
    outsider = await mk()
  const room = await roomWith(host, [aud])
  const { chat, backstage: back } = await ok(host, 'bc.room.open', { roomId: room.id })
  const backstage = back!
  await send(aud, chat.id, 'great room')
  await send(host, backstage.id, 'wrap up in 5')
  await ok(aud, 'bc.q.ask', { roomId: room.id, clientId: clientId(), body: 'Will there be a replay?' })
  await ok(host, 'room.end', { roomId: room.id })
  await aud.ws.next((e) => e.type === 'room.ended' && e.roomId === room.id)
  const after = await ok(aud, 'bc.room.open', { roomId: room.id })
  expect(after.role).toBeNull()
  expect((await ok(aud, 'bc.history', { threadId: chat.id })).messages.map((m: any) => m.body)).toEqual(['great room'])
  expect(after.questions.map((q: any) => q.body)).toEqual(['Will there be a replay?'])
  expect((await ok(host, 'bc.history', { threadId: backstage.id })).messages.map((m: any) => m.body)).toEqual([
    'wrap up in 5',
  ])
  expect((await aud.http.get('/api/threads')).json.rooms.map((t: any) => t.id)).toEqual([chat.id])
  expect((await host.http.get('/api/threads')).json.rooms.map((t: any) => t.id).sort()).toEqual(
    [chat.id, backstage.id].sort(),
  )
  expect((await outsider.http.get('/api/threads')).json.rooms).toEqual([])
  expect(await outcome(aud, 'bc.send', { threadId: chat.id, clientId: clientId(), body: 'late' })).toBe('room_ended')
  expect(
    await outcome(aud, 'bc.react', {
      messageId: (await ok(aud, 'bc.history', { threadId: chat.id })).messages[0].id,
      emoji: '👍',
      on: true,
    }),
  ).toBe('room_ended')
  expect(await outcome(aud, 'bc.q.ask', { roomId: room.id, clientId: clientId(), body: 'late?' })).toBe('room_ended')
  expect(await outcome(outsider, 'bc.room.open', { roomId: room.id })).toBe('room_chat_unreadable')
  expect(await outcome(outsider, 'bc.history', { threadId: chat.id })).toBe('thread_not_found')
  expect(await outcome(aud, 'bc.history', { threadId: backstage.id })).toBe('thread_not_found')
})
