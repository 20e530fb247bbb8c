// The rooms store contract (server/rooms/store.ts), one suite run twice: on SQLite (a real database file, migrated as
// the server does, through the gate) always, and on Postgres (a throwaway cluster, test/helpers/postgres.ts, migrated
// by migratePg) when it can start. Rows read back in one shape; the writes that race (start, end, cancel, edit,
// RSVP, removal, taking the saved seats) are conditional and exactly one caller wins; an end, a role change and the
// saved seats of a stop change several rows as one. Users are the accounts domain's table: written here directly.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { RoomRow } from '../../server/rooms/model'
import { type NewRoom, type RoomsStore, SqliteRoomsStore } from '../../server/rooms/store'
import { PgRoomsStore } from '../../server/rooms/store-pg'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { type Backend, pgBackend, removeSqliteDirs, sqliteBackend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

const HOUR = 3_600_000
const newRoom = (creatorId: number, over: Partial<NewRoom> = {}): NewRoom => ({
  creatorId,
  title: 'Morning coffee',
  description: 'Talking about espresso machines',
  link: null,
  kind: 'open',
  startsAt: null,
  live: true,
  ...over,
})
const idsOf = (rows: RoomRow[]) => rows.map((r) => r.id)

function contract(name: string, make: () => Promise<Backend<RoomsStore>>) {
  describe(`rooms store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[R1][R9][R30] a room reads back whole; it starts once and ends once, closing its stretches', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const at = Date.now() + 2 * HOUR
      const id = await store.insert(newRoom(ann, { live: false, startsAt: at, link: 'https://example.org/' }))
      expect(Number.isInteger(id)).toBe(true)
      const row = await store.byId(id)
      expect(row).toEqual({
        id,
        creator_id: ann,
        host_id: ann,
        title: 'Morning coffee',
        description: 'Talking about espresso machines',
        link: 'https://example.org/',
        kind: 'open',
        state: 'scheduled',
        starts_at: at,
        started_at: null,
        ended_at: null,
        created_at: row!.created_at,
        peak_listeners: 0,
        revision: 0,
        cancelled: 0,
        recording: 0,
      })
      expect(await store.byId(id + 1000)).toBeNull()
      expect(await store.countByHost(ann, 'scheduled')).toBe(1)
      expect(idsOf(await store.upcoming(Date.now()))).toEqual([id])
      expect(idsOf(await store.scheduledBetween(at, at + 1))).toEqual([id])
      expect(idsOf(await store.startingBetween(at - 1, at + 1))).toEqual([id])

      // Two starts at once (two nodes, or a double click): one wins.
      const started = await Promise.all([store.start(id), store.start(id)])
      expect(started.sort()).toEqual([false, true])
      expect((await store.byId(id))!.state).toBe('live')
      expect(idsOf(await store.live())).toEqual([id])
      expect(await store.countByHost(ann, 'live')).toBe(1)

      await store.openStint(id, ann, 'host')
      await store.openStint(id, bob, 'audience')
      await store.changeRole(id, bob, 'speaker')
      expect(await store.openStints(id)).toEqual([
        { user_id: ann, role: 'host', from_at: expect.any(Number) },
        { user_id: bob, role: 'speaker', from_at: expect.any(Number) },
      ])
      expect(await store.stageUsers(id)).toEqual([ann, bob].sort((x, y) => x - y))
      expect(await store.participants(id)).toEqual([ann, bob].sort((x, y) => x - y))
      expect(await store.wasParticipant(id, bob)).toBe(true)
      await store.setHost(id, bob)
      expect((await store.byId(id))!.host_id).toBe(bob)

      const ended = await Promise.all([store.end(id), store.end(id, 'ended')])
      expect(ended.sort()).toEqual([false, true])
      const done = (await store.byId(id))!
      expect(done.state).toBe('ended')
      expect(done.ended_at).toBeGreaterThan(0)
      expect(await store.openStints(id)).toEqual([])
      const history = await store.history(id)
      expect(history.map((h) => [h.user_id, h.role, h.end_reason])).toEqual([
        [ann, 'host', 'ended'],
        [bob, 'audience', 'role'],
        [bob, 'speaker', 'ended'],
      ])
      expect(history.every((h) => typeof h.from_at === 'number' && typeof h.to_at === 'number')).toBe(true)
      expect(await store.start(id)).toBe(false)
      expect(await store.live()).toEqual([])
    })

    test('[R5][R21][R22] people, removals and peaks', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const cat = await addUser('cat')
      const id = await store.insert(newRoom(ann, { kind: 'closed' }))
      await store.addPerson(id, bob, 'invited')
      await store.addPerson(id, cat, 'cohost')
      await store.addPerson(id, bob, 'cohost')
      expect(await store.people(id)).toEqual([
        { user_id: bob, kind: 'cohost' },
        { user_id: cat, kind: 'cohost' },
      ])
      await store.removePerson(id, cat)
      expect(await store.person(id, cat)).toBeNull()
      expect(await store.person(id, bob)).toBe('cohost')

      const removals = await Promise.all([store.markRemoved(id, cat, ann), store.markRemoved(id, cat, bob)])
      expect(removals.sort()).toEqual([false, true])
      expect(await store.isRemoved(id, cat)).toBe(true)
      expect(await store.isRemoved(id, bob)).toBe(false)
      expect(await store.removed(id)).toEqual([cat])

      await store.peak(id, 5)
      await store.peak(id, 3)
      expect((await store.byId(id))!.peak_listeners).toBe(5)
    })

    test('[R37][R38][R39] edits, cancelling and RSVPs say whether they won; calendars', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const cat = await addUser('cat')
      const at = Date.now() + HOUR
      const id = await store.insert(newRoom(ann, { live: false, startsAt: at }))
      expect(await store.edit(id, { title: 'Tea', description: 'Oolong', startsAt: at + HOUR })).toBe(true)
      const edited = (await store.byId(id))!
      expect([edited.title, edited.description, edited.starts_at, edited.revision]).toEqual([
        'Tea',
        'Oolong',
        at + HOUR,
        1,
      ])

      expect(await store.setRsvp(id, bob, true)).toBe(true)
      expect(await store.setRsvp(id, bob, true)).toBe(false)
      expect(await store.setRsvp(id, cat, false)).toBe(true)
      expect(await store.rsvps(id)).toEqual([
        { user_id: bob, going: 1 },
        { user_id: cat, going: 0 },
      ])
      expect(await store.rsvpOf(id, bob)).toBe(true)
      expect(await store.rsvpOf(id, cat)).toBe(false)
      expect(await store.setRsvp(id, cat, true)).toBe(true)
      expect(await store.setRsvp(id, cat, null)).toBe(true)
      expect(await store.setRsvp(id, cat, null)).toBe(false)
      expect(await store.rsvpOf(id, cat)).toBeNull()

      // The calendar: rooms created, co-hosted or said yes to.
      const other = await store.insert(newRoom(cat, { live: false, startsAt: at + 2 * HOUR }))
      await store.addPerson(other, bob, 'cohost')
      expect(idsOf(await store.calendarRooms(bob, Date.now()))).toEqual([id, other])
      expect(idsOf(await store.calendarRooms(ann, Date.now()))).toEqual([id])
      expect(await store.calendarSecret(bob)).toBeNull()
      await store.setCalendarSecret(bob, 'first')
      await store.setCalendarSecret(bob, 'second')
      expect(await store.calendarSecret(bob)).toBe('second')
      expect(await store.calendarOwner('second')).toBe(bob)
      expect(await store.calendarOwner('first')).toBeNull()

      const cancels = await Promise.all([store.cancel(id), store.cancel(id)])
      expect(cancels.sort()).toEqual([false, true])
      const cancelled = (await store.byId(id))!
      expect([cancelled.state, cancelled.cancelled, cancelled.revision]).toEqual(['ended', 1, 2])
      expect(await store.edit(id, { title: 'x', description: '', startsAt: at })).toBe(false)
      expect(await store.start(id)).toBe(false)
    })

    test('[R42] search: the words, the last a prefix, cancelled rooms left out; rooms by host', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const coffee = await store.insert(newRoom(ann))
      const tea = await store.insert(newRoom(bob, { title: 'Tea time', description: 'Green and black' }))
      const gone = await store.insert(
        newRoom(bob, { title: 'Espresso later', live: false, startsAt: Date.now() + HOUR }),
      )
      expect(idsOf(await store.search(['espresso'], 10))).toEqual([gone, coffee].sort((x, y) => y - x))
      await store.cancel(gone)
      expect(idsOf(await store.search(['espresso'], 10))).toEqual([coffee])
      expect(idsOf(await store.search(['espr'], 10))).toEqual([coffee])
      expect(idsOf(await store.search(['talking', 'mach'], 10))).toEqual([coffee])
      expect(idsOf(await store.search(['mach', 'talking'], 10))).toEqual([])
      expect(idsOf(await store.search(['green', 'tea'], 10))).toEqual([tea])
      expect(await store.search(['nothing'], 10)).toEqual([])
      expect(await store.search([], 10)).toEqual([])

      const cohosted = await store.insert(newRoom(ann, { title: 'Shared' }))
      await store.addPerson(cohosted, bob, 'cohost')
      expect(idsOf(await store.byHosts([bob], 10))).toEqual([cohosted, tea])
      expect(idsOf(await store.byHosts([ann, bob], 2))).toEqual([cohosted, tea])
      expect(await store.byHosts([], 10)).toEqual([])
    })

    test('[R14][H50] the saved seats are read once; stale ones go', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const live = await store.insert(newRoom(ann))
      const ended = await store.insert(newRoom(ann))
      await store.end(ended)
      const seats = { pinned: null, seats: [{ userId: ann, role: 'host', muted: false }] }
      await store.saveResume([
        { roomId: live, state: seats },
        { roomId: ended, state: { seats: [] } },
      ])
      const taken = await Promise.all([store.takeResume(live), store.takeResume(live)])
      expect(taken.filter((t) => t !== null)).toEqual([seats])
      await store.saveResume([{ roomId: live, state: seats }])
      await store.dropStaleResume()
      expect(await store.takeResume(ended)).toBeNull()
      expect(await store.takeResume(live)).toEqual(seats)
      expect(await store.takeResume(live)).toBeNull()
    })

    test('[RP3][RP5][RP8] recording: the switch, the admin turning it off, the latest consent of each', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const live = await store.insert(newRoom(ann))
      const later = await store.insert(newRoom(ann, { live: false, startsAt: Date.now() + HOUR }))
      const done = await store.insert(newRoom(ann))
      for (const id of [live, later, done]) await store.setRecording(id, true)
      await store.end(done)
      expect((await store.byId(live))!.recording).toBe(1)
      await store.addConsent(live, bob, true, 1000)
      await store.addConsent(live, bob, false, 2000)
      await store.addConsent(live, ann, true, 1500)
      expect(await store.latestConsents(live)).toEqual(
        [
          { user_id: ann, consent: 1, at: 1500 },
          { user_id: bob, consent: 0, at: 2000 },
        ].sort((x, y) => x.user_id - y.user_id),
      )
      expect(await store.everConsented(live)).toEqual([ann, bob].sort((x, y) => x - y))
      expect(await store.recordingOffEverywhere()).toEqual([live, later])
      expect(await store.recordingOffEverywhere()).toEqual([])
      expect((await store.byId(done))!.recording).toBe(1)
      await store.setRecording(done, false)
      expect((await store.byId(done))!.recording).toBe(0)
    })

    test('the snapshot: every room, or one, with its people, removals, participation, consents and RSVPs', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const one = await store.insert(newRoom(ann))
      const two = await store.insert(newRoom(bob, { live: false, startsAt: Date.now() + HOUR }))
      await store.addPerson(one, bob, 'cohost')
      await store.markRemoved(one, bob, ann)
      await store.openStint(one, ann, 'host')
      await store.openStint(one, bob, 'audience')
      await store.changeRole(one, bob, 'speaker')
      await store.changeRole(one, bob, 'audience')
      await store.openStint(two, ann, 'audience')
      await store.addConsent(one, ann, true, 1)
      await store.addConsent(one, ann, false, 2)
      await store.addConsent(one, bob, false, 3)
      await store.setRsvp(two, ann, true)
      const byUser = <T extends { user_id: number }>(rows: T[]) => [...rows].sort((x, y) => x.user_id - y.user_id)
      const all = await store.snapshot()
      expect(all.rooms.map((r) => r.id)).toEqual([one, two])
      expect(all.rooms[0]).toEqual((await store.byId(one))!)
      expect(all.people).toEqual([{ room_id: one, user_id: bob, kind: 'cohost' }])
      expect(all.removals).toEqual([{ room_id: one, user_id: bob }])
      expect(all.participation).toEqual([
        ...byUser([
          { room_id: one, user_id: ann, stage: 1 },
          { room_id: one, user_id: bob, stage: 1 },
        ]),
        { room_id: two, user_id: ann, stage: 0 },
      ])
      expect(all.consents).toEqual([{ room_id: one, user_id: ann }])
      expect(all.rsvps).toEqual([{ room_id: two, user_id: ann, going: 1 }])
      const only = await store.snapshot(two)
      expect(only).toEqual({
        rooms: [(await store.byId(two))!],
        people: [],
        removals: [],
        participation: [{ room_id: two, user_id: ann, stage: 0 }],
        consents: [],
        rsvps: [{ room_id: two, user_id: ann, going: 1 }],
      })
    })

    test('a transaction holds several calls and rolls them back as one', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const id = await store.transaction(async (tx) => {
        const id = await store.insert(newRoom(ann), tx)
        await store.addPerson(id, bob, 'invited', tx)
        await store.openStint(id, ann, 'host', tx)
        await store.changeRole(id, ann, 'moderator', tx)
        return id
      })
      expect(await store.person(id, bob)).toBe('invited')
      expect((await store.openStints(id)).map((s) => s.role)).toEqual(['moderator'])
      await expect(
        store.transaction(async (tx) => {
          await store.end(id, 'ended', tx)
          await store.setHost(id, bob, tx)
          throw new Error('no')
        }),
      ).rejects.toThrow('no')
      const row = (await store.byId(id))!
      expect([row.state, row.host_id]).toEqual(['live', ann])
      expect((await store.openStints(id)).length).toBe(1)
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteRoomsStore(gate)))
if (pg) contract('postgres', () => pgBackend(pg, 'store_rooms', (conn) => new PgRoomsStore(conn)))
else test.skip('rooms store on postgres (no Postgres here: see stderr)', () => {})
