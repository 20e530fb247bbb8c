// The room session as a state machine, without a server: lifecycle transitions, seats, hands, succession, timers.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { canTransition, GRACE_MS, isModerator, RANK, ROOM_TRANSITIONS, RoomSession } from '../../server/rooms/session'
import type { RoomRole } from '../../server/contracts'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const user = (id: number) => ({ id, username: `u${id}`, displayName: `U${id}`, avatar: null, role: 'member' as const })
const seat = (s: RoomSession, id: number, role: RoomRole) =>
  s.add({ key: `u:${id}`, userId: id, user: user(id), role, muted: true, conns: new Set() })

test('[R30] a room goes scheduled → live → ended and never back', () => {
  expect(ROOM_TRANSITIONS).toEqual({ scheduled: ['live', 'ended'], live: ['ended'], ended: [] })
  expect(canTransition('scheduled', 'live')).toBe(true)
  expect(canTransition('live', 'scheduled')).toBe(false)
  expect(canTransition('ended', 'live')).toBe(false)
  expect(GRACE_MS).toBe(20_000)
  expect(RANK.host > RANK.moderator && RANK.moderator > RANK.speaker && RANK.speaker > RANK.audience).toBe(true)
  expect((['host', 'moderator', 'speaker', 'audience'] as const).map(isModerator)).toEqual([true, true, false, false])
})

test('[R31] going to the audience drops the hand, the invitation and the microphone', () => {
  const s = new RoomSession(1, { graceMs: 50, emptyMs: 50 })
  const a = seat(s, 1, 'speaker')
  a.muted = false
  s.setRole(a, 'audience')
  expect(a).toMatchObject({ role: 'audience', muted: true, hand: null, invited: false })
  s.raiseHand(a, true)
  a.invited = true
  s.setRole(a, 'speaker')
  expect(a).toMatchObject({ role: 'speaker', hand: null, invited: false })
  s.close()
})

test('[R32] hands queue in the order raised; raising twice keeps the place', () => {
  const s = new RoomSession(1, { graceMs: 50, emptyMs: 50 })
  const [a, b, c] = [seat(s, 1, 'audience'), seat(s, 2, 'audience'), seat(s, 3, 'audience')]
  s.raiseHand(b, true)
  s.raiseHand(a, true)
  s.raiseHand(c, true)
  s.raiseHand(b, true)
  expect(s.hands().map((x) => x.userId)).toEqual([2, 1, 3])
  s.raiseHand(a, false)
  expect(s.hands().map((x) => x.userId)).toEqual([2, 3])
  s.close()
})

test('[R33] succession: a moderator first, else the longest-serving speaker; present seats before away', async () => {
  const s = new RoomSession(1, { graceMs: 10_000, emptyMs: 10_000 })
  const sp1 = seat(s, 1, 'speaker')
  await Bun.sleep(2)
  const sp2 = seat(s, 2, 'speaker')
  seat(s, 3, 'audience')
  expect(s.successor()).toBe(sp1)
  s.away(sp1, () => {})
  expect(s.successor()).toBe(sp2)
  const mod = seat(s, 4, 'moderator')
  expect(s.successor()).toBe(mod)
  s.drop(mod)
  s.drop(sp1)
  s.drop(sp2)
  expect(s.successor()).toBeNull()
  s.close()
  expect(s.timers()).toBe(0)
})

test('[R34] an away seat expires after the grace period unless its socket returns; close() clears timers', async () => {
  const s = new RoomSession(1, { graceMs: 30, emptyMs: 10_000 })
  const a = seat(s, 1, 'speaker'),
    b = seat(s, 2, 'audience')
  const expired: number[] = []
  s.away(a, () => expired.push(1))
  s.away(b, () => expired.push(2))
  s.back(b, {} as any)
  expect(b.state).toBe('present')
  await Bun.sleep(80)
  expect(expired).toEqual([1])
  s.away(b, () => expired.push(2))
  s.armEmpty(() => expired.push(99))
  expect(s.timers()).toBe(2)
  s.close()
  expect(s.timers()).toBe(0)
  expect(s.state).toBe('ended')
  await Bun.sleep(60)
  expect(expired).toEqual([1])
})
