// The push store contract (server/push/store.ts: devices, each member's choices, reminders sent), one suite run on
// SQLite always and on Postgres when the throwaway cluster starts (test/helpers/stores.ts). An endpoint changes hands
// only with its keys; a reminder is marked sent once, however many nodes try at once.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SqlitePushStore, type NewSubscription, type PushStore } from '../../server/push/store'
import { PgPushStore } from '../../server/push/store-pg'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { pgBackend, removeSqliteDirs, sqliteBackend, type Backend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

const device = (userId: number, path: string, over: Partial<NewSubscription> = {}): NewSubscription => ({
  userId,
  endpoint: `https://push.example${path}`,
  p256dh: `key-${path}`,
  auth: `auth-${path}`,
  userAgent: 'test',
  ...over,
})

function contract(name: string, make: () => Promise<Backend<PushStore>>) {
  describe(`push store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] a device reads back whole by member and by endpoint; who has devices; counts', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      await addUser('cid')
      const before = Date.now()
      const id = (await store.upsert(device(ann, '/phone')))!
      const row = await store.byEndpoint('https://push.example/phone')
      expect(row).toEqual({
        id,
        user_id: ann,
        endpoint: 'https://push.example/phone',
        p256dh: 'key-/phone',
        auth: 'auth-/phone',
        user_agent: 'test',
        created_at: expect.any(Number),
        last_used_at: null,
      })
      expect(row!.created_at).toBeGreaterThanOrEqual(before)
      const laptop = (await store.upsert(device(ann, '/laptop')))!
      await store.upsert(device(ben, '/ben'))
      expect((await store.byUser(ann)).map((r) => r.id)).toEqual([id, laptop])
      expect(await store.byEndpoint('https://push.example/none')).toBeNull()
      expect(await store.usersWithDevices()).toEqual([ann, ben])
      expect(await store.count()).toBe(3)
      await store.used(id)
      expect((await store.byEndpoint('https://push.example/phone'))!.last_used_at).toBeGreaterThanOrEqual(before)
    })

    test('[H70] an endpoint changes hands only with its keys (one browser); its member may renew them', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const id = (await store.upsert(device(ann, '/d')))!
      // Another member with other keys: refused, nothing changes.
      expect(await store.upsert(device(ben, '/d', { p256dh: 'other' }))).toBeNull()
      expect((await store.byEndpoint('https://push.example/d'))!.user_id).toBe(ann)
      // Ann renews her keys: the same row.
      expect(await store.upsert(device(ann, '/d', { p256dh: 'renewed' }))).toBe(id)
      // Ben with the same keys (the browser changed hands): his now.
      expect(await store.upsert(device(ben, '/d', { p256dh: 'renewed' }))).toBe(id)
      expect((await store.byUser(ann)).length).toBe(0)
      expect((await store.byUser(ben)).map((r) => r.id)).toEqual([id])
    })

    test('[H70] removing: by endpoint (the member’s own only), by id, every device of a member', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const a1 = (await store.upsert(device(ann, '/a1')))!
      await store.upsert(device(ann, '/a2'))
      await store.upsert(device(ann, '/a3'))
      await store.upsert(device(ben, '/b1'))
      expect(await store.remove(ben, 'https://push.example/a2')).toBe(false)
      expect(await store.remove(ann, 'https://push.example/a2')).toBe(true)
      expect(await store.remove(ann, 'https://push.example/a2')).toBe(false)
      expect(await Promise.all([store.removeId(a1), store.removeId(a1)])).toContain(false)
      expect(await store.removeUser(ann)).toBe(1)
      expect(await store.byUser(ann)).toEqual([])
      expect(await store.usersWithDevices()).toEqual([ben])
    })

    test('[H70] choices per kind: on unless turned off; set again replaces', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      expect(await store.prefs(ann)).toEqual([])
      expect(await store.enabled(ann, 'dm')).toBe(true)
      await store.setPref(ann, 'dm', false)
      await store.setPref(ann, 'activity', false)
      await store.setPref(ann, 'activity', true)
      expect(await store.enabled(ann, 'dm')).toBe(false)
      expect(await store.enabled(ann, 'activity')).toBe(true)
      expect(await store.prefs(ann)).toEqual([
        { kind: 'activity', enabled: true },
        { kind: 'dm', enabled: false },
      ])
    })

    test('[H70] markReminded is true once per room, lead and start time, also when many try at once', async () => {
      const { store } = await fresh()
      const marks = await Promise.all(
        Array.from({ length: 8 }, () => store.transaction((tx) => store.markReminded(5, 'soon', 1000, tx))),
      )
      expect(marks.filter(Boolean)).toHaveLength(1)
      expect(await store.markReminded(5, 'soon', 1000)).toBe(false)
      expect(await store.markReminded(5, 'start', 1000)).toBe(true)
      expect(await store.markReminded(5, 'soon', 2000)).toBe(true) // moved: reminded again
      expect(await store.markReminded(6, 'soon', 1000)).toBe(true)
    })

    test('[H70] a transaction commits as one or rolls back; outside it, its writes are not seen', async () => {
      const { store, addUser, other } = await fresh()
      const ann = await addUser('ann')
      await store.transaction(async (tx) => {
        await store.upsert(device(ann, '/kept'), tx)
        await store.setPref(ann, 'dm', false, tx)
      })
      let hold!: () => void
      const held = new Promise<void>((r) => {
        hold = r
      })
      let inside!: () => void
      const started = new Promise<void>((r) => {
        inside = r
      })
      const failed = store.transaction(async (tx) => {
        await store.upsert(device(ann, '/lost'), tx)
        await store.removeUser(ann, tx)
        inside()
        await held
        throw new Error('refused')
      })
      await started
      const seen = store.byUser(ann)
      hold()
      await expect(failed).rejects.toThrow('refused')
      expect((await seen).map((r) => r.endpoint)).toEqual(['https://push.example/kept'])
      expect((await store.byUser(ann)).map((r) => r.endpoint)).toEqual(['https://push.example/kept'])
      expect(await store.enabled(ann, 'dm')).toBe(false)
      await expect(other.transaction((tx) => store.count(tx))).rejects.toThrow('another database')
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqlitePushStore(gate)))
describe.skipIf(!pg)('postgres', () => {
  contract('postgres', () => pgBackend(pg!, 'store_push', (conn) => new PgPushStore(conn)))
})
