// Going live (issue 9): accepting an invitation muted or live, stepping down to the audience, handing the room over,
// emoji reactions (rate-limited).
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../helpers/server'
import { closeAll, member, ok, outcome, roomWith, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
const people: Member[] = []
const mk = async () => {
  const p = await member(s, 'lv')
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

test('[R52] an invited speaker accepts live or muted; a speaker moves themselves to the audience', async () => {
  const host = await mk(),
    a = await mk(),
    b = await mk()
  const room = await roomWith(host, [a, b])
  await ok(host, 'room.invite', { roomId: room.id, userId: a.id })
  await ok(a, 'room.respond', { roomId: room.id, accept: true, muted: true })
  const pa = await host.ws.next(
    'room.participant',
    (e) => e.participant.user.id === a.id && e.participant.role === 'speaker',
  )
  expect(pa.participant.muted).toBe(true)
  await ok(host, 'room.invite', { roomId: room.id, userId: b.id })
  await ok(b, 'room.respond', { roomId: room.id, accept: true })
  const pb = await host.ws.next(
    'room.participant',
    (e) => e.participant.user.id === b.id && e.participant.role === 'speaker',
  )
  expect(pb.participant.muted).toBe(false)
  // stepping down: a speaker moves themselves; the host cannot (they hand over or leave)
  await ok(b, 'room.move', { roomId: room.id, userId: b.id })
  const down = await host.ws.next(
    'room.participant',
    (e) => e.participant.user.id === b.id && e.participant.role === 'audience',
  )
  expect(down.participant.muted).toBe(true)
  expect(await outcome(host, 'room.move', { roomId: room.id, userId: host.id })).toBe('room_host_on_stage')
  await ok(host, 'room.end', { roomId: room.id })
})

test('[R53] the host hands the room to someone on stage, then leaves without ending it', async () => {
  const host = await mk(),
    sp = await mk(),
    listener = await mk()
  const room = await roomWith(host, [sp, listener])
  expect(await outcome(host, 'room.handover', { roomId: room.id, userId: listener.id })).toBe('room_handover_target')
  expect(await outcome(host, 'room.handover', { roomId: room.id, userId: host.id })).toBe('self_target')
  expect(await outcome(sp, 'room.handover', { roomId: room.id, userId: host.id })).toBe('room_handover_forbidden')
  await ok(host, 'room.invite', { roomId: room.id, userId: sp.id })
  await ok(sp, 'room.respond', { roomId: room.id, accept: true })
  await ok(host, 'room.handover', { roomId: room.id, userId: sp.id })
  await listener.ws.next('room.participant', (e) => e.participant.user.id === sp.id && e.participant.role === 'host')
  await listener.ws.next(
    'room.participant',
    (e) => e.participant.user.id === host.id && e.participant.role === 'moderator',
  )
  await ok(host, 'room.leave', { roomId: room.id })
  await listener.ws.next('room.left', (e) => e.userId === host.id)
  expect(s.ctx.rooms.api.room(room.id)?.state).toBe('live')
  expect(s.ctx.rooms.api.room(room.id)?.hostId).toBe(sp.id)
  expect(await outcome(sp, 'room.handover', { roomId: room.id, userId: 999999 })).toBe('room_target_absent')
  await ok(sp, 'room.end', { roomId: room.id })
})

test('[R54] emoji reactions reach everyone in the room; unknown ones and floods are refused', async () => {
  const host = await mk(),
    a = await mk(),
    outsider = await mk()
  const room = await roomWith(host, [a])
  await ok(a, 'room.react', { roomId: room.id, emoji: '👏' })
  const ev = await host.ws.next('room.reaction', () => true)
  expect(ev).toMatchObject({ roomId: room.id, key: `u:${a.id}`, emoji: '👏' })
  expect(await outcome(a, 'room.react', { roomId: room.id, emoji: '💩' })).toBe('room_reaction_unknown')
  expect(await outcome(outsider, 'room.react', { roomId: room.id, emoji: '👏' })).toBe('not_in_room')
  const codes: string[] = []
  for (let i = 0; i < 20; i++) codes.push(await outcome(a, 'room.react', { roomId: room.id, emoji: '🔥' }))
  expect(codes).toContain('room_reaction_rate')
  expect(codes.filter((c) => c === 'ok').length).toBeLessThan(20)
  await ok(host, 'room.end', { roomId: room.id })
})
