import { expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { linkify, highlighted } from '../../client/components/backchannel/text'
import { isEmoji } from '../../server/backchannel/model'
import { MAX_BATCH, SendQueue, type SendItem } from '../../server/backchannel/send'
import { SqliteBackchannelStore } from '../../server/backchannel/store'
import { SqliteGate } from '../../server/db/sqlite-gate'
import type { Tx } from '../../server/db/store'
import { openDatabase } from '../../server/db/open'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const links = (text: string) =>
  linkify(text)
    .filter((x) => typeof x !== 'string')
    .map((v: any) => v.props)

test('[B16] only http(s) URLs become links, opened in a new tab without referrer or follow', () => {
  expect(links('see https://example.org/a?b=1.')).toEqual([
    {
      href: 'https://example.org/a?b=1',
      target: '_blank',
      rel: 'noopener noreferrer nofollow',
      children: 'https://example.org/a?b=1',
    },
  ])
  expect(links('javascript:alert(1) data:text/html,<b>x</b> vbscript:x file:///etc/passwd ftp://x.org')).toEqual([])
  expect(links('<a href="javascript:alert(1)">https://ok.example</a>').map((l) => l.href)).toEqual([
    'https://ok.example',
  ])
  expect(links('(see https://en.wikipedia.org/wiki/Foo_(bar))').map((l) => l.href)).toEqual([
    'https://en.wikipedia.org/wiki/Foo_(bar)',
  ])
  // The text around links stays text, character for character.
  const parts = linkify('<img src=x onerror=alert(1)> http://a.example b')
  expect(parts[0]).toBe('<img src=x onerror=alert(1)> ')
  expect(parts[2]).toBe(' b')
})

test('[B9] search snippets mark hits without HTML', () => {
  const parts = highlighted('a \u0002hit\u0003 <b>b</b>')
  expect(parts[0]).toBe('a ')
  expect(JSON.stringify(parts)).toContain('<b>b</b>')
})

test('[B2] reactions must be emoji', () => {
  for (const e of ['👍', '❤️', '👍🏽', '🏳️‍🌈', '🎉']) expect([e, isEmoji(e)]).toEqual([e, true])
  for (const e of ['a', '<b>', '1', '#', ' ', '👍 x']) expect([e, isEmoji(e)]).toEqual([e, false])
})

test(
  '[B8] sends of one tick share one commit; a duplicate in flight shares the promise; ' +
    'a failed commit acknowledges nothing',
  async () => {
    const batches: number[] = []
    let fail = false
    let current = 0
    let seq = 0
    const q = new SendQueue({
      change: async (write, committed) => {
        current = 0
        const r = await write(() => ++seq, {} as Tx)
        if (fail) throw new Error('disk full')
        batches.push(current)
        return committed(r)
      },
      check: async () => null,
      insert: async () => ++current,
      last: async () => {},
      committed: async (id) => ({ id }) as any,
      stored: async (row) => ({ id: row.id }) as any,
      logError: () => {},
    })
    const item = (i: number): SendItem => ({
      threadId: 1,
      authorId: 1,
      clientId: `c${i}`,
      body: 'x',
      image: null,
      replyTo: null,
    })
    const all = await Promise.all([...Array.from({ length: 10 }, (_, i) => q.send(item(i))), q.send(item(3))])
    expect(batches).toEqual([10])
    expect(all[10]).toBe(all[3])
    await Promise.all(Array.from({ length: MAX_BATCH + 5 }, (_, i) => q.send(item(100 + i))))
    expect(batches.slice(1)).toEqual([MAX_BATCH, 5])
    fail = true
    const r = await Promise.allSettled([q.send(item(9000)), q.send(item(9001))])
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected'])
  },
)

test(
  '[B6] a change takes its seqs in its transaction: one that rolls back takes none and tells nothing; ' +
    'changes do not nest',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'townhall-bc-change-'))
    const db = openDatabase(dir)
    try {
      const store = new SqliteBackchannelStore(new SqliteGate(db))
      const counter = () => db.query<{ seq: number }, []>('SELECT seq FROM bc_counter').get()!.seq
      const start = await store.seq()
      // Committed: the seqs are saved with it, and the committed step runs after the commit with what was written.
      let inTransaction: boolean | null = null
      const id = await store.change(
        (nextSeq, tx) => store.insertThread('group', 'g', null, null, null, nextSeq(), tx),
        (tid) => {
          inTransaction = db.inTransaction
          return tid
        },
      )
      expect(inTransaction as boolean | null).toBe(false)
      expect((await store.thread(id))?.last_seq).toBe(start + 1)
      expect([await store.seq(), counter()]).toEqual([start + 1, start + 1])
      // Rolled back: nothing written, the seq as it was, the committed step never runs.
      let told = false
      await expect(
        store.change(
          async (nextSeq, tx) => {
            await store.insertThread('group', 'lost', null, null, null, nextSeq(), tx)
            nextSeq()
            throw new Error('disk full')
          },
          () => {
            told = true
          },
        ),
      ).rejects.toThrow('disk full')
      expect(told).toBe(false)
      expect([await store.seq(), counter()]).toEqual([start + 1, start + 1])
      expect(db.query("SELECT COUNT(*) AS n FROM bc_threads WHERE title = 'lost'").get()).toEqual({ n: 0 })
      // A change that turns out to change nothing takes no seq.
      await store.change(() => {})
      expect(await store.seq()).toBe(start + 1)
      // A change inside a change would tell before the commit: refused.
      await expect(store.change(() => store.change(() => {}))).rejects.toThrow('transactions do not nest')
      await expect(
        store.change(async (_nextSeq, tx) => {
          await store.upsertMember(id, 1, 'active', 1, tx)
        }),
      ).rejects.toThrow(/store: unable to add member 1 to thread/)
    } finally {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
)

test(
  '[B49] the search index is written after the send: found at once by a search, edited and deleted messages ' +
    'indexed as they are, and a crash between the commit and the index loses no entry',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'townhall-bc-index-'))
    let db = openDatabase(dir)
    try {
      db.query("INSERT INTO users (username, password_hash, created_at) VALUES ('ann', 'x', 0)").run()
      const ann = db.query<{ id: number }, []>("SELECT id FROM users WHERE username = 'ann'").get()!.id
      let store = new SqliteBackchannelStore(new SqliteGate(db))
      const thread = await store.change(async (nextSeq, tx) => {
        const id = await store.insertThread('group', 'g', ann, null, null, nextSeq(), tx)
        await store.upsertMember(id, ann, 'active', nextSeq(), tx)
        return id
      })
      const mark = () => db.query<{ indexed: number }, []>('SELECT indexed FROM bc_fts_mark').get()!.indexed
      const indexed = (word: string) =>
        db
          .query<{ rowid: number }, [string]>('SELECT rowid FROM bc_fts WHERE bc_fts MATCH ? ORDER BY rowid')
          .all(word)
          .map((r) => r.rowid)
      const found = async (word: string) => (await store.search(ann, [word], 10)).map((r) => r.id)
      const send = (body: string) =>
        store.change((nextSeq, tx) =>
          store.insertMessage(
            { threadId: thread, authorId: ann, clientId: body, body, image: null, replyTo: null, seq: nextSeq() },
            tx,
          ),
        )
      // The send's transaction writes no index row; the search before it reads catches the index up.
      const first = await send('a quince arrived')
      const second = await send('a medlar arrived')
      const third = await send('a loquat arrived')
      expect(indexed('arrived')).toEqual([])
      // Before indexing: an edit and a delete change only the message (the index holds nothing of it yet).
      await store.change((nextSeq, tx) => store.editMessage(second, thread, 'a damson arrived', nextSeq(), tx))
      await store.change((nextSeq, tx) =>
        store.deleteMessage({ id: third, thread_id: thread, image: null }, nextSeq(), tx),
      )
      expect(await found('arrived')).toEqual([first, second])
      expect(await found('damson')).toEqual([second])
      expect(await found('medlar')).toEqual([])
      expect(await found('loquat')).toEqual([])
      expect(mark()).toBe(third)
      // After indexing: an edit replaces the message's words in the index, a delete removes them.
      await store.change((nextSeq, tx) => store.editMessage(first, thread, 'a persimmon arrived', nextSeq(), tx))
      expect(await found('quince')).toEqual([])
      expect(await found('persimmon')).toEqual([first])
      await store.change((nextSeq, tx) =>
        store.deleteMessage({ id: second, thread_id: thread, image: null }, nextSeq(), tx),
      )
      expect(await found('damson')).toEqual([])
      // An id at or below the mark again (the newest messages deleted for good) is indexed by its insert.
      db.query('DELETE FROM bc_messages WHERE id >= ?').run(second)
      const reused = await send('a sloe arrived')
      expect(reused).toBeLessThanOrEqual(mark())
      expect(indexed('sloe')).toEqual([reused])
      expect(await send('a filler')).toBe(mark())
      // The crash window: committed, not indexed (the timer never ran), then a restart indexes it before any search.
      const lost = [await send('rowan one'), await send('rowan two')]
      expect(indexed('rowan')).toEqual([])
      await store.stop()
      expect(indexed('rowan')).toEqual(lost)
      // The index's commit is not synchronous; the sends' commits still are (FULL, 2).
      expect(db.query('PRAGMA synchronous').get()).toEqual({ synchronous: 2 })
      const more = await send('rowan three')
      db.close()
      db = openDatabase(dir)
      store = new SqliteBackchannelStore(new SqliteGate(db))
      expect(indexed('rowan')).toEqual([...lost, more])
      // The index matches the messages exactly (FTS5's own check of an external-content index).
      expect(() => db.query("INSERT INTO bc_fts(bc_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow()
      await store.stop()
    } finally {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  },
)
