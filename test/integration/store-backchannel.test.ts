// The Backchannel store contract (server/backchannel/store.ts), one suite run twice: on SQLite (a real database
// file, migrated as the server does, through the gate) always, and on Postgres (a throwaway cluster,
// test/helpers/postgres.ts, migrated by migratePg) when it can start. What it holds to: a change takes its seqs
// inside its transaction and commits them in order (on Postgres across two nodes' pools at once, watched from a
// third), a rolled-back change leaves nothing and takes no seq, a retried client id and a second vote change nothing,
// members are read again after a change (on Postgres after another node's), and search finds a committed message
// only for those who may read it.
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type BackchannelStore, type EarlyFacts, SqliteBackchannelStore } from '../../server/backchannel/store'
import { type SendItem, SendQueue } from '../../server/backchannel/send'
import { PgBackchannelStore } from '../../server/backchannel/store-pg'
import type { Message } from '../../server/protocol'
import { TEST_LIMIT, until } from '../helpers/limits'
import { startPostgres } from '../helpers/postgres'
import { type Backend, freshBackend, pgBackend, removeSqliteDirs, sqliteBackend } from '../helpers/stores'

setDefaultTimeout(TEST_LIMIT)

const pg = await startPostgres()
afterAll(async () => {
  await pg?.stop()
  removeSqliteDirs()
})

/** A group with these members (active), made in one change; its id. */
async function group(store: BackchannelStore, members: number[], title = 'Plums') {
  return store.change(async (nextSeq, tx) => {
    const seq = nextSeq()
    const id = await store.insertThread('group', title, members[0] ?? null, null, null, seq, tx)
    for (const u of members) await store.upsertMember(id, u, 'active', seq, tx)
    return id
  })
}
/** Users added one after another; their ids, in the order named. */
async function users(addUser: (name: string) => Promise<number>, ...names: string[]) {
  const ids: number[] = []
  for (const n of names) ids.push(await addUser(n))
  return ids
}
/** One message in one change; its id and seq. */
function say(
  store: BackchannelStore,
  threadId: number,
  authorId: number,
  body: string,
  clientId: string = crypto.randomUUID(),
) {
  return store.change(async (nextSeq, tx) => {
    const seq = nextSeq()
    const id = await store.insertMessage({ threadId, authorId, clientId, body, image: null, replyTo: null, seq }, tx)
    return { id, seq }
  })
}

/**
 * A node's batched sends (server/backchannel/send.ts) straight on a store: the check is only the client id's (a
 * retry is answered with the stored message; `refuse` stands for the rules refusing a send); the answer is the
 * message's id, seq and client id.
 */
function sendQueue(store: BackchannelStore, refuse = (_clientId: string) => false) {
  const read = (i: SendItem) => ({ ...i, upload: null, replyTo: null })
  const answer = (id: number, seq: number, clientId: string) => ({ id, seq, clientId }) as Message
  return new SendQueue({
    change: (write, committed) => store.change(write, committed),
    check: async (item, tx) => (await store.sendFacts({ ...item, upload: null, replyTo: null }, tx)).stored,
    insert: (item, seq, at, tx) => store.insertMessage({ ...item, seq, at, touch: false }, tx),
    last: (threadId, id, seq, at, tx) => store.lastMessage(threadId, id, at, seq, tx),
    committed: async (id, item, seq) => answer(id, seq, item.clientId),
    stored: async (row) => answer(row.id, row.seq, row.client_id),
    // The batched path (Postgres's): the batch's client ids read at once (on Postgres first before the seq lock, then
    // what changed since under it), its messages and the threads' last ones in one insert.
    many: {
      read: store.sendFactsEarly && ((items) => store.sendFactsEarly!(items.map(read))),
      check: async (items, tx, early) =>
        (await store.sendFactsOf(items.map(read), tx, early as EarlyFacts | undefined)).map((f, i) =>
          refuse(items[i]!.clientId) ? { error: new Error('refused') } : { stored: f.stored },
        ),
      insert: (rows, at, tx) =>
        store.insertMessages(
          rows.map(({ item, seq }) => ({ ...item, seq, at })),
          tx,
          true,
        ),
    },
    logError: () => {},
  })
}

function contract(name: string, make: () => Promise<Backend<BackchannelStore>>) {
  describe(`backchannel store on ${name}`, () => {
    const fresh = freshBackend(make)

    test('[B6][B50][B51] a change takes its seqs in its transaction; a rollback leaves nothing, no seq', async () => {
      const { store, addUser } = await fresh()
      const ann = await addUser('ann')
      const bob = await addUser('bob')
      const start = await store.seq()
      const id = await group(store, [ann, bob])
      expect(await store.seq()).toBe(start + 1)
      const t = (await store.thread(id))!
      expect([t.kind, t.title, t.creator_id, t.last_seq, t.meta_seq, t.chat_enabled]).toEqual([
        'group',
        'Plums',
        ann,
        start + 1,
        start + 1,
        1,
      ])
      expect(await store.thread(id + 1000)).toBeNull()

      // `committed` runs after the commit, with what `write` returned; its result is change()'s.
      const seen: number[] = []
      const out = await store.change(
        async (nextSeq, tx) => {
          const a = nextSeq()
          const b = nextSeq()
          await store.renameThread(id, 'Damsons', a, tx)
          await store.touchThread(id, b, tx)
          return [a, b]
        },
        async (seqs) => {
          seen.push(await store.seq())
          return seqs.join(',')
        },
      )
      expect(out).toBe(`${start + 2},${start + 3}`)
      expect(seen).toEqual([start + 3])
      expect((await store.thread(id))!.title).toBe('Damsons')

      // A failing change: nothing of it stays, its seqs are not taken, `committed` does not run, members re-read.
      let ran = false
      await expect(
        store.change(
          async (nextSeq, tx) => {
            const seq = nextSeq()
            await store.insertThread('group', 'lost', ann, null, null, seq, tx)
            await store.upsertMember(id, ann, 'left', seq, tx)
            expect((await store.members(id, tx)).get(ann)?.state).toBe('left')
            throw new Error('no')
          },
          () => {
            ran = true
          },
        ),
      ).rejects.toThrow('no')
      expect(ran).toBe(false)
      expect(await store.seq()).toBe(start + 3)
      expect((await store.members(id)).get(ann)?.state).toBe('active')
      expect((await store.inbox(ann)).map((r) => r.title)).toEqual(['Damsons'])
      // A change that takes no seq moves nothing; the next one takes the next seq.
      await store.change(async () => {})
      expect(await store.seq()).toBe(start + 3)
      expect((await say(store, id, ann, 'hello')).seq).toBe(start + 4)
      // A seq is taken only while its change is open; changes do not nest.
      let late: (() => number) | null = null
      await store.change((nextSeq) => {
        late = nextSeq
      })
      expect(() => late!()).toThrow('a seq is taken only inside a change')
      if (store.dialect === 'sqlite')
        await expect(store.change(() => store.change(() => 1))).rejects.toThrow('transactions do not nest')
    })

    test('[B6][B51] changes at once commit in the order of their seqs, every seq once', async () => {
      const { store, addUser, twin } = await fresh()
      const ann = await addUser('ann')
      const id = await group(store, [ann])
      const base = await store.seq()
      // Two nodes (on Postgres: two pools on one database), 40 sends at once, each in its own change.
      const nodes = twin ? [store, twin.store] : [store]
      const visible: number[][] = []
      let done = false
      // A third connection watches what is committed: always every seq up to the highest one it sees (a client that
      // synced to N never misses a seq below N).
      const watch = (async () => {
        if (!twin) return
        while (!done) {
          const rows = await twin.sql`SELECT seq FROM bc_messages WHERE thread_id = ${id} ORDER BY seq`
          visible.push(rows.map((r: { seq: unknown }) => Number(r.seq)))
        }
      })()
      const sent = await Promise.all(
        Array.from({ length: 40 }, (_, i) => say(nodes[i % nodes.length]!, id, ann, `plum ${i}`)),
      )
      done = true
      await watch
      const seqs = sent.map((s) => s.seq).sort((a, b) => a - b)
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => base + 1 + i))
      expect(await store.seq()).toBe(base + 40)
      if (twin) {
        expect(await twin.store.seq()).toBe(base + 40)
        expect(visible.length).toBeGreaterThan(0)
        for (const v of visible) expect(v).toEqual(Array.from({ length: v.length }, (_, i) => base + 1 + i))
      }
      // Messages read back in seq order after any seq.
      const after = await store.messagesAfterSeq(id, base + 30, 100)
      expect(after.map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => base + 31 + i))
    })

    if (name === 'postgres')
      test('[B51] another node’s change waits for the open one: a higher seq, visible after', async () => {
        const { store, addUser, twin } = await fresh()
        const ann = await addUser('ann')
        const id = await group(store, [ann])
        const base = await store.seq()
        let release!: () => void
        const held = new Promise<void>((r) => {
          release = r
        })
        let firstTaken = false
        const first = store.change(async (nextSeq, tx) => {
          const seq = nextSeq()
          await store.insertMessage(
            { threadId: id, authorId: ann, clientId: 'a', body: 'first', image: null, replyTo: null, seq },
            tx,
          )
          firstTaken = true
          await held
          return seq
        })
        await until(() => firstTaken, 'the first change to take its seq')
        const second = say(twin!.store, id, ann, 'second', 'b')
        // The second node's change waits on the counter's row lock, seen from a third connection.
        await until(
          async () =>
            (
              await twin!.sql`SELECT 1 FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%bc_counter%'`
            ).length === 1,
          'the second change to wait for the lock',
        )
        expect(await twin!.store.seq()).toBe(base)
        release()
        expect(await first).toBe(base + 1)
        expect((await second).seq).toBe(base + 2)
        expect(await store.seq()).toBe(base + 2)
      })

    if (name === 'postgres')
      test(
        '[B54] two nodes’ batches, one client id in both: ' + 'one message, both answered with it, the rest stored',
        async () => {
          const { store, addUser, twin } = await fresh()
          const [ann, bob] = [await addUser('ann'), await addUser('bob')]
          const id = await group(store, [ann, bob])
          const [a, b] = [sendQueue(store), sendQueue(twin!.store)]
          const send = (q: SendQueue, authorId: number, clientId: string) =>
            q.send({ threadId: id, authorId, clientId, body: clientId, image: null, replyTo: null })
          // Ann's tab retried on the other node: 'same' in both nodes' batches, which commit one after the other.
          const sent = await Promise.all([
            send(a, ann, 'a1'),
            send(a, ann, 'same'),
            send(a, bob, 'a2'),
            send(b, bob, 'b1'),
            send(b, ann, 'same'),
            send(b, ann, 'b2'),
          ])
          expect([a.commits, b.commits]).toEqual([1, 1])
          const rows = await store.messagesAfterSeq(id, 0, 100)
          expect(rows.map((r) => r.client_id).sort()).toEqual(['a1', 'a2', 'b1', 'b2', 'same'])
          const same = rows.find((r) => r.client_id === 'same')!
          expect([sent[1]!.id, sent[4]!.id]).toEqual([same.id, same.id])
          expect(new Set(sent.map((m) => m.id)).size).toBe(5)
        },
      )

    test('[B50][B55] a batch\u2019s facts read together, its messages inserted in one, ids in seq order', async () => {
      const { store, addUser } = await fresh()
      const [ann, bob, cat] = [await addUser('ann'), await addUser('bob'), await addUser('cat')]
      const plums = await group(store, [ann, bob])
      const figs = await group(store, [bob, cat], 'Figs')
      const { id: first } = await say(store, plums, ann, 'first', 'c-1')
      await store.insertUpload({ name: 'u1.png', thread_id: figs, user_id: cat, mime: 'image/png', size: 3 })
      const facts = await store.sendFactsOf([
        { threadId: plums, authorId: ann, clientId: 'c-1', upload: null, replyTo: null },
        { threadId: figs, authorId: cat, clientId: 'c-1', upload: 'u1.png', replyTo: first },
        { threadId: figs + 1000, authorId: bob, clientId: 'x', upload: 'nope.png', replyTo: first + 1000 },
      ])
      expect(facts.map((f) => f.stored?.id ?? null)).toEqual([first, null, null])
      expect(facts.map((f) => f.thread?.title ?? null)).toEqual(['Plums', 'Figs', null])
      expect(facts.map((f) => [...f.members.keys()].sort())).toEqual([[ann, bob].sort(), [bob, cat].sort(), []])
      expect(facts.map((f) => f.upload?.user_id ?? null)).toEqual([null, cat, null])
      expect(facts.map((f) => f.reply?.body ?? null)).toEqual([null, 'first', null])
      // The same facts as one send's read (sendFacts).
      expect(
        await store.sendFacts({ threadId: plums, authorId: ann, clientId: 'c-1', upload: null, replyTo: null }),
      ).toEqual(facts[0]!)

      const at = Date.now()
      const ids = await store.change(async (nextSeq, tx) => {
        const rows = [
          { threadId: figs, authorId: bob, clientId: 'n-1', body: 'it\u2019s "quoted" \\ \u{1f34e}', image: null },
          { threadId: plums, authorId: bob, clientId: 'n-2', body: 'two', image: null },
          { threadId: figs, authorId: cat, clientId: 'n-3', body: '', image: 'u1.png' },
        ].map((m) => ({ ...m, replyTo: m.clientId === 'n-2' ? first : null, seq: nextSeq(), at }))
        return (await store.insertMessages(rows, tx)).map((id, i) => ({ id, seq: rows[i]!.seq }))
      })
      expect(ids.map((r) => r.id)).toEqual([...ids.map((r) => r.id)].sort((a, b) => a - b))
      expect(ids[0]!.id).toBeGreaterThan(first)
      const got = [...(await store.messagesAfterSeq(figs, 0, 10)), ...(await store.messagesAfterSeq(plums, 0, 10))]
      const byId = new Map(got.map((m) => [m.id, m]))
      expect(ids.map((r) => byId.get(r.id)?.seq)).toEqual(ids.map((r) => r.seq))
      expect(ids.map((r) => byId.get(r.id)?.body)).toEqual(['it\u2019s "quoted" \\ \u{1f34e}', 'two', ''])
      expect([byId.get(ids[1]!.id)?.reply_to, byId.get(ids[2]!.id)?.image]).toEqual([first, 'u1.png'])
      expect(byId.get(ids[0]!.id)?.created_at).toBe(at)
      // The threads' last messages are the caller's: insertMessages leaves them alone.
      expect((await store.thread(plums))!.last_message_id).toBe(first)
      expect(await store.insertMessages([])).toEqual([])
    })

    test('[B55][B62] with `last`, the insert sets each thread\u2019s newest message and saves the seq', async () => {
      const { store, addUser } = await fresh()
      const [ann, bob] = [await addUser('ann'), await addUser('bob')]
      const plums = await group(store, [ann, bob])
      const figs = await group(store, [ann, bob], 'Figs')
      const at = Date.now()
      const out = await store.change(async (nextSeq, tx) => {
        const rows = [
          { threadId: plums, clientId: 'p-1' },
          { threadId: figs, clientId: 'f-1' },
          { threadId: plums, clientId: 'p-2' },
        ].map((m) => ({ ...m, authorId: ann, body: m.clientId, image: null, replyTo: null, seq: nextSeq(), at }))
        const ids = await store.insertMessages(rows, tx, true)
        return rows.map((r, i) => ({ id: ids[i]!, seq: r.seq }))
      })
      const [p, f] = [(await store.thread(plums))!, (await store.thread(figs))!]
      expect([p.last_message_id, p.last_seq, p.last_at]).toEqual([out[2]!.id, out[2]!.seq, at])
      expect([f.last_message_id, f.last_seq, f.last_at]).toEqual([out[1]!.id, out[1]!.seq, at])
      // The counter stands at the batch's last seq (saved once, with the insert on Postgres), and goes on from it.
      expect(await store.seq()).toBe(out[2]!.seq)
      expect((await say(store, plums, bob, 'next')).seq).toBe(out[2]!.seq + 1)
    })

    if (name === 'postgres')
      test('[B61] facts read before the seq lock are brought up to date under it', async () => {
        const { store, addUser, twin } = await fresh()
        const [ann, bob, cat, dan] = await users(addUser, 'ann', 'bob', 'cat', 'dan')
        const plums = await group(store, [ann, bob, cat])
        const figs = await group(store, [ann, bob], 'Figs')
        const { id: quoted } = await say(store, figs, bob, 'a fig')
        await store.insertUpload({ name: 'u1.png', thread_id: plums, user_id: ann, mime: 'image/png', size: 3 })
        const { id: shown } = await say(store, plums, cat, 'unchanged')
        const items = [
          { threadId: plums, authorId: ann, clientId: 'retried', upload: 'u1.png', replyTo: shown },
          { threadId: figs, authorId: bob, clientId: 'b-1', upload: null, replyTo: quoted },
        ]
        const early = await store.sendFactsEarly!(items)
        expect(early.at).toBe(await store.seq())
        // Between the early read and the lock, another node: Ann's retry stored there, Cat left, Dan joined, Figs
        // renamed, the quoted message edited, the upload's message deleted with it (a message of its own).
        const other = twin!.store
        const { id: img } = await other.change(async (nextSeq, tx) => {
          const seq = nextSeq()
          const id = await other.insertMessage(
            { threadId: plums, authorId: ann, clientId: 'retried', body: '', image: 'u1.png', replyTo: null, seq },
            tx,
          )
          return { id }
        })
        await other.change(async (nextSeq, tx) => other.setMemberState(plums, cat, 'left', nextSeq(), tx))
        await other.change(async (nextSeq, tx) => other.upsertMember(plums, dan, 'active', nextSeq(), tx))
        await other.change(async (nextSeq, tx) => other.renameThread(figs, 'Dates', nextSeq(), tx))
        await other.change(async (nextSeq, tx) => other.editMessage(quoted, figs, 'a date', nextSeq(), tx))
        await other.change(async (nextSeq, tx) =>
          other.deleteMessage({ id: img, thread_id: plums, image: 'u1.png' }, nextSeq(), tx),
        )

        const [late, now] = await store.change(async (_nextSeq, tx) => [
          await store.sendFactsOf(items, tx, early),
          await store.sendFactsOf(items, tx),
        ])
        // What changed is read again under the lock; what did not is early's: together, a fresh read's facts.
        expect(late).toEqual(now)
        expect(late[0]!.stored?.id).toBe(img)
        expect(late[0]!.members.get(cat)?.state).toBe('left')
        expect(late[0]!.members.get(dan)?.state).toBe('active')
        expect(late[0]!.members.get(ann)?.state).toBe('active')
        expect(late[0]!.upload).toBeNull()
        expect(late[0]!.reply?.body).toBe('unchanged')
        expect([late[1]!.thread?.title, late[1]!.reply?.body, late[1]!.stored]).toEqual(['Dates', 'a date', null])
        // Nothing changed since: the early facts stand as read.
        const again = await store.sendFactsEarly!(items)
        expect(await store.change(async (_nextSeq, tx) => store.sendFactsOf(items, tx, again))).toEqual(now)
      })

    test('[B55] a refused send in a batch gets its error; the others are stored, in seq order', async () => {
      const { store, addUser } = await fresh()
      const [ann, bob] = [await addUser('ann'), await addUser('bob')]
      const id = await group(store, [ann, bob])
      const q = sendQueue(store, (clientId) => clientId.startsWith('bad'))
      const send = (clientId: string) =>
        q.send({ threadId: id, authorId: ann, clientId, body: clientId, image: null, replyTo: null })
      const out = await Promise.allSettled([send('ok-1'), send('bad-1'), send('ok-2')])
      expect(out.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(q.commits).toBe(1)
      const rows = await store.messagesAfterSeq(id, 0, 10)
      expect(rows.map((r) => r.client_id)).toEqual(['ok-1', 'ok-2'])
      expect(rows[1]!.seq).toBe(rows[0]!.seq + 1)
      expect((await store.thread(id))!.last_message_id).toBe(rows[1]!.id)
    })

    test('[B50][B52] members are read again after a change, on any node', async () => {
      const { store, addUser, twin } = await fresh()
      const [ann, bob, cat] = [await addUser('ann'), await addUser('bob'), await addUser('cat')]
      const id = await group(store, [ann, bob])
      const m1 = await store.members(id)
      expect([...m1.keys()].sort()).toEqual([ann, bob].sort())
      expect(m1.get(bob)).toEqual({ user_id: bob, state: 'active', muted: 0 })
      await store.change(async (nextSeq, tx) => store.upsertMember(id, cat, 'request', nextSeq(), tx))
      expect((await store.members(id)).get(cat)?.state).toBe('request')
      await store.change(async (nextSeq, tx) => store.setMemberState(id, bob, 'left', nextSeq(), tx))
      await store.change(async (nextSeq, tx) => store.setMuted(id, ann, true, nextSeq(), tx))
      const m2 = await store.members(id)
      expect([m2.get(bob)?.state, m2.get(ann)?.muted]).toEqual(['left', 1])
      expect((await store.memberList(id)).map((m) => m.user_id)).toEqual([ann, cat])
      expect(await store.countMembers(id)).toBe(2)
      const meta = (await store.thread(id))!.meta_seq
      expect(meta).toBe((await store.seq()) - 1) // setMemberState changed the thread for everyone; muting did not
      if (twin) {
        // Another node changes a membership: this one reads it at once (Postgres keeps no member cache).
        await twin.store.change(async (nextSeq, tx) => twin.store.setMemberState(id, cat, 'active', nextSeq(), tx))
        expect((await store.members(id)).get(cat)?.state).toBe('active')
      }
      // The read mark only moves forward.
      const { id: msg } = await say(store, id, cat, 'hi')
      await store.change(async (nextSeq, tx) => store.setRead(id, ann, msg, nextSeq(), tx))
      await store.change(async (nextSeq, tx) => store.setRead(id, ann, msg - 1, nextSeq(), tx))
      expect((await store.member(id, ann))!.last_read_id).toBe(msg)
      expect(await store.unread(id, 0, ann)).toBe(1)
      expect(await store.unread(id, 0, cat)).toBe(0)
      const mine = (await store.myThread(ann, id))!
      expect([mine.my_state, mine.muted, mine.last_read_id, mine.last_message_id]).toEqual(['active', 1, msg, msg])
      expect((await store.changedThreads(ann, mine.last_seq - 1)).map((r) => r.id)).toEqual([id])
      expect(await store.changedThreads(ann, Math.max(mine.last_seq, mine.my_seq))).toEqual([])
    })

    test('[B7][B50] a retried client id stores nothing twice; edits, deletes and reactions take seqs', async () => {
      const { store, addUser } = await fresh()
      const [ann, bob] = [await addUser('ann'), await addUser('bob')]
      const id = await group(store, [ann, bob])
      const a = await say(store, id, ann, 'a plum', 'c1')
      const before = await store.seq()
      await expect(say(store, id, ann, 'a plum again', 'c1')).rejects.toThrow()
      expect(await store.seq()).toBe(before)
      const stored = (await store.messageByClient(ann, 'c1'))!
      expect([stored.id, stored.body, stored.seq, stored.thread_id, stored.author_id]).toEqual([
        a.id,
        'a plum',
        a.seq,
        id,
        ann,
      ])
      expect(await store.messageByClient(bob, 'c1')).toBeNull()
      // The same client id of another author is another message.
      const b = await say(store, id, bob, 'a damson', 'c1')
      expect((await store.history(id, b.id + 1, 10)).map((m) => m.id)).toEqual([b.id, a.id])
      expect((await store.history(id, b.id, 10)).map((m) => m.id)).toEqual([a.id])

      await store.change(async (nextSeq, tx) => store.editMessage(a.id, id, 'a ripe plum', nextSeq(), tx))
      const edited = (await store.message(a.id))!
      expect([edited.body, edited.seq, edited.edited_at !== null]).toEqual(['a ripe plum', await store.seq(), true])

      for (const [emoji, on] of [
        ['🍑', true],
        ['👍', true],
        ['👍', true],
        ['🍑', false],
      ] as const)
        await store.change(async (nextSeq, tx) => store.react(b.id, id, ann, emoji, on, nextSeq(), tx))
      await store.change(async (nextSeq, tx) => store.react(b.id, id, bob, '👍', true, nextSeq(), tx))
      expect(await store.reactions(b.id)).toEqual({ '👍': [ann, bob] })
      expect(await store.reactionKinds(b.id, ann)).toBe(1)
      const of = await store.reactionsOf([a.id, b.id])
      expect([of.get(a.id), of.get(b.id)]).toEqual([undefined, { '👍': [ann, bob] }])
      expect((await store.message(b.id))!.seq).toBe(await store.seq())

      // A deleted message's image goes with it (and a video's poster), unless another message still shows it.
      await store.insertUpload({
        name: 'v.mp4',
        thread_id: id,
        user_id: ann,
        mime: 'video/mp4',
        size: 10,
        kind: 'video',
      })
      await store.insertUpload({ name: 'p.png', thread_id: id, user_id: ann, mime: 'image/png', size: 5 })
      await store.change(async (nextSeq, tx) => {
        await store.insertUpload({ name: 'w.ogg', thread_id: id, user_id: ann, mime: 'audio/ogg', size: 3 }, tx)
        return nextSeq()
      })
      expect(await store.uploadedSince(ann, 0)).toBe(18)
      const withVideo = await store.change(async (nextSeq, tx) => {
        const seq = nextSeq()
        await store.insertUpload(
          { name: 'v2.mp4', thread_id: id, user_id: ann, mime: 'video/mp4', size: 1, kind: 'video', poster: 'p.png' },
          tx,
        )
        return store.insertMessage(
          { threadId: id, authorId: ann, clientId: 'v', body: '', image: 'v2.mp4', replyTo: null, seq },
          tx,
        )
      })
      expect((await store.upload('v2.mp4'))!.poster).toBe('p.png')
      const gone = await store.change(async (nextSeq, tx) =>
        store.deleteMessage({ id: withVideo, thread_id: id, image: 'v2.mp4' }, nextSeq(), tx),
      )
      expect(gone).toEqual(['v2.mp4', 'p.png'])
      expect([await store.upload('v2.mp4'), await store.upload('p.png')]).toEqual([null, null])
      const tomb = (await store.message(withVideo))!
      expect([tomb.body, tomb.image, tomb.deleted_at !== null]).toEqual(['', null, true])
      expect(await store.messageCounts(0)).toEqual({ messages: 2, since: 3 })
      expect((await store.thread(id))!.last_seq).toBe(await store.seq())
    })

    test('[B14][B50] a vote counts once, even two at once; questions sync by seq and come back staged', async () => {
      const { store, addUser, addRoom } = await fresh()
      const [ann, bob] = [await addUser('ann'), await addUser('bob')]
      const room = await addRoom(ann)
      const chat = await store.change(async (nextSeq, tx) =>
        store.insertThread('room_chat', 'A room', null, null, room, nextSeq(), tx),
      )
      expect((await store.threadByRoom(room, 'room_chat'))!.id).toBe(chat)
      expect(await store.threadByRoom(room, 'backstage')).toBeNull()
      const ask = (body: string, clientId: string) =>
        store.change(async (nextSeq, tx) =>
          store.insertQuestion({ threadId: chat, roomId: room, authorId: bob, clientId, body, seq: nextSeq() }, tx),
        )
      const q1 = await ask('Why plums?', 'q1')
      const q2 = await ask('Why damsons?', 'q2')
      await expect(ask('Again?', 'q1')).rejects.toThrow()
      expect((await store.questionByClient(bob, 'q1'))!.id).toBe(q1)
      const vote = (userId: number) =>
        store.change(async (nextSeq, tx) => {
          if (!(await store.addVote(q2, userId, tx))) return false
          await store.recountVotes(q2, chat, nextSeq(), tx)
          return true
        })
      expect((await Promise.all([vote(ann), vote(ann)])).sort()).toEqual([false, true])
      expect(await vote(bob)).toBe(true)
      expect(await vote(bob)).toBe(false)
      expect((await store.question(q2))!.votes).toBe(2)
      expect((await store.questions(chat)).map((q) => q.id)).toEqual([q2, q1])
      expect([...(await store.votedIn(chat, ann))]).toEqual([q2])
      const mark = await store.seq()
      await store.change(async (nextSeq, tx) => store.setQuestionState(q1, chat, 'answered', nextSeq(), tx))
      await store.change(async (nextSeq, tx) => store.stageQuestion(q2, chat, nextSeq(), tx))
      expect((await store.questionsAfterSeq(chat, mark, 10)).map((q) => [q.id, q.state])).toEqual([
        [q1, 'answered'],
        [q2, 'open'],
      ])
      expect(await store.stagedQuestions(room)).toEqual([
        { stagedAt: (await store.question(q2))!.staged_at!, body: 'Why damsons?', authorId: bob },
      ])
      // A room thread a member left stays in their rooms list (it has questions in it).
      await store.change(async (nextSeq, tx) => store.upsertMember(chat, ann, 'left', nextSeq(), tx))
      expect((await store.roomThreads(ann)).map((r) => r.id)).toEqual([chat])
      await store.change(async (nextSeq, tx) => store.setChat(chat, false, nextSeq(), tx))
      expect((await store.thread(chat))!.chat_enabled).toBe(0)
    })

    test('[B9][B49][B53] search finds a committed message at once, by its words now, where one may read', async () => {
      const { store, addUser, addRoom } = await fresh()
      const [ann, bob, cat, dan] = await users(addUser, 'ann', 'bob', 'cat', 'dan')
      const id = await group(store, [ann, bob])
      await store.change(async (nextSeq, tx) => store.upsertMember(id, cat, 'request', nextSeq(), tx))
      await store.change(async (nextSeq, tx) => store.upsertMember(id, dan, 'declined', nextSeq(), tx))
      const long =
        'the orchard behind the old mill has a greengage tree that gives sweet fruit every single August ' +
        'and September when the wasps have gone home for the year'
      const m = await say(store, id, bob, long)
      const other = await say(store, id, ann, 'Greengages, damsons and plums')
      const found = async (userId: number, words: string[]) => (await store.search(userId, words, 10)).map((r) => r.id)
      expect((await found(ann, ['greengage'])).sort()).toEqual([m.id, other.id].sort()) // the last word a prefix
      expect(await found(ann, ['greengage', 'tree'])).toEqual([m.id])
      expect(await found(ann, ['GREENGAGE', 'sweet'])).toEqual([m.id])
      expect(await found(ann, ['sweet', 'gre'])).toEqual([m.id])
      expect(await found(ann, ['orchardx'])).toEqual([])
      expect(await found(ann, [])).toEqual([])
      // Requests included; declined, left and strangers not.
      expect(await found(cat, ['sweet'])).toEqual([m.id])
      expect(await found(dan, ['sweet'])).toEqual([])
      await store.change(async (nextSeq, tx) => store.setMemberState(id, cat, 'left', nextSeq(), tx))
      expect(await found(cat, ['sweet'])).toEqual([])
      const [hit] = await store.search(ann, ['sweet'], 10)
      expect(hit!.body).toBe(long)
      expect(hit!.snip).toContain('\u0002sweet\u0003')
      expect(hit!.snip.startsWith('…')).toBe(true)
      expect(hit!.snip.endsWith('…')).toBe(true)
      // Edited: by its new words only; deleted: not at all.
      await store.change(async (nextSeq, tx) => store.editMessage(m.id, id, 'a mirabelle now', nextSeq(), tx))
      expect([await found(ann, ['sweet']), await found(ann, ['mirabelle'])]).toEqual([[], [m.id]])
      await store.change(async (nextSeq, tx) =>
        store.deleteMessage({ id: other.id, thread_id: id, image: null }, nextSeq(), tx),
      )
      expect(await found(ann, ['damsons'])).toEqual([])
      // A room's chat stays searchable by someone who left it.
      const room = await addRoom(ann)
      const chat = await store.change(async (nextSeq, tx) => {
        const seq = nextSeq()
        const t = await store.insertThread('room_chat', 'A room', null, null, room, seq, tx)
        await store.upsertMember(t, dan, 'left', seq, tx)
        return t
      })
      const inRoom = await say(store, chat, ann, 'quinces in the room')
      expect(await found(dan, ['quince'])).toEqual([inRoom.id])
    })

    test('[B46][B50] played once, settings, a member’s own data and what their erasure takes', async () => {
      const { store, addUser } = await fresh()
      const [ann, bob] = [await addUser('ann'), await addUser('bob')]
      const id = await group(store, [ann, bob])
      const dm = await store.change(async (nextSeq, tx) => {
        const seq = nextSeq()
        const t = await store.insertThread('dm', '', ann, `${ann}:${bob}`, null, seq, tx)
        await store.upsertMember(t, ann, 'active', seq, tx)
        await store.upsertMember(t, bob, 'request', seq, tx)
        return t
      })
      expect((await store.threadByDmKey(`${ann}:${bob}`))!.id).toBe(dm)
      const wave = new Uint8Array([0, 128, 255])
      await store.insertUpload({
        name: 'v.ogg',
        thread_id: id,
        user_id: ann,
        mime: 'audio/ogg',
        size: 7,
        kind: 'voice',
        duration_ms: 1200,
        waveform: wave,
      })
      const up = (await store.upload('v.ogg'))!
      expect([up.kind, up.duration_ms, [...up.waveform!], up.poster]).toEqual(['voice', 1200, [0, 128, 255], null])
      const v = await say(store, id, ann, '')
      expect(await Promise.all([store.markPlayed(v.id, id, bob), store.markPlayed(v.id, id, bob)])).toContain(false)
      expect(await store.playedIn(id, bob)).toEqual([v.id])

      expect(await store.followersOnly(bob)).toBe(false)
      await store.setFollowersOnly(bob, true)
      expect(await store.followersOnly(bob)).toBe(true)

      const inDm = await say(store, dm, bob, 'just us')
      const inGroup = await say(store, id, bob, 'everyone')
      await store.change(async (nextSeq, tx) => store.react(v.id, id, bob, '👍', true, nextSeq(), tx))
      const data = await store.memberData(bob)
      expect(data.threads.map((t) => [t.id, t.state, t.memberIds.sort()])).toEqual([
        [id, 'active', [ann, bob].sort()],
        [dm, 'request', [ann, bob].sort()],
      ])
      expect(data.messages.map((m) => m.id)).toEqual([inDm.id, inGroup.id])
      expect(data.uploads).toEqual([])
      expect((await store.memberData(ann)).uploads.map((u) => [u.name, u.size])).toEqual([['v.ogg', 7]])
      expect(await store.erasable(bob)).toEqual([inGroup.id])
      await store.forgetMember(bob)
      expect([await store.followersOnly(bob), await store.reactions(v.id)]).toEqual([false, {}])
    })
  })
}

contract('sqlite', () => sqliteBackend((gate) => new SqliteBackchannelStore(gate)))
if (pg) contract('postgres', () => pgBackend(pg, 'store_bc', (conn) => new PgBackchannelStore(conn)))
else test.skip('backchannel store on postgres (no Postgres here: see stderr)', () => {})
