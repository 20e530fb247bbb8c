// The replays store contract (server/replays/store.ts), one suite run twice: on SQLite (a real database file,
// migrated as the server does, through the gate) always, and on Postgres (a throwaway cluster,
// test/helpers/postgres.ts, migrated by migratePg) when it can start. Rows read back in one shape; the mix job's
// claim and end are conditional writes that exactly one caller wins; a withdrawal, a removal and an account's erasure
// each change several tables as one. Users and rooms are other domains' tables: written here directly, as fixtures.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type MixedReplay, type ReplaysStore, SqliteReplaysStore } from '../../server/replays/store'
import { PgReplaysStore } from '../../server/replays/store-pg'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { type Backend, pgBackend, removeSqliteDirs, sqliteBackend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

const mixed = (over: Partial<MixedReplay> = {}): MixedReplay => ({
  path: 'replays/1.opus',
  bytes: 123_456,
  durationMs: 61_000,
  chapters: [{ startMs: 0, title: 'ann', kind: 'speaker', userId: 1 }],
  timeline: [{ at: 1_700_000_000_000, ms: 0, len: 61_000 }],
  speakers: [1],
  ...over,
})

function contract(name: string, make: () => Promise<Backend<ReplaysStore>>) {
  describe(`replays store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[RP30] a pending replay reads back whole, one per room; the mix is claimed once and ends once', async () => {
      const { store, addUser, addRoom } = await fresh()
      const ann = await addUser('ann')
      const room = await addRoom(ann)
      const id = (await store.insertPending(room, [7]))!
      expect(Number.isInteger(id)).toBe(true)
      expect(await store.insertPending(room, [])).toBeNull()
      const row = await store.byRoom(room)
      expect(row).toEqual({
        id,
        room_id: room,
        state: 'pending',
        progress: 0,
        path: null,
        bytes: 0,
        duration_ms: 0,
        chapters: '[]',
        timeline: '[]',
        speakers: '[]',
        left_out: '[7]',
        error: null,
        created_at: row!.created_at,
        ready_at: null,
      })
      expect((await store.nextPending())?.id).toBe(id)
      const claims = await Promise.all([store.claim(id), store.claim(id), store.claim(id)])
      expect(claims.filter(Boolean)).toHaveLength(1)
      expect(await store.nextPending()).toBeNull()
      await store.setProgress(id, 0.5)
      expect((await store.byId(id))?.progress).toBe(0.5)
      const m = mixed({ speakers: [ann] })
      expect(await store.finishMix(id, m, [7])).toBe(true)
      expect(await store.finishMix(id, m, [7])).toBe(false)
      expect(await store.failMix(id, 'too late', [])).toBe(false)
      await store.setProgress(id, 0.1) // only while mixing: a late progress does not undo the end
      const ready = (await store.byId(id))!
      expect(ready).toMatchObject({ state: 'ready', progress: 1, path: m.path, bytes: 123_456, duration_ms: 61_000 })
      expect(JSON.parse(ready.chapters)).toEqual(m.chapters)
      expect(JSON.parse(ready.timeline)).toEqual(m.timeline)
      expect(JSON.parse(ready.speakers)).toEqual([ann])
      expect(ready.ready_at).toBeGreaterThan(0)
      expect((await store.ready(10)).map((r) => r.id)).toEqual([id])
      expect((await store.recent(10)).map((r) => r.id)).toEqual([id])
    })

    test('[RP31] [RP68] a mix left under way is pending again at the start; a failed one is tried again', async () => {
      const { store, addUser, addRoom } = await fresh()
      const ann = await addUser('ann')
      const id = (await store.insertPending(await addRoom(ann), []))!
      expect(await store.claim(id)).toBe(true)
      await store.requeueMixing()
      expect((await store.byId(id))?.state).toBe('pending')
      expect(await store.claim(id)).toBe(true)
      expect(await store.failMix(id, 'nothing to mix', [ann])).toBe(true)
      expect(await store.byId(id)).toMatchObject({ state: 'failed', error: 'nothing to mix', left_out: `[${ann}]` })
      // [RP68] Tried again: pending, the error cleared; only a failed one.
      expect(await store.retry(id)).toBe(true)
      expect(await store.byId(id)).toMatchObject({ state: 'pending', error: null })
      expect(await store.retry(id)).toBe(false)
    })

    test('[RP62] a withdrawal: the row, the replay pending again without them, their clips gone, as one', async () => {
      const { store, addUser, addRoom } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const id = (await store.insertPending(await addRoom(ann), []))!
      await store.setMixed(id, mixed({ speakers: [ann, bob] }))
      const clip = (slug: string, speakers: number[]) =>
        store.insertClip({
          slug,
          replay_id: id,
          user_id: ann,
          title: 'A moment',
          start_ms: 1000,
          duration_ms: 5000,
          path: `replays/clips/${slug}.opus`,
          bytes: 900,
          speakers: JSON.stringify(speakers),
        })
      const withBob = await clip('with-bob', [ann, bob])
      const annOnly = await clip('ann-only', [ann])
      expect(withBob).toMatchObject({ slug: 'with-bob', replay_id: id, user_id: ann, start_ms: 1000, bytes: 900 })
      expect(await store.clipBySlug('with-bob')).toEqual(withBob)
      const gone = await store.withdraw(id, bob)
      expect(gone.map((c) => c.slug)).toEqual(['with-bob'])
      expect((await store.clipsOf(id)).map((c) => c.slug)).toEqual([annOnly.slug])
      expect(await store.withdrawn(id)).toEqual([bob])
      expect(await store.byId(id)).toMatchObject({ state: 'pending', path: null, bytes: 0, left_out: `[${bob}]` })
      // Twice is once.
      await store.withdraw(id, bob)
      expect(await store.withdrawn(id)).toEqual([bob])
      expect(JSON.parse((await store.byId(id))!.left_out)).toEqual([bob])
    })

    test('[RP66] erasing a member: withdrawn where recorded, their tracks, clips and feed gone, as one', async () => {
      const { store, addUser, addRoom } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const room = await addRoom(ann)
      await store.openTrack(room, ann, `recordings/${room}/${ann}.cap`, 8)
      await store.openTrack(room, bob, `recordings/${room}/${bob}.cap`, 8)
      await store.trackWritten(room, bob, 4096)
      expect((await store.tracks(room)).map((t) => [t.user_id, t.bytes])).toEqual([
        [ann, 8],
        [bob, 4096],
      ])
      const id = (await store.insertPending(room, []))!
      await store.setMixed(id, mixed({ path: `replays/${id}.opus`, speakers: [ann, bob] }))
      await store.insertClip({
        slug: 'bobs-cut',
        replay_id: id,
        user_id: bob,
        title: '',
        start_ms: 0,
        duration_ms: 1000,
        path: 'replays/clips/bobs-cut.opus',
        bytes: 10,
        speakers: JSON.stringify([ann]),
      })
      await store.setFeed(bob, 'hash-of-bobs-secret')
      expect(await store.feedOwner('hash-of-bobs-secret')).toBe(bob)
      const { files, remix } = await store.eraseMember(bob)
      expect(remix).toBe(true)
      expect(files.sort()).toEqual(
        [`recordings/${room}/${bob}.cap`, `replays/${id}.opus`, 'replays/clips/bobs-cut.opus'].sort(),
      )
      expect((await store.tracks(room)).map((t) => t.user_id)).toEqual([ann])
      expect(await store.withdrawn(id)).toEqual([bob])
      expect(await store.clipsOf(id)).toEqual([])
      expect(await store.feedOwner('hash-of-bobs-secret')).toBeNull()
      // Nothing left to do a second time.
      expect(await store.eraseMember(bob)).toEqual({ files: [], remix: false })
    })

    test('[RP50][RP64][RP65] feeds replace their secret; old replays are found; removal takes the tracks', async () => {
      const { store, addUser, addRoom } = await fresh()
      const ann = await addUser('ann')
      expect(await store.feedCreatedAt(ann)).toBeNull()
      await store.setFeed(ann, 'first')
      await store.setFeed(ann, 'second')
      expect(await store.feedOwner('first')).toBeNull()
      expect(await store.feedOwner('second')).toBe(ann)
      expect(await store.feedCreatedAt(ann)).toBeGreaterThan(0)
      await store.removeFeed(ann)
      expect(await store.feedOwner('second')).toBeNull()

      const room = await addRoom(ann)
      await store.openTrack(room, ann, 'recordings/x.cap', 100)
      const id = (await store.insertPending(room, []))!
      await store.setMixed(id, mixed({ bytes: 1000 }), Date.now() - 10 * 86_400_000)
      expect((await store.olderThan(Date.now() - 86_400_000)).map((r) => r.id)).toEqual([id])
      expect(await store.olderThan(Date.now() - 30 * 86_400_000)).toEqual([])
      expect(await store.disk()).toEqual({
        replays: { n: 1, bytes: 1000 },
        clips: { n: 0, bytes: 0 },
        recordings: { n: 1, bytes: 100 },
      })
      await store.remove((await store.byId(id))!)
      expect(await store.byId(id)).toBeNull()
      expect(await store.tracks(room)).toEqual([])
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteReplaysStore(gate)))
if (pg) contract('postgres', () => pgBackend(pg, 'store_replays', (conn) => new PgReplaysStore(conn)))
else test.skip('replays store on postgres (no Postgres here: see stderr)', () => {})
