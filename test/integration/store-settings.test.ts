// The settings store contract (server/settings/store.ts), one suite run on SQLite always and on Postgres when the
// throwaway cluster starts (test/helpers/stores.ts), and SettingsService over it: loaded once, read from memory,
// written through the store, and loaded again (listeners told) when another node says it changed.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { loadConfig } from '../../server/config'
import { SettingsService, type Settings } from '../../server/settings'
import { SqliteSettingsStore, type SettingsStore } from '../../server/settings/store'
import { PgSettingsStore } from '../../server/settings/store-pg'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { pgBackend, removeSqliteDirs, sqliteBackend, type Backend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

const config = loadConfig({ DATA_DIR: '/nonexistent', REGISTRATION: 'invite', INVITE_QUOTA: '3' })

function contract(name: string, make: () => Promise<Backend<SettingsStore>>) {
  describe(`settings store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] values by key: set writes or replaces, get and all read them back', async () => {
      const { store } = await fresh()
      expect(await store.all()).toEqual([])
      expect(await store.get('guests')).toBeNull()
      await store.set('guests', 'true')
      await store.set('inviteQuota', '5')
      await store.set('guests', 'false')
      expect(await store.get('guests')).toBe('false')
      expect(await store.all()).toEqual([
        { key: 'guests', value: 'false' },
        { key: 'inviteQuota', value: '5' },
      ])
    })

    test('[H70] setIfAbsent writes once: of many at once, one wins and every later get reads its value', async () => {
      const { store } = await fresh()
      const won = await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.transaction((tx) => store.setIfAbsent('vapid', `k${i}`, tx))),
      )
      expect(won.filter(Boolean)).toHaveLength(1)
      expect(await store.get('vapid')).toBe(`k${won.indexOf(true)}`)
      expect(await store.setIfAbsent('vapid', 'later')).toBe(false)
      expect(await store.get('vapid')).toBe(`k${won.indexOf(true)}`)
    })

    test('[H70] a transaction commits as one or rolls back; a statement outside does not see it', async () => {
      const { store, other } = await fresh()
      await store.transaction(async (tx) => {
        await store.set('a', '1', tx)
        await store.set('b', '2', tx)
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
        await store.set('a', 'lost', tx)
        inside()
        await held
        throw new Error('refused')
      })
      await started
      const seen = store.get('a')
      const written = store.set('c', '3')
      hold()
      await expect(failed).rejects.toThrow('refused')
      expect(await seen).toBe('1')
      await written
      expect(await store.all()).toEqual([
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'c', value: '3' },
      ])
      await expect(other.transaction((tx) => store.set('d', '4', tx))).rejects.toThrow('another database')
    })

    test('[H70] the service: config defaults, get() from memory, update writes and tells listeners', async () => {
      const { store } = await fresh()
      const settings = new SettingsService(store, config)
      expect(() => settings.get()).toThrow('before load()')
      await store.set('guests', 'true')
      await settings.load()
      expect(settings.get()).toMatchObject({ registration: 'invite', inviteQuota: 3, guests: true, recording: true })
      const heard: [Partial<Settings>, Partial<Settings>][] = []
      settings.onChange((now, before) => heard.push([{ guests: now.guests }, { guests: before.guests }]))
      let commits = 0
      settings.onCommit(() => commits++)
      await settings.update({ guests: false, maxVideoMb: 7 })
      expect(settings.get()).toMatchObject({ guests: false, maxVideoMb: 7 })
      expect(await store.get('maxVideoMb')).toBe('7')
      expect(heard).toEqual([[{ guests: false }, { guests: true }]])
      expect(commits).toBe(1)

      // Another node (another service on the same database) changes a setting; this one loads again.
      const elsewhere = new SettingsService(store, config)
      await elsewhere.load()
      await elsewhere.update({ guests: true })
      expect(settings.get().guests).toBe(false)
      await settings.load()
      expect(settings.get().guests).toBe(true)
      expect(heard.at(-1)).toEqual([{ guests: true }, { guests: false }])
      expect(commits).toBe(1) // a load is not this node's commit
      await settings.load() // nothing changed: nobody is told
      expect(heard).toHaveLength(2)
    })

    test('[H70] rawOrSet: the first value written is kept, whoever asks', async () => {
      const { store } = await fresh()
      const a = new SettingsService(store, config)
      const b = new SettingsService(store, config)
      const [x, y] = await Promise.all([
        a.rawOrSet('vapid_keys', () => 'from a'),
        b.rawOrSet('vapid_keys', () => 'from b'),
      ])
      expect(x).toBe(y)
      expect(await a.raw('vapid_keys')).toBe(x)
      expect(await a.rawOrSet('vapid_keys', () => 'again')).toBe(x)
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteSettingsStore(gate)))
describe.skipIf(!pg)('postgres', () => {
  contract('postgres', () => pgBackend(pg!, 'store_settings', (conn) => new PgSettingsStore(conn)))
})
