// Backchannel's store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-backchannel.test.ts). Rows come back in the SQLite shape (numbers, nulls); the generated
// `search` tsvector of bc_messages (pg/0003) is never read back.
//
// The seq: a change locks the bc_counter row first (SELECT … FOR UPDATE) and holds it to its commit; its seqs follow
// the value it read, and the new value is written back before the commit. So changes of every node take their turn
// and commit in seq order: a seq never becomes visible after a higher one (a client that synced up to N misses
// nothing below N), a rolled-back change takes none, and seq() (the committed counter) is a seq below which
// everything is committed. bc_seq (pg/0003) stays unused: under the lock it would give the same order, at a round
// trip per seq (docs/ARCHITECTURE.md, "Stores").
//
// Members are not cached here: another node may change them at any time, so every rule reads them (one indexed
// query). A batch of sends reads its facts before the lock and only the rows changed since under it (sendFactsEarly,
// sendFactsOf with `early`: every write of those rows sets their seq column), B61.
import { bytes, int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { MemberState, QuestionState, ThreadKind } from '../protocol'
import type {
  MemberListRow,
  MemberRow,
  Membership,
  MessageRow,
  MyThreadRow,
  QuestionRow,
  ThreadRow,
  UploadRow,
} from './model'
import {
  type BackchannelStore,
  CommitOrder,
  type EarlyFacts,
  type NewMessage,
  type NewQuestion,
  type NewUpload,
  type NextSeq,
  type SearchRow,
  type SendFacts,
  type SendRead,
} from './store'

type Raw = Record<string, unknown>

const thread = (r: Raw): ThreadRow => ({
  id: int(r.id),
  kind: r.kind as ThreadKind,
  title: r.title as string,
  creator_id: intOrNull(r.creator_id),
  dm_key: (r.dm_key as string | null) ?? null,
  room_id: intOrNull(r.room_id),
  chat_enabled: int(r.chat_enabled),
  last_message_id: intOrNull(r.last_message_id),
  last_at: int(r.last_at),
  last_seq: int(r.last_seq),
  meta_seq: int(r.meta_seq),
  created_at: int(r.created_at),
})
const myThread = (r: Raw): MyThreadRow => ({
  ...thread(r),
  my_state: r.my_state as MemberState,
  muted: int(r.muted),
  last_read_id: int(r.last_read_id),
  my_seq: int(r.my_seq),
})
const member = (r: Raw): MemberRow => ({
  thread_id: int(r.thread_id),
  user_id: int(r.user_id),
  state: r.state as MemberState,
  muted: int(r.muted),
  last_read_id: int(r.last_read_id),
  seq: int(r.seq),
  joined_at: int(r.joined_at),
})
const message = (r: Raw): MessageRow => ({
  id: int(r.id),
  thread_id: int(r.thread_id),
  author_id: intOrNull(r.author_id),
  client_id: r.client_id as string,
  body: r.body as string,
  image: (r.image as string | null) ?? null,
  reply_to: intOrNull(r.reply_to),
  created_at: int(r.created_at),
  edited_at: intOrNull(r.edited_at),
  deleted_at: intOrNull(r.deleted_at),
  seq: int(r.seq),
})
const question = (r: Raw): QuestionRow => ({
  id: int(r.id),
  thread_id: int(r.thread_id),
  room_id: int(r.room_id),
  author_id: intOrNull(r.author_id),
  client_id: r.client_id as string,
  body: r.body as string,
  state: r.state as QuestionState,
  votes: int(r.votes),
  staged_at: intOrNull(r.staged_at),
  created_at: int(r.created_at),
  seq: int(r.seq),
})
const upload = (r: Raw): UploadRow => ({
  name: r.name as string,
  thread_id: int(r.thread_id),
  user_id: int(r.user_id),
  mime: r.mime as string,
  size: int(r.size),
  created_at: int(r.created_at),
  kind: r.kind as UploadRow['kind'],
  duration_ms: intOrNull(r.duration_ms),
  poster: (r.poster as string | null) ?? null,
  waveform: r.waveform ? bytes(r.waveform as Uint8Array) : null,
})
const first = <T>(rows: Raw[], map: (r: Raw) => T): T | null => (rows[0] ? map(rows[0]) : null)

/** The columns of a message as SQLite has them (not `search`), prefixed. */
const MESSAGE = (p: string) =>
  ['id', 'thread_id', 'author_id', 'client_id', 'body', 'image', 'reply_to', 'created_at', 'edited_at', 'deleted_at']
    .concat('seq')
    .map((c) => `${p}.${c}`)
    .join(', ')
const MY_THREAD = `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
   FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id`
const pgArray = (ids: number[]) => `{${ids.map((n) => Math.trunc(n)).join(',')}}`

const START = String.fromCharCode(2)
const STOP = String.fromCharCode(3)
/** ts_headline's options: FTS5's snippet (12 tokens, one fragment), its hits between \u0002 and \u0003. */
const HEADLINE = `StartSel=${START}, StopSel=${STOP}, MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=…`

/** A snippet cut from a body: '…' where it does not reach the body's start or end, as FTS5's snippet() has. */
function ellipsize(snip: string, body: string) {
  const plain = snip.replaceAll(START, '').replaceAll(STOP, '')
  const at = body.indexOf(plain)
  if (at < 0) return snip
  return `${at > 0 ? '…' : ''}${snip}${at + plain.length < body.length ? '…' : ''}`
}

/** A batch's facts as read (sendFactsOf), by key. */
interface FactRows {
  stored: Map<string, MessageRow>
  threads: Map<number, ThreadRow>
  members: Map<number, Map<number, Membership>>
  uploads: Map<string, UploadRow>
  replies: Map<number, MessageRow>
  /** Whether a user accepts messages only from those they follow, for each user asked. */
  followersOnly: Map<number, boolean>
}
/** sendFactsEarly's answer: the rows read before the lock and the committed seq they are as new as. */
interface PgEarlyFacts extends EarlyFacts, FactRows {}

/** A 1:1 thread's other member, asked only while their state is `request` (SendFacts.otherFollowersOnly). */
function otherAsked(read: FactRows, i: SendRead) {
  if (read.threads.get(i.threadId)?.kind !== 'dm') return null
  for (const m of read.members.get(i.threadId)?.values() ?? [])
    if (m.user_id !== i.authorId && m.state === 'request') return m.user_id
  return null
}

export class PgBackchannelStore implements BackchannelStore {
  readonly dialect = 'postgres'
  /** This node's changes' `committed` callbacks, in the order of their commits (CommitOrder). */
  private readonly order = new CommitOrder()
  /** How long this node's changes held the seq lock: from the lock taken to the commit answered (for the bench). */
  readonly held = { changes: 0, totalMs: 0, maxMs: 0 }
  /** The counter as a change's own statement saved it (insertMessages with `last`), by the change's `tx`. */
  private readonly saved = new WeakMap<Tx, number>()
  constructor(private readonly conn: PgConn) {}

  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  private sql(tx?: Tx) {
    return this.conn.on(tx)
  }

  async stop() {}

  async seq(tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT seq FROM bc_counter WHERE id = 1`
    return int(row.seq)
  }

  change<T>(write: (nextSeq: NextSeq, tx: Tx) => T | Promise<T>): Promise<T>
  change<T, R>(
    write: (nextSeq: NextSeq, tx: Tx) => T | Promise<T>,
    committed: (written: T) => R | Promise<R>,
  ): Promise<R>
  async change<T, R>(
    write: (nextSeq: NextSeq, tx: Tx) => T | Promise<T>,
    committed?: (written: T) => R | Promise<R>,
  ): Promise<T | R> {
    let turn: ReturnType<CommitOrder['take']> | null = null
    let written: T
    let locked = 0
    try {
      written = await this.conn.transaction(async (tx) => {
        const sql = this.sql(tx)
        // The turn of this change: held to the commit (or the rollback), by every node's changes alike.
        const [row] = await sql`SELECT seq FROM bc_counter WHERE id = 1 FOR UPDATE`
        locked = performance.now()
        const before = int(row.seq)
        let last = before
        let open = true
        const nextSeq: NextSeq = () => {
          if (!open) throw new Error('store: a seq is taken only inside a change')
          return ++last
        }
        try {
          const r = await write(nextSeq, tx)
          // Saved unless a write saved it already (insertMessages with `last`: in its own statement).
          if (last !== before && this.saved.get(tx) !== last)
            await sql`UPDATE bc_counter SET seq = ${last} WHERE id = 1`
          if (committed) turn = this.order.take()
          return r
        } finally {
          open = false
        }
      })
    } catch (e) {
      ;(turn as ReturnType<CommitOrder['take']> | null)?.skip()
      throw e
    } finally {
      if (locked) this.hold(performance.now() - locked)
    }
    if (!committed || !turn) return written
    return (turn as ReturnType<CommitOrder['take']>).run(() => committed(written))
  }

  private hold(ms: number) {
    this.held.changes++
    this.held.totalMs += ms
    this.held.maxMs = Math.max(this.held.maxMs, ms)
  }

  // ——— threads ———

  async insertThread(
    kind: ThreadKind,
    title: string,
    creatorId: number | null,
    dmKey: string | null,
    roomId: number | null,
    seq: number,
    tx?: Tx,
  ) {
    const now = Date.now()
    const [row] = await this.sql(tx)`
      INSERT INTO bc_threads (kind, title, creator_id, dm_key, room_id, last_at, last_seq, meta_seq, created_at)
      VALUES (${kind}, ${title}, ${creatorId}, ${dmKey}, ${roomId}, ${now}, ${seq}, ${seq}, ${now}) RETURNING id`
    return int(row.id)
  }
  async thread(id: number, tx?: Tx) {
    return first(await this.sql(tx)`SELECT * FROM bc_threads WHERE id = ${id}`, thread)
  }
  async threadByDmKey(key: string, tx?: Tx) {
    return first(await this.sql(tx)`SELECT * FROM bc_threads WHERE dm_key = ${key}`, thread)
  }
  async threadByRoom(roomId: number, kind: ThreadKind, tx?: Tx) {
    return first(await this.sql(tx)`SELECT * FROM bc_threads WHERE room_id = ${roomId} AND kind = ${kind}`, thread)
  }
  async touchThread(threadId: number, seq: number, tx?: Tx) {
    await this.sql(tx)`UPDATE bc_threads SET last_seq = ${seq} WHERE id = ${threadId}`
  }
  async touchMeta(threadId: number, seq: number, tx?: Tx) {
    await this.sql(tx)`UPDATE bc_threads SET last_seq = ${seq}, meta_seq = ${seq} WHERE id = ${threadId}`
  }
  async renameThread(threadId: number, title: string, seq: number, tx?: Tx) {
    await this.sql(tx)`
      UPDATE bc_threads SET title = ${title}, last_seq = ${seq}, meta_seq = ${seq} WHERE id = ${threadId}`
  }
  async setChat(threadId: number, enabled: boolean, seq: number, tx?: Tx) {
    await this.sql(tx)`
      UPDATE bc_threads SET chat_enabled = ${enabled ? 1 : 0}, last_seq = ${seq}, meta_seq = ${seq}
      WHERE id = ${threadId}`
  }

  // ——— members ———

  async member(threadId: number, userId: number, tx?: Tx) {
    return first(
      await this.sql(tx)`SELECT * FROM bc_members WHERE thread_id = ${threadId} AND user_id = ${userId}`,
      member,
    )
  }
  async members(threadId: number, tx?: Tx) {
    const rows = await this.sql(tx)`SELECT user_id, state, muted FROM bc_members WHERE thread_id = ${threadId}`
    return new Map<number, Membership>(
      rows.map((r: Raw) => {
        const m = { user_id: int(r.user_id), state: r.state as MemberState, muted: int(r.muted) }
        return [m.user_id, m]
      }),
    )
  }
  async memberList(threadId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT user_id, state, last_read_id FROM bc_members
      WHERE thread_id = ${threadId} AND state != 'left' ORDER BY joined_at, user_id`
    return rows.map(
      (r: Raw): MemberListRow => ({
        user_id: int(r.user_id),
        state: r.state as MemberState,
        last_read_id: int(r.last_read_id),
      }),
    )
  }
  async countMembers(threadId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`
      SELECT COUNT(*) AS n FROM bc_members WHERE thread_id = ${threadId} AND state != 'left'`
    return int(row.n)
  }
  async upsertMember(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO bc_members (thread_id, user_id, state, seq, joined_at)
      VALUES (${threadId}, ${userId}, ${state}, ${seq}, ${Date.now()})
      ON CONFLICT (thread_id, user_id) DO UPDATE SET state = excluded.state, seq = excluded.seq`
  }
  setMemberState(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const sql = this.sql(tx)
      await sql`
        UPDATE bc_members SET state = ${state}, seq = ${seq} WHERE thread_id = ${threadId} AND user_id = ${userId}`
      await sql`UPDATE bc_threads SET last_seq = ${seq}, meta_seq = ${seq} WHERE id = ${threadId}`
    })
  }
  async setMuted(threadId: number, userId: number, muted: boolean, seq: number, tx?: Tx) {
    await this.sql(tx)`
      UPDATE bc_members SET muted = ${muted ? 1 : 0}, seq = ${seq}
      WHERE thread_id = ${threadId} AND user_id = ${userId}`
  }
  async setRead(threadId: number, userId: number, messageId: number, seq: number, tx?: Tx) {
    await this.sql(tx)`
      UPDATE bc_members SET last_read_id = ${messageId}, seq = ${seq}
      WHERE thread_id = ${threadId} AND user_id = ${userId} AND last_read_id < ${messageId}`
  }

  // ——— a member's threads ———

  private async myThreads(tx: Tx | undefined, where: string, ...args: unknown[]) {
    const rows = (await this.sql(tx).unsafe(`${MY_THREAD} WHERE ${where}`, args)) as Raw[]
    return rows.map(myThread)
  }
  async myThread(userId: number, threadId: number, tx?: Tx) {
    return (await this.myThreads(tx, 'm.user_id = $1 AND t.id = $2', userId, threadId))[0] ?? null
  }
  inbox(userId: number, tx?: Tx) {
    return this.myThreads(
      tx,
      `m.user_id = $1 AND t.kind IN ('dm', 'group') AND m.state IN ('active', 'request')
         AND (t.kind = 'group' OR t.last_message_id IS NOT NULL)
       ORDER BY t.last_at DESC, t.id DESC LIMIT 500`,
      userId,
    )
  }
  roomThreads(userId: number, tx?: Tx) {
    return this.myThreads(
      tx,
      `m.user_id = $1 AND t.kind IN ('room_chat', 'backstage')
         AND (t.last_message_id IS NOT NULL OR t.last_seq > t.meta_seq)
       ORDER BY t.last_at DESC, t.id DESC LIMIT 100`,
      userId,
    )
  }
  changedThreads(userId: number, after: number, tx?: Tx) {
    return this.myThreads(tx, 'm.user_id = $1 AND (t.last_seq > $2 OR m.seq > $2)', userId, after)
  }
  async unread(threadId: number, lastReadId: number, viewerId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`
      SELECT COUNT(*) AS n FROM (SELECT 1 FROM bc_messages
        WHERE thread_id = ${threadId} AND id > ${lastReadId} AND author_id IS DISTINCT FROM ${viewerId}
          AND deleted_at IS NULL LIMIT 100) s`
    return int(row.n)
  }

  // ——— messages ———

  insertMessage(m: NewMessage, tx?: Tx) {
    const now = m.at ?? Date.now()
    const touch = m.touch !== false
    return this.conn.atomic(tx, async (tx) => {
      const sql = this.sql(tx)
      const [row] = await sql`
        INSERT INTO bc_messages (thread_id, author_id, client_id, body, image, reply_to, created_at, seq)
        VALUES (${m.threadId}, ${m.authorId}, ${m.clientId}, ${m.body}, ${m.image}, ${m.replyTo}, ${now}, ${m.seq})
        RETURNING id`
      const id = int(row.id)
      if (touch) await this.lastMessage(m.threadId, id, now, m.seq, tx)
      return id
    })
  }
  /**
   * One multi-row INSERT (the rows as one JSON parameter, taken in the order given: ids follow it, as seqs do); the
   * ids come back matched by seq. With `last`, the same statement sets each thread's last message (its highest seq).
   */
  async insertMessages(ms: readonly NewMessage[], tx?: Tx, last = false): Promise<number[]> {
    if (!ms.length) return []
    const top = Math.max(...ms.map((m) => m.seq))
    const rows = JSON.stringify(
      ms.map((m, o) => ({
        o,
        t: m.threadId,
        a: m.authorId,
        c: m.clientId,
        b: m.body,
        i: m.image,
        r: m.replyTo,
        at: m.at ?? Date.now(),
        s: m.seq,
      })),
    )
    const back = (await this.sql(tx).unsafe(
      `WITH ins AS (
         INSERT INTO bc_messages (thread_id, author_id, client_id, body, image, reply_to, created_at, seq)
         SELECT t, a, c, b, i, r, at, s
         FROM json_to_recordset($1::text::json)
           AS k(o int, t bigint, a bigint, c text, b text, i text, r bigint, at bigint, s bigint)
         ORDER BY o RETURNING id, seq, thread_id, created_at
       ), newest AS (
         UPDATE bc_threads t SET last_message_id = n.id, last_at = n.created_at, last_seq = n.seq
         FROM (SELECT DISTINCT ON (thread_id) thread_id, id, seq, created_at FROM ins ORDER BY thread_id, seq DESC) n
         WHERE $2::boolean AND t.id = n.thread_id
       ), counter AS (
         UPDATE bc_counter SET seq = $3 WHERE id = 1 AND $2::boolean AND $3 > seq
       )
       SELECT id, seq FROM ins`,
      [rows, last, top],
    )) as Raw[]
    // Inside a change that holds the counter, its seqs so far are saved with the batch (one round trip less).
    if (last && tx) this.saved.set(tx, top)
    const bySeq = new Map(back.map((r) => [int(r.seq), int(r.id)]))
    return ms.map((m) => bySeq.get(m.seq)!)
  }
  async lastMessage(threadId: number, id: number, at: number, seq: number, tx?: Tx) {
    await this.sql(tx)`
      UPDATE bc_threads SET last_message_id = ${id}, last_at = ${at}, last_seq = ${seq} WHERE id = ${threadId}`
  }
  private async messages(tx: Tx | undefined, where: string, ...args: unknown[]) {
    const rows = (await this.sql(tx).unsafe(`SELECT ${MESSAGE('m')} FROM bc_messages m WHERE ${where}`, args)) as Raw[]
    return rows.map(message)
  }
  async message(id: number, tx?: Tx) {
    return (await this.messages(tx, 'm.id = $1', id))[0] ?? null
  }
  async messageByClient(authorId: number, clientId: string, tx?: Tx) {
    return (await this.messages(tx, 'm.author_id = $1 AND m.client_id = $2', authorId, clientId))[0] ?? null
  }
  history(threadId: number, before: number, limit: number, tx?: Tx) {
    return this.messages(tx, 'm.thread_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3', threadId, before, limit)
  }
  messagesAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx) {
    return this.messages(tx, 'm.thread_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3', threadId, seq, limit)
  }
  editMessage(messageId: number, threadId: number, body: string, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      await this.sql(tx)`
        UPDATE bc_messages SET body = ${body}, edited_at = ${Date.now()}, seq = ${seq} WHERE id = ${messageId}`
      await this.touchThread(threadId, seq, tx)
    })
  }
  deleteMessage(m: Pick<MessageRow, 'id' | 'thread_id' | 'image'>, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx): Promise<string[] | null> => {
      const sql = this.sql(tx)
      await sql`UPDATE bc_messages SET body = '', image = NULL, deleted_at = ${Date.now()}, seq = ${seq}
        WHERE id = ${m.id}`
      await this.touchThread(m.thread_id, seq, tx)
      const inUse = async (name: string) =>
        (await sql`SELECT 1 AS x FROM bc_messages WHERE thread_id = ${m.thread_id} AND image = ${name} LIMIT 1`)
          .length > 0
      if (!m.image || (await inUse(m.image))) return null
      // A video's poster goes with it (unless a message of the thread shows it as an image).
      const [up] = await sql`DELETE FROM bc_uploads WHERE name = ${m.image} RETURNING poster`
      const poster = (up?.poster as string | null | undefined) ?? null
      if (!poster || (await inUse(poster))) return [m.image]
      await sql`DELETE FROM bc_uploads WHERE name = ${poster}`
      return [m.image, poster]
    })
  }
  react(messageId: number, threadId: number, userId: number, emoji: string, on: boolean, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const sql = this.sql(tx)
      if (on)
        await sql`
          INSERT INTO bc_reactions (message_id, user_id, emoji, created_at)
          VALUES (${messageId}, ${userId}, ${emoji}, ${Date.now()}) ON CONFLICT DO NOTHING`
      else
        await sql`
          DELETE FROM bc_reactions WHERE message_id = ${messageId} AND user_id = ${userId} AND emoji = ${emoji}`
      await sql`UPDATE bc_messages SET seq = ${seq} WHERE id = ${messageId}`
      await this.touchThread(threadId, seq, tx)
    })
  }
  async reactions(messageId: number, tx?: Tx) {
    const out: Record<string, number[]> = {}
    const rows = await this.sql(tx)`
      SELECT emoji, user_id FROM bc_reactions WHERE message_id = ${messageId} ORDER BY created_at, ctid`
    for (const r of rows as Raw[]) (out[r.emoji as string] ??= []).push(int(r.user_id))
    return out
  }
  async reactionsOf(messageIds: number[], tx?: Tx) {
    const out = new Map<number, Record<string, number[]>>()
    if (!messageIds.length) return out
    const rows = (await this.sql(tx).unsafe(
      `SELECT message_id, emoji, user_id FROM bc_reactions WHERE message_id = ANY($1::bigint[])
       ORDER BY created_at, ctid`,
      [pgArray(messageIds)],
    )) as Raw[]
    for (const r of rows) {
      const id = int(r.message_id)
      let of = out.get(id)
      if (!of) out.set(id, (of = {}))
      ;(of[r.emoji as string] ??= []).push(int(r.user_id))
    }
    return out
  }
  async reactionKinds(messageId: number, userId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`
      SELECT COUNT(DISTINCT emoji) AS n FROM bc_reactions WHERE message_id = ${messageId} AND user_id = ${userId}`
    return int(row.n)
  }
  async messageCounts(since: number, tx?: Tx) {
    const [row] = await this.sql(tx)`
      SELECT COUNT(*) FILTER (WHERE deleted_at IS NULL) AS messages, COUNT(*) FILTER (WHERE created_at >= ${since})
        AS since FROM bc_messages`
    return { messages: int(row.messages), since: int(row.since) }
  }
  async search(userId: number, words: string[], limit: number) {
    // The words as lexemes (letters, digits and _ only: nothing of tsquery's syntax), the last a prefix (pg/0003).
    const clean = words.map((w) => w.replace(/[^\p{L}\p{N}_]/gu, '')).filter(Boolean)
    if (!clean.length) return []
    const q = clean.map((w, i) => `'${w}'${i === clean.length - 1 ? ':*' : ''}`).join(' & ')
    const rows = (await this.sql().unsafe(
      `SELECT ${MESSAGE('msg')}, ts_headline('simple', msg.body, query, $4) AS snip
       FROM bc_messages msg
       CROSS JOIN to_tsquery('simple', $2) query
       JOIN bc_members mm ON mm.thread_id = msg.thread_id AND mm.user_id = $1
       JOIN bc_threads t ON t.id = msg.thread_id
       WHERE msg.search @@ query AND msg.deleted_at IS NULL
         AND (mm.state IN ('active', 'request') OR (t.kind IN ('room_chat', 'backstage') AND mm.state = 'left'))
       ORDER BY ts_rank(msg.search, query) DESC, msg.id DESC LIMIT $3`,
      [userId, q, limit, HEADLINE],
    )) as Raw[]
    return rows.map((r): SearchRow => {
      const m = message(r)
      return { ...m, snip: ellipsize(r.snip as string, m.body) }
    })
  }

  // ——— uploads ———

  async insertUpload(u: NewUpload, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO bc_uploads (name, thread_id, user_id, mime, size, created_at, kind, duration_ms, poster, waveform)
      VALUES (${u.name}, ${u.thread_id}, ${u.user_id}, ${u.mime}, ${u.size}, ${Date.now()}, ${u.kind ?? 'image'},
        ${u.duration_ms ?? null}, ${u.poster ?? null}, ${u.waveform ?? null})`
  }
  async upload(name: string, tx?: Tx) {
    return first(await this.sql(tx)`SELECT * FROM bc_uploads WHERE name = ${name}`, upload)
  }
  async markPlayed(messageId: number, threadId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      INSERT INTO bc_voice_played (message_id, user_id, thread_id, played_at)
      VALUES (${messageId}, ${userId}, ${threadId}, ${Date.now()}) ON CONFLICT DO NOTHING RETURNING 1 AS x`
    return rows.length > 0
  }
  async playedIn(threadId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT message_id FROM bc_voice_played WHERE user_id = ${userId} AND thread_id = ${threadId}
      ORDER BY message_id DESC LIMIT 1000`
    return rows.map((r: Raw) => int(r.message_id))
  }
  async uploadedSince(userId: number, since: number, tx?: Tx) {
    const [row] = await this.sql(tx)`
      SELECT COALESCE(SUM(size), 0) AS n FROM bc_uploads WHERE user_id = ${userId} AND created_at > ${since}`
    return int(row.n)
  }

  // ——— settings ———

  async followersOnly(userId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT followers_only FROM bc_prefs WHERE user_id = ${userId}`
    return !!row && int(row.followers_only) !== 0
  }
  async sendFacts(item: SendRead, tx?: Tx): Promise<SendFacts> {
    return (await this.sendFactsOf([item], tx))[0]!
  }
  /**
   * A batch's facts in a statement per kind of fact, not per send: the stored client ids, the threads, their members,
   * then (only if asked) the uploads, the quoted messages and the followers-only settings. Keys travel as one JSON
   * parameter (no array literal to escape). Given `early` (sendFactsEarly, read before the seq lock), only the rows
   * changed after its seq are read, under the lock (B61): every write of a stored message, a thread's rules or a
   * member sets the row's seq column (a message's `seq`, a thread's `meta_seq`, a member's `seq`) to its change's, so
   * a row unchanged since is as early read it; uploads (deleted under the lock with a message, no seq of their own)
   * are read again whole, there are few.
   */
  async sendFactsOf(items: readonly SendRead[], tx?: Tx, early?: EarlyFacts): Promise<SendFacts[]> {
    if (!items.length) return []
    const before = early as PgEarlyFacts | undefined
    const read = await this.factRows(items, tx, before)
    return items.map((i) => {
      const o = otherAsked(read, i)
      return {
        stored: read.stored.get(`${i.authorId}:${i.clientId}`) ?? null,
        thread: read.threads.get(i.threadId) ?? null,
        members: read.members.get(i.threadId) ?? new Map<number, Membership>(),
        otherFollowersOnly: o !== null && read.followersOnly.get(o) === true,
        upload: i.upload ? (read.uploads.get(i.upload) ?? null) : null,
        reply: i.replyTo ? (read.replies.get(i.replyTo) ?? null) : null,
      }
    })
  }
  async sendFactsEarly(items: readonly SendRead[]): Promise<EarlyFacts> {
    // The seq first: whatever commits after it has a higher seq, so the delta under the lock sees it.
    const at = await this.seq()
    return { at, ...(await this.factRows(items, undefined, null)) } satisfies PgEarlyFacts
  }
  /**
   * The facts' rows: all of them (`early` undefined), those but the uploads (`early` null: read before the lock), or
   * those changed after `early.at` laid over early's.
   */
  private async factRows(items: readonly SendRead[], tx: Tx | undefined, early: PgEarlyFacts | null | undefined) {
    const sql = this.sql(tx)
    const threadIds = pgArray([...new Set(items.map((i) => i.threadId))])
    const uploads = early === null ? [] : [...new Set(items.flatMap((i) => (i.upload ? [i.upload] : [])))]
    const replies = [...new Set(items.flatMap((i) => (i.replyTo ? [i.replyTo] : [])))]
    const keys = JSON.stringify(items.map((i) => ({ a: i.authorId, c: i.clientId })))
    // Under the lock after an early read: only rows whose seq is past it.
    const since = early ? early.at : -1
    const [storedRows, threadRows, memberRows, uploadRows, replyRows] = (await Promise.all([
      sql.unsafe(
        `SELECT ${MESSAGE('m')} FROM json_to_recordset($1::text::json) AS k(a bigint, c text)
         JOIN bc_messages m ON m.author_id = k.a AND m.client_id = k.c WHERE m.seq > $2`,
        [keys, since],
      ),
      sql.unsafe('SELECT * FROM bc_threads WHERE id = ANY($1::bigint[]) AND meta_seq > $2', [threadIds, since]),
      sql.unsafe(
        'SELECT thread_id, user_id, state, muted FROM bc_members WHERE thread_id = ANY($1::bigint[]) AND seq > $2',
        [threadIds, since],
      ),
      uploads.length
        ? sql.unsafe('SELECT * FROM bc_uploads WHERE name IN (SELECT json_array_elements_text($1::text::json))', [
            JSON.stringify(uploads),
          ])
        : [],
      replies.length
        ? sql.unsafe(`SELECT ${MESSAGE('m')} FROM bc_messages m WHERE m.id = ANY($1::bigint[]) AND m.seq > $2`, [
            pgArray(replies),
            since,
          ])
        : [],
    ])) as Raw[][]
    const stored = new Map(early?.stored)
    for (const r of storedRows) stored.set(`${int(r.author_id)}:${r.client_id}`, message(r))
    const threads = new Map(early?.threads)
    for (const r of threadRows) threads.set(int(r.id), thread(r))
    // A thread's map is copied before a changed member is laid over it (early's stays as read).
    const members = new Map(early?.members)
    const copied = new Set<number>()
    for (const r of memberRows) {
      const id = int(r.thread_id)
      let of = members.get(id)
      if (!of || !copied.has(id)) members.set(id, (of = new Map(of)))
      copied.add(id)
      of.set(int(r.user_id), { user_id: int(r.user_id), state: r.state as MemberState, muted: int(r.muted) })
    }
    const replyMap = new Map(early?.replies)
    for (const r of replyRows) replyMap.set(int(r.id), message(r))
    const read: FactRows = {
      stored,
      threads,
      members,
      uploads: new Map(uploadRows.map((r) => [r.name as string, upload(r)])),
      replies: replyMap,
      followersOnly: new Map(early?.followersOnly),
    }
    // Followers-only settings (outside the seq: never changed under the lock) of those asked and not read before.
    const asked = [...new Set(items.map((i) => otherAsked(read, i)))].filter(
      (u): u is number => u !== null && !read.followersOnly.has(u),
    )
    if (asked.length) {
      for (const u of asked) read.followersOnly.set(u, false)
      for (const r of (await sql.unsafe(
        'SELECT user_id FROM bc_prefs WHERE user_id = ANY($1::bigint[]) AND followers_only != 0',
        [pgArray(asked)],
      )) as Raw[])
        read.followersOnly.set(int(r.user_id), true)
    }
    return read
  }
  async setFollowersOnly(userId: number, on: boolean, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO bc_prefs (user_id, followers_only) VALUES (${userId}, ${on ? 1 : 0})
      ON CONFLICT (user_id) DO UPDATE SET followers_only = excluded.followers_only`
  }

  // ——— questions ———

  insertQuestion(q: NewQuestion, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const [row] = await this.sql(tx)`
        INSERT INTO bc_questions (thread_id, room_id, author_id, client_id, body, created_at, seq)
        VALUES (${q.threadId}, ${q.roomId}, ${q.authorId}, ${q.clientId}, ${q.body}, ${Date.now()}, ${q.seq})
        RETURNING id`
      await this.touchThread(q.threadId, q.seq, tx)
      return int(row.id)
    })
  }
  async question(id: number, tx?: Tx) {
    return first(await this.sql(tx)`SELECT * FROM bc_questions WHERE id = ${id}`, question)
  }
  async questionByClient(authorId: number, clientId: string, tx?: Tx) {
    return first(
      await this.sql(tx)`SELECT * FROM bc_questions WHERE author_id = ${authorId} AND client_id = ${clientId}`,
      question,
    )
  }
  async questions(threadId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT * FROM bc_questions WHERE thread_id = ${threadId} ORDER BY votes DESC, id LIMIT 500`
    return rows.map(question)
  }
  async questionsAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT * FROM bc_questions WHERE thread_id = ${threadId} AND seq > ${seq} ORDER BY seq LIMIT ${limit}`
    return rows.map(question)
  }
  async votedIn(threadId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT v.question_id FROM bc_votes v JOIN bc_questions q ON q.id = v.question_id
      WHERE q.thread_id = ${threadId} AND v.user_id = ${userId}`
    return new Set<number>(rows.map((r: Raw) => int(r.question_id)))
  }
  async addVote(questionId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      INSERT INTO bc_votes (question_id, user_id) VALUES (${questionId}, ${userId})
      ON CONFLICT DO NOTHING RETURNING question_id`
    return rows.length > 0
  }
  recountVotes(questionId: number, threadId: number, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      await this.sql(tx)`
        UPDATE bc_questions SET votes = (SELECT COUNT(*) FROM bc_votes WHERE question_id = ${questionId}), seq = ${seq}
        WHERE id = ${questionId}`
      await this.touchThread(threadId, seq, tx)
    })
  }
  setQuestionState(questionId: number, threadId: number, state: QuestionState, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      await this.sql(tx)`UPDATE bc_questions SET state = ${state}, seq = ${seq} WHERE id = ${questionId}`
      await this.touchThread(threadId, seq, tx)
    })
  }
  async stagedQuestions(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT staged_at, body, author_id FROM bc_questions WHERE room_id = ${roomId} AND staged_at IS NOT NULL
      ORDER BY staged_at, id`
    return rows.map((q: Raw) => ({
      stagedAt: int(q.staged_at),
      body: q.body as string,
      authorId: intOrNull(q.author_id),
    }))
  }
  stageQuestion(questionId: number, threadId: number, seq: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      await this.sql(tx)`UPDATE bc_questions SET staged_at = ${Date.now()}, seq = ${seq} WHERE id = ${questionId}`
      await this.touchThread(threadId, seq, tx)
    })
  }

  // ——— a member's own data ———

  async memberData(userId: number, tx?: Tx) {
    const sql = this.sql(tx)
    const threads = await sql`
      SELECT t.id, t.kind, t.title, t.room_id, t.created_at, m.state, m.joined_at,
        ARRAY(SELECT o.user_id FROM bc_members o WHERE o.thread_id = t.id) AS member_ids
      FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id WHERE m.user_id = ${userId} ORDER BY t.id`
    const messages = await sql`
      SELECT id, thread_id, body, image, reply_to, created_at, edited_at, deleted_at
      FROM bc_messages WHERE author_id = ${userId} ORDER BY id`
    const uploads = await sql`
      SELECT name, thread_id, mime, size, created_at FROM bc_uploads WHERE user_id = ${userId} ORDER BY created_at`
    return {
      threads: threads.map((t: Raw) => ({
        id: int(t.id),
        kind: t.kind as string,
        title: t.title as string,
        room_id: intOrNull(t.room_id),
        created_at: int(t.created_at),
        state: t.state as string,
        joined_at: int(t.joined_at),
        memberIds: (t.member_ids as unknown[]).map(int),
      })),
      messages: messages.map((m: Raw) => ({
        id: int(m.id),
        thread_id: int(m.thread_id),
        body: m.body as string,
        image: (m.image as string | null) ?? null,
        reply_to: intOrNull(m.reply_to),
        created_at: int(m.created_at),
        edited_at: intOrNull(m.edited_at),
        deleted_at: intOrNull(m.deleted_at),
      })),
      uploads: uploads.map((u: Raw) => ({
        name: u.name as string,
        thread_id: int(u.thread_id),
        mime: u.mime as string,
        size: int(u.size),
        created_at: int(u.created_at),
      })),
    }
  }
  async erasable(userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT m.id FROM bc_messages m JOIN bc_threads t ON t.id = m.thread_id
      WHERE m.author_id = ${userId} AND m.deleted_at IS NULL AND t.kind != 'dm' ORDER BY m.id`
    return rows.map((r: Raw) => int(r.id))
  }
  forgetMember(userId: number, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const sql = this.sql(tx)
      await sql`DELETE FROM bc_prefs WHERE user_id = ${userId}`
      await sql`DELETE FROM bc_reactions WHERE user_id = ${userId}`
    })
  }
}
