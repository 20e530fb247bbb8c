// The activity store contract (server/activity/store.ts: the inbox), one suite run on SQLite always and on Postgres
// when the throwaway cluster starts (test/helpers/stores.ts): one item per cause (also when added at once), pages,
// unread counts, reads that say whether they changed anything, pruning.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SqliteActivityStore, type ActivityStore, type NewActivity } from '../../server/activity/store'
import { PgActivityStore } from '../../server/activity/store-pg'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { pgBackend, removeSqliteDirs, sqliteBackend, type Backend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

const item = (over: Partial<NewActivity> = {}): NewActivity => ({
  kind: 'follower',
  actorId: null,
  text: 'started following you',
  detail: '',
  url: '/u/ann',
  dedupe: `d:${Math.random()}`,
  ...over,
})

function contract(name: string, make: () => Promise<Backend<ActivityStore>>) {
  describe(`activity store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] an item reads back whole; one per cause (dedupe), also when added many times at once', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const before = Date.now()
      const a = item({ actorId: ben, detail: 'hi', dedupe: 'follower:ben' })
      const rows = await Promise.all(Array.from({ length: 6 }, () => store.insert(ann, a)))
      const row = rows.find((r) => r !== null)!
      expect(rows.filter((r) => r !== null)).toHaveLength(1)
      expect(row).toEqual({
        id: expect.any(Number),
        user_id: ann,
        kind: 'follower',
        actor_id: ben,
        text: 'started following you',
        detail: 'hi',
        url: '/u/ann',
        dedupe: 'follower:ben',
        created_at: expect.any(Number),
        read_at: null,
      })
      expect(row.created_at).toBeGreaterThanOrEqual(before)
      expect(await store.byId(ann, row.id)).toEqual(row)
      expect(await store.byId(ben, row.id)).toBeNull() // not ben's
      // The same cause for another member is another item.
      expect(await store.insert(ben, a)).not.toBeNull()
    })

    test('[H70] pages newest first below an id; unread counts; reads say whether they changed anything', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const ids: number[] = []
      for (let i = 0; i < 5; i++) ids.push((await store.insert(ann, item()))!.id)
      await store.insert(ben, item())
      expect((await store.page(ann, Number.MAX_SAFE_INTEGER, 3)).map((r) => r.id)).toEqual([ids[4], ids[3], ids[2]])
      expect((await store.page(ann, ids[2]!, 10)).map((r) => r.id)).toEqual([ids[1], ids[0]])
      expect(await store.unread(ann)).toBe(5)
      const once = await Promise.all([store.readOne(ann, ids[4]!), store.readOne(ann, ids[4]!)])
      expect(once.filter(Boolean)).toHaveLength(1)
      expect(await store.readOne(ben, ids[3]!)).toBe(false) // not ben's
      expect(await store.unread(ann)).toBe(4)
      expect((await store.byId(ann, ids[4]!))!.read_at).toBeGreaterThan(0)
      expect(await store.readUpTo(ann, ids[2]!)).toBe(3)
      expect(await store.readUpTo(ann, ids[2]!)).toBe(0)
      expect(await store.unread(ann)).toBe(1)
      expect(await store.unread(ben)).toBe(1)
    })

    test('[H70] prune forgets items older than a time', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const old = (await store.insert(ann, item()))!
      while (Date.now() <= old.created_at); // the next item is a millisecond later at least
      const kept = (await store.insert(ann, item()))!
      const cut = kept.created_at
      expect(await store.prune(cut)).toBe(1)
      expect((await store.page(ann, Number.MAX_SAFE_INTEGER, 10)).map((r) => r.id)).toEqual([kept.id])
    })

    test('[H70] a transaction commits as one or rolls back; outside it, its writes are not seen', async () => {
      const { store, addUser, other } = await fresh()
      const ann = await addUser('ann')
      const kept = await store.transaction(async (tx) => {
        const r = (await store.insert(ann, item({ dedupe: 'kept' }), tx))!
        await store.readOne(ann, r.id, tx)
        return r
      })
      expect((await store.byId(ann, kept.id))!.read_at).not.toBeNull()
      let hold!: () => void
      const held = new Promise<void>((r) => {
        hold = r
      })
      let inside!: () => void
      const started = new Promise<void>((r) => {
        inside = r
      })
      const failed = store.transaction(async (tx) => {
        await store.insert(ann, item({ dedupe: 'lost' }), tx)
        inside()
        await held
        throw new Error('refused')
      })
      await started
      const seen = store.unread(ann)
      hold()
      await expect(failed).rejects.toThrow('refused')
      expect(await seen).toBe(0)
      expect(await store.page(ann, Number.MAX_SAFE_INTEGER, 10)).toHaveLength(1)
      // The lost item's cause is free again.
      expect(await store.insert(ann, item({ dedupe: 'lost' }))).not.toBeNull()
      await expect(other.transaction((tx) => store.unread(ann, tx))).rejects.toThrow('another database')
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteActivityStore(gate)))
describe.skipIf(!pg)('postgres', () => {
  contract('postgres', () => pgBackend(pg!, 'store_activity', (conn) => new PgActivityStore(conn)))
})
