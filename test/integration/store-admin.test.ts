// The admin store contract (server/admin/store.ts: reports, password-reset links, the audit log), one suite run on
// SQLite always and on Postgres when the throwaway cluster starts (test/helpers/stores.ts). Writes that race say
// whether they won: one open report per reporter and target, a reset link used once, a report's status before.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { SqliteAdminStore, type AdminStore } from '../../server/admin/store'
import { PgAdminStore } from '../../server/admin/store-pg'
import { hashToken, newToken } from '../../server/lib/crypto'
import { TEST_LIMIT } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { pgBackend, removeSqliteDirs, sqliteBackend, type Backend, freshBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

function contract(name: string, make: () => Promise<Backend<AdminStore>>) {
  describe(`admin store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[H70] a report reads back whole; one open report per reporter and target, also sent at once', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const before = Date.now()
      const report = { reporterId: ann, targetType: 'member' as const, targetId: ben, reason: 'spam' }
      const ids = await Promise.all(Array.from({ length: 6 }, () => store.insertReport(report)))
      const id = ids.find((x) => x !== null)!
      expect(ids.filter((x) => x !== null)).toHaveLength(1)
      expect(Number.isInteger(id)).toBe(true)
      const row = await store.report(id)
      expect(row).toEqual({
        id,
        reporter_id: ann,
        target_type: 'member',
        target_id: ben,
        reason: 'spam',
        status: 'open',
        created_at: expect.any(Number),
        handled_by: null,
        handled_at: null,
        note: '',
      })
      expect(row!.created_at).toBeGreaterThanOrEqual(before)
      expect(await store.report(id + 1000)).toBeNull()
      // Another target, or another reporter, is another report.
      expect(await store.insertReport({ ...report, targetType: 'room' })).toBeNumber()
      expect(await store.insertReport({ ...report, reporterId: ben, targetId: ann })).toBeNumber()
      expect(await store.openReports()).toBe(3)
    })

    test('[H70] handleReport returns the report as it was; of two admins at once, one sees it open', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const admin1 = await addUser('admin1')
      const admin2 = await addUser('admin2')
      const id = (await store.insertReport({ reporterId: ann, targetType: 'room', targetId: 9, reason: 'loud' }))!
      const [x, y] = await Promise.all([
        store.transaction((tx) => store.handleReport(id, 'resolved', admin1, 'warned', tx)),
        store.transaction((tx) => store.handleReport(id, 'resolved', admin2, 'warned too', tx)),
      ])
      expect([x!.status, y!.status].sort()).toEqual(['open', 'resolved'])
      const now = (await store.report(id))!
      expect(now.status).toBe('resolved')
      expect(now.handled_at).toBeGreaterThan(0)
      expect([admin1, admin2]).toContain(now.handled_by!)
      expect(await store.openReports()).toBe(0)
      expect(await store.handleReport(id + 1000, 'dismissed', admin1, '')).toBeNull()
      // Resolved, the same reporter may report the target again.
      expect(
        await store.insertReport({ reporterId: ann, targetType: 'room', targetId: 9, reason: 'again' }),
      ).toBeNumber()
    })

    test('[H70] reports by status, newest first, at most `limit`', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const admin = await addUser('admin')
      const ids: number[] = []
      for (let i = 1; i <= 4; i++)
        ids.push((await store.insertReport({ reporterId: ann, targetType: 'message', targetId: i, reason: 'r' }))!)
      await store.handleReport(ids[1]!, 'dismissed', admin, '')
      expect((await store.reports('all', 10)).map((r) => r.id)).toEqual([...ids].reverse())
      expect((await store.reports('open', 10)).map((r) => r.id)).toEqual([ids[3], ids[2], ids[0]])
      expect((await store.reports('dismissed', 10)).map((r) => r.id)).toEqual([ids[1]])
      expect((await store.reports('all', 2)).map((r) => r.id)).toEqual([ids[3], ids[2]])
    })

    test('[H70] a reset link reads back by its hash and is used once, also when used twice at once', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const admin = await addUser('admin')
      const tokenHash = hashToken(newToken())
      const expiresAt = Date.now() + 3_600_000
      const id = await store.insertReset({ userId: ann, tokenHash, createdBy: admin, expiresAt })
      const row = await store.resetByHash(tokenHash)
      expect(row).toEqual({
        id,
        user_id: ann,
        token_hash: tokenHash,
        created_by: admin,
        created_at: expect.any(Number),
        expires_at: expiresAt,
        used_at: null,
      })
      expect(row!.token_hash).toBeInstanceOf(Uint8Array)
      expect(await store.resetByHash(hashToken('nobody has this'))).toBeNull()
      const used = await Promise.all([store.useReset(id), store.useReset(id)])
      expect(used.filter(Boolean)).toHaveLength(1)
      expect((await store.resetByHash(tokenHash))!.used_at).toBeGreaterThan(0)
      expect(await store.useReset(id)).toBe(false)
    })

    test('[H70] expireResets spends every unused link of a member, in a transaction with a new one', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const ben = await addUser('ben')
      const link = (userId: number) => ({
        userId,
        tokenHash: hashToken(newToken()),
        createdBy: null,
        expiresAt: Date.now() + 60_000,
      })
      const a1 = link(ann)
      const a2 = link(ann)
      const b1 = link(ben)
      for (const l of [a1, a2, b1]) await store.insertReset(l)
      const a3 = link(ann)
      const expired = await store.transaction(async (tx) => {
        const n = await store.expireResets(ann, tx)
        await store.insertReset(a3, tx)
        return n
      })
      expect(expired).toBe(2)
      expect((await store.resetByHash(a1.tokenHash))!.used_at).not.toBeNull()
      expect((await store.resetByHash(a2.tokenHash))!.used_at).not.toBeNull()
      expect((await store.resetByHash(a3.tokenHash))!.used_at).toBeNull()
      expect((await store.resetByHash(b1.tokenHash))!.used_at).toBeNull()
      // Rolled back: the links stay as they were.
      const failed = store.transaction(async (tx) => {
        await store.expireResets(ann, tx)
        throw new Error('refused')
      })
      await expect(failed).rejects.toThrow('refused')
      expect((await store.resetByHash(a3.tokenHash))!.used_at).toBeNull()
    })

    test('[H70] the audit log: newest first, before an id, by prefix (case ignored, % and _ literal)', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const e = (action: string, actorId: number | null = ann) =>
        store.insertAudit({ actorId, action, targetType: 'member', targetId: '7', details: '{"a":1}' })
      const ids = [await e('member.ban'), await e('member.unban', null), await e('report.resolve'), await e('member_x')]
      const all = await store.audit(Number.MAX_SAFE_INTEGER, '', 10)
      expect(all.map((r) => r.id)).toEqual([...ids].reverse())
      expect(all.at(-1)).toEqual({
        id: ids[0],
        actor_id: ann,
        action: 'member.ban',
        target_type: 'member',
        target_id: '7',
        details: '{"a":1}',
        created_at: expect.any(Number),
      })
      expect(all[2]!.actor_id).toBeNull()
      expect((await store.audit(Number.MAX_SAFE_INTEGER, 'member.', 10)).map((r) => r.action)).toEqual([
        'member.unban',
        'member.ban',
      ])
      expect((await store.audit(Number.MAX_SAFE_INTEGER, 'MEMBER.B', 10)).map((r) => r.action)).toEqual(['member.ban'])
      expect((await store.audit(Number.MAX_SAFE_INTEGER, 'member_', 10)).map((r) => r.action)).toEqual(['member_x'])
      expect((await store.audit(Number.MAX_SAFE_INTEGER, '%', 10)).map((r) => r.action)).toEqual([])
      expect((await store.audit(ids[2]!, '', 10)).map((r) => r.id)).toEqual([ids[1], ids[0]])
      expect((await store.audit(Number.MAX_SAFE_INTEGER, '', 1)).map((r) => r.id)).toEqual([ids[3]])
    })

    test('[H70] outside an open transaction its writes are not seen; another database is refused', async () => {
      const { store, other, addUser } = await fresh()
      const ann = await addUser('ann')
      let hold!: () => void
      const held = new Promise<void>((r) => {
        hold = r
      })
      let inside!: () => void
      const started = new Promise<void>((r) => {
        inside = r
      })
      const tx = store.transaction(async (tx) => {
        await store.insertReport({ reporterId: ann, targetType: 'room', targetId: 1, reason: 'x' }, tx)
        inside()
        await held
        throw new Error('rolled back')
      })
      await started
      const seen = store.openReports()
      hold()
      await expect(tx).rejects.toThrow('rolled back')
      expect(await seen).toBe(0)
      expect(await store.openReports()).toBe(0)
      await expect(other.transaction((t) => store.openReports(t))).rejects.toThrow('another database')
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteAdminStore(gate)))
describe.skipIf(!pg)('postgres', () => {
  contract('postgres', () => pgBackend(pg!, 'store_admin', (conn) => new PgAdminStore(conn)))
})
