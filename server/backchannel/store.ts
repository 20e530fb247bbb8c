// Backchannel's SQL, prepared once, and the one way anything with a seq is written: change(). The statements are
// private: the service and the other files of the domain call the named methods below. The store names no other
// domain's table (who a member is comes from AccountsApi).
import type { Database } from 'bun:sqlite'
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

const MY_THREAD = `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
   FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id`

/**
 * How long after a send its message waits for the search index's transaction, which takes every message of the
 * interval at once (a search before that indexes them itself).
 */
const SEARCH_INDEX_DELAY_MS = 250

const statements = (db: Database) => ({
  getSeq: db.prepare<{ seq: number }, []>('SELECT seq FROM bc_counter WHERE id = 1'),
  setSeq: db.prepare<never, [number]>('UPDATE bc_counter SET seq = ? WHERE id = 1'),

  insertThread: db.prepare<
    { id: number },
    [ThreadKind, string, number | null, string | null, number | null, number, number, number, number]
  >(
    `INSERT INTO bc_threads (kind, title, creator_id, dm_key, room_id, last_at, last_seq, meta_seq, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  thread: db.prepare<ThreadRow, [number]>('SELECT * FROM bc_threads WHERE id = ?'),
  threadByDmKey: db.prepare<ThreadRow, [string]>('SELECT * FROM bc_threads WHERE dm_key = ?'),
  threadByRoom: db.prepare<ThreadRow, [number, ThreadKind]>('SELECT * FROM bc_threads WHERE room_id = ? AND kind = ?'),
  touchThread: db.prepare<never, [number, number]>('UPDATE bc_threads SET last_seq = ? WHERE id = ?'),
  touchMeta: db.prepare<never, [number, number, number]>(
    'UPDATE bc_threads SET last_seq = ?, meta_seq = ? WHERE id = ?',
  ),
  setLastMessage: db.prepare<never, [number, number, number, number]>(
    'UPDATE bc_threads SET last_message_id = ?, last_at = ?, last_seq = ? WHERE id = ?',
  ),
  setTitle: db.prepare<never, [string, number]>('UPDATE bc_threads SET title = ? WHERE id = ?'),
  setChat: db.prepare<never, [number, number]>('UPDATE bc_threads SET chat_enabled = ? WHERE id = ?'),

  member: db.prepare<MemberRow, [number, number]>('SELECT * FROM bc_members WHERE thread_id = ? AND user_id = ?'),
  memberships: db.prepare<Membership, [number]>('SELECT user_id, state, muted FROM bc_members WHERE thread_id = ?'),
  memberList: db.prepare<MemberListRow, [number]>(
    `SELECT user_id, state, last_read_id FROM bc_members
       WHERE thread_id = ? AND state != 'left' ORDER BY joined_at, user_id`,
  ),
  countMembers: db.prepare<{ n: number }, [number]>(
    `SELECT COUNT(*) AS n FROM bc_members WHERE thread_id = ? AND state != 'left'`,
  ),
  upsertMember: db.prepare<never, [number, number, MemberState, number, number]>(
    `INSERT INTO bc_members (thread_id, user_id, state, seq, joined_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (thread_id, user_id) DO UPDATE SET state = excluded.state, seq = excluded.seq`,
  ),
  setMemberState: db.prepare<never, [MemberState, number, number, number]>(
    'UPDATE bc_members SET state = ?, seq = ? WHERE thread_id = ? AND user_id = ?',
  ),
  setMuted: db.prepare<never, [number, number, number, number]>(
    'UPDATE bc_members SET muted = ?, seq = ? WHERE thread_id = ? AND user_id = ?',
  ),
  setRead: db.prepare<never, [number, number, number, number, number]>(
    'UPDATE bc_members SET last_read_id = ?, seq = ? WHERE thread_id = ? AND user_id = ? AND last_read_id < ?',
  ),

  myThread: db.prepare<MyThreadRow, [number, number]>(`${MY_THREAD} WHERE m.user_id = ? AND t.id = ?`),
  inbox: db.prepare<MyThreadRow, [number]>(
    `${MY_THREAD}
     WHERE m.user_id = ? AND t.kind IN ('dm', 'group') AND m.state IN ('active', 'request')
       AND (t.kind = 'group' OR t.last_message_id IS NOT NULL)
     ORDER BY t.last_at DESC, t.id DESC LIMIT 500`,
  ),
  roomThreads: db.prepare<MyThreadRow, [number]>(
    `${MY_THREAD}
     WHERE m.user_id = ? AND t.kind IN ('room_chat', 'backstage')
       AND (t.last_message_id IS NOT NULL OR t.last_seq > t.meta_seq)
     ORDER BY t.last_at DESC, t.id DESC LIMIT 100`,
  ),
  changedThreads: db.prepare<MyThreadRow, [number, number, number]>(
    `${MY_THREAD} WHERE m.user_id = ? AND (t.last_seq > ? OR m.seq > ?)`,
  ),
  unread: db.prepare<{ n: number }, [number, number, number]>(
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM bc_messages
       WHERE thread_id = ? AND id > ? AND author_id IS NOT ? AND deleted_at IS NULL LIMIT 100)`,
  ),

  insertMessage: db.prepare<
    { id: number },
    [number, number, string, string, string | null, number | null, number, number]
  >(
    `INSERT INTO bc_messages (thread_id, author_id, client_id, body, image, reply_to, created_at, seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  message: db.prepare<MessageRow, [number]>('SELECT * FROM bc_messages WHERE id = ?'),
  messageByClient: db.prepare<MessageRow, [number, string]>(
    'SELECT * FROM bc_messages WHERE author_id = ? AND client_id = ?',
  ),
  history: db.prepare<MessageRow, [number, number, number]>(
    'SELECT * FROM bc_messages WHERE thread_id = ? AND id < ? ORDER BY id DESC LIMIT ?',
  ),
  messagesAfterSeq: db.prepare<MessageRow, [number, number, number]>(
    'SELECT * FROM bc_messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  ),
  editMessage: db.prepare<never, [string, number, number, number]>(
    'UPDATE bc_messages SET body = ?, edited_at = ?, seq = ? WHERE id = ?',
  ),
  deleteMessage: db.prepare<never, [number, number, number]>(
    `UPDATE bc_messages SET body = '', image = NULL, deleted_at = ?, seq = ? WHERE id = ?`,
  ),
  bumpMessage: db.prepare<never, [number, number]>('UPDATE bc_messages SET seq = ? WHERE id = ?'),
  countMessages: db.prepare<{ n: number }, []>('SELECT COUNT(*) AS n FROM bc_messages WHERE deleted_at IS NULL'),
  countSince: db.prepare<{ n: number }, [number]>('SELECT COUNT(*) AS n FROM bc_messages WHERE created_at >= ?'),

  reactions: db.prepare<{ emoji: string; user_id: number }, [number]>(
    'SELECT emoji, user_id FROM bc_reactions WHERE message_id = ? ORDER BY created_at',
  ),
  /** The reactions of several messages (their ids as a JSON array): one query for a page. */
  reactionsOf: db.prepare<{ message_id: number; emoji: string; user_id: number }, [string]>(
    `SELECT message_id, emoji, user_id FROM bc_reactions
       WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY created_at`,
  ),
  addReaction: db.prepare<never, [number, number, string, number]>(
    'INSERT OR IGNORE INTO bc_reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)',
  ),
  removeReaction: db.prepare<never, [number, number, string]>(
    'DELETE FROM bc_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?',
  ),
  reactionKinds: db.prepare<{ n: number }, [number, number]>(
    'SELECT COUNT(DISTINCT emoji) AS n FROM bc_reactions WHERE message_id = ? AND user_id = ?',
  ),

  insertUpload: db.prepare<
    never,
    [string, number, number, string, number, number, string, number | null, string | null, Uint8Array | null]
  >(
    `INSERT INTO bc_uploads (name, thread_id, user_id, mime, size, created_at, kind, duration_ms, poster, waveform)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  upload: db.prepare<UploadRow, [string]>('SELECT * FROM bc_uploads WHERE name = ?'),
  uploadedSince: db.prepare<{ n: number }, [number, number]>(
    'SELECT COALESCE(SUM(size), 0) AS n FROM bc_uploads WHERE user_id = ? AND created_at > ?',
  ),
  deleteUpload: db.prepare<never, [string]>('DELETE FROM bc_uploads WHERE name = ?'),
  markPlayed: db.prepare<{ x: number }, [number, number, number, number]>(
    `INSERT OR IGNORE INTO bc_voice_played (message_id, user_id, thread_id, played_at) VALUES (?, ?, ?, ?)
     RETURNING 1 AS x`,
  ),
  playedIn: db.prepare<{ message_id: number }, [number, number]>(
    'SELECT message_id FROM bc_voice_played WHERE user_id = ? AND thread_id = ? ORDER BY message_id DESC LIMIT 1000',
  ),
  // An image is sent only in the thread it was uploaded to: the thread's index bounds the search.
  imageInUse: db.prepare<{ x: number }, [number, string]>(
    'SELECT 1 AS x FROM bc_messages WHERE thread_id = ? AND image = ? LIMIT 1',
  ),

  prefs: db.prepare<{ followers_only: number }, [number]>('SELECT followers_only FROM bc_prefs WHERE user_id = ?'),
  setPrefs: db.prepare<never, [number, number]>(
    `INSERT INTO bc_prefs (user_id, followers_only) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET followers_only = excluded.followers_only`,
  ),

  // The search index is written after the send's commit (migration 0010): up to the mark, every message is in it.
  searchMark: db.prepare<{ indexed: number }, []>('SELECT indexed FROM bc_fts_mark WHERE k = 0'),
  lastMessageId: db.prepare<{ id: number | null }, []>('SELECT MAX(id) AS id FROM bc_messages'),
  indexMessages: db.prepare<never, [number, number]>(
    'INSERT INTO bc_fts(rowid, body) SELECT id, body FROM bc_messages WHERE id > ? AND id <= ? ORDER BY id',
  ),
  setSearchMark: db.prepare<never, [number]>('UPDATE bc_fts_mark SET indexed = ? WHERE k = 0'),
  search: db.prepare<MessageRow & { snip: string }, [number, string, number]>(
    `SELECT msg.*, snippet(bc_fts, 0, char(2), char(3), '…', 12) AS snip
     FROM bc_fts JOIN bc_messages msg ON msg.id = bc_fts.rowid
     JOIN bc_members mm ON mm.thread_id = msg.thread_id AND mm.user_id = ?
     JOIN bc_threads t ON t.id = msg.thread_id
     WHERE bc_fts MATCH ? AND msg.deleted_at IS NULL
       AND (mm.state IN ('active', 'request') OR (t.kind IN ('room_chat', 'backstage') AND mm.state = 'left'))
     ORDER BY rank LIMIT ?`,
  ),

  insertQuestion: db.prepare<{ id: number }, [number, number, number, string, string, number, number]>(
    `INSERT INTO bc_questions (thread_id, room_id, author_id, client_id, body, created_at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  question: db.prepare<QuestionRow, [number]>('SELECT * FROM bc_questions WHERE id = ?'),
  questionByClient: db.prepare<QuestionRow, [number, string]>(
    'SELECT * FROM bc_questions WHERE author_id = ? AND client_id = ?',
  ),
  questions: db.prepare<QuestionRow, [number]>(
    'SELECT * FROM bc_questions WHERE thread_id = ? ORDER BY votes DESC, id LIMIT 500',
  ),
  questionsAfterSeq: db.prepare<QuestionRow, [number, number, number]>(
    'SELECT * FROM bc_questions WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?',
  ),
  setQuestionState: db.prepare<never, [QuestionState, number, number]>(
    'UPDATE bc_questions SET state = ?, seq = ? WHERE id = ?',
  ),
  stagedQuestions: db.prepare<{ staged_at: number; body: string; author_id: number | null }, [number]>(
    `SELECT staged_at, body, author_id FROM bc_questions WHERE room_id = ? AND staged_at IS NOT NULL
       ORDER BY staged_at, id`,
  ),
  stageQuestion: db.prepare<never, [number, number, number]>(
    `UPDATE bc_questions SET staged_at = ?, seq = ? WHERE id = ?`,
  ),
  vote: db.prepare<{ question_id: number }, [number, number]>(
    'INSERT OR IGNORE INTO bc_votes (question_id, user_id) VALUES (?, ?) RETURNING question_id',
  ),
  countVotes: db.prepare<never, [number, number, number]>(
    'UPDATE bc_questions SET votes = (SELECT COUNT(*) FROM bc_votes WHERE question_id = ?), seq = ? WHERE id = ?',
  ),
  myVotes: db.prepare<{ question_id: number }, [number, number]>(
    `SELECT v.question_id FROM bc_votes v JOIN bc_questions q ON q.id = v.question_id
       WHERE q.thread_id = ? AND v.user_id = ?`,
  ),
})

/** Takes the next global seq inside a change: each call a new one. */
export type NextSeq = () => number

/** Rethrows a failed write saying what it was doing. */
function failed(what: string, e: unknown): never {
  throw new Error(`store: unable to ${what}: ${(e as Error).message}`, { cause: e })
}

/** The member cache holds this many threads at most (then starts over). */
const MEMBER_CACHE_THREADS = 5000

export class BackchannelStore {
  private readonly q: ReturnType<typeof statements>
  /** The last seq taken (saved in bc_counter by the change that took it). */
  private last: number
  private changing = false
  /** Who is in a thread and in what state: read by every rule, refreshed by the writes that change it. */
  private memberCache = new Map<number, Map<number, Membership>>()

  /** The search index's catch-up, once scheduled (indexSearch). */
  private indexTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly db: Database) {
    this.q = statements(db)
    this.last = this.q.getSeq.get()!.seq
    // Messages committed but not indexed when the server last stopped (a crash between the two writes).
    this.indexSearch()
  }

  // ——— the search index ———

  /**
   * Indexes for search every message above the mark (migration 0010), in one transaction of its own, and moves the
   * mark: the send's transaction no longer writes the FTS5 row (in batches, this costs a fifth of the row written by
   * the send's trigger). Runs shortly after sends (scheduleIndex), before every search (so a search finds every
   * acknowledged message), at start (a crash between a commit and its index) and at stop. The commit is not
   * synchronous: a crash can lose it, and with it the mark's move, so the next start indexes the same rows again.
   * Returns how far the mark moved (message ids; 0: nothing was left to index).
   */
  indexSearch(): number {
    if (this.indexTimer) {
      clearTimeout(this.indexTimer)
      this.indexTimer = null
    }
    if (this.changing) throw new Error('store: the search index is written after a change, not inside it')
    const own = !this.db.inTransaction
    // The connection's own setting (FULL, openDatabase) comes back after the index's commit.
    const sync = own ? this.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous : 0
    if (own) this.db.exec('PRAGMA synchronous = NORMAL')
    let indexed = 0
    try {
      this.db.transaction(() => {
        const from = this.q.searchMark.get()!.indexed
        const to = this.q.lastMessageId.get()!.id ?? 0
        if (to <= from) return
        this.q.indexMessages.run(from, to)
        this.q.setSearchMark.run(to)
        indexed = to - from
      })()
    } catch (e) {
      failed('index messages for search', e)
    } finally {
      if (own) this.db.exec(`PRAGMA synchronous = ${Math.trunc(sync)}`)
    }
    return indexed
  }

  /** Indexes the new messages for search within SEARCH_INDEX_DELAY_MS (one transaction for all of them). */
  private scheduleIndex() {
    if (this.indexTimer) return
    this.indexTimer = setTimeout(() => {
      this.indexTimer = null
      try {
        this.indexSearch()
      } catch {
        /* the messages stay above the mark: the next send's timer, search or start indexes them */
      }
    }, SEARCH_INDEX_DELAY_MS)
    this.indexTimer.unref?.()
  }

  /** At stop: the search index caught up, and no timer left to run against a closed database. */
  stopIndexing() {
    this.indexSearch()
  }

  // ——— the seq and changes ———

  /** The last seq taken: everything up to it is committed (or being committed by the running change). */
  get seq() {
    return this.last
  }

  /**
   * One change to Backchannel, the one way anything with a seq is written. `write` runs in one transaction and
   * takes the seq of each thing it changes from `nextSeq()` (once for a single change, once per message for a batch
   * of sends, not at all when it turns out to change nothing); the counter is saved with the transaction. Once it
   * committed, `committed` runs with what `write` returned: the events describing the change go out from there
   * (through the bus), and its result is change()'s. If the transaction fails, nothing is written, no seq is taken,
   * `committed` does not run and the error goes up. Changes do not nest.
   */
  change<T>(write: (nextSeq: NextSeq) => T): T
  change<T, R>(write: (nextSeq: NextSeq) => T, committed: (written: T) => R): R
  change<T, R>(write: (nextSeq: NextSeq) => T, committed?: (written: T) => R): T | R {
    if (this.changing) throw new Error('store: a change inside a change (its events would go out before the commit)')
    const before = this.last
    this.changing = true
    let written: T
    try {
      written = this.db.transaction(() => {
        const r = write(this.nextSeq)
        if (this.last !== before) this.q.setSeq.run(this.last)
        return r
      })()
    } catch (e) {
      this.last = before
      // A member write inside may have refreshed the cache with rows that are now rolled back.
      this.memberCache.clear()
      throw e
    } finally {
      this.changing = false
    }
    return committed ? committed(written) : written
  }

  private nextSeq: NextSeq = () => {
    if (!this.changing) throw new Error('store: a seq is taken only inside a change')
    return ++this.last
  }

  // ——— threads ———

  insertThread(
    kind: ThreadKind,
    title: string,
    creatorId: number | null,
    dmKey: string | null,
    roomId: number | null,
    seq: number,
  ) {
    const now = Date.now()
    try {
      return this.q.insertThread.get(kind, title, creatorId, dmKey, roomId, now, seq, seq, now)!.id
    } catch (e) {
      failed(`create a ${kind} thread`, e)
    }
  }
  thread(id: number): ThreadRow | null {
    return this.q.thread.get(id)
  }
  threadByDmKey(key: string): ThreadRow | null {
    return this.q.threadByDmKey.get(key)
  }
  threadByRoom(roomId: number, kind: ThreadKind): ThreadRow | null {
    return this.q.threadByRoom.get(roomId, kind)
  }

  /** Something in the thread changed (a message, a reaction, a read mark, a question). */
  touchThread(threadId: number, seq: number) {
    try {
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`mark thread ${threadId} changed`, e)
    }
  }

  /** The thread itself changed (title, members, chat on or off): everyone's summary of it is out of date. */
  touchMeta(threadId: number, seq: number) {
    try {
      this.q.touchMeta.run(seq, seq, threadId)
    } catch (e) {
      failed(`mark thread ${threadId} changed`, e)
    }
  }

  renameThread(threadId: number, title: string, seq: number) {
    try {
      this.q.setTitle.run(title, threadId)
      this.q.touchMeta.run(seq, seq, threadId)
    } catch (e) {
      failed(`rename thread ${threadId}`, e)
    }
  }

  setChat(threadId: number, enabled: boolean, seq: number) {
    try {
      this.q.setChat.run(enabled ? 1 : 0, threadId)
      this.q.touchMeta.run(seq, seq, threadId)
    } catch (e) {
      failed(`turn the chat of thread ${threadId} ${enabled ? 'on' : 'off'}`, e)
    }
  }

  // ——— members ———

  /** A member's row, read now (its read mark is fresh, unlike the cache's). */
  member(threadId: number, userId: number): MemberRow | null {
    return this.q.member.get(threadId, userId)
  }

  /** Everyone who is or was in a thread, by user id, with their state (cached; the writes below refresh it). */
  members(threadId: number): ReadonlyMap<number, Membership> {
    let m = this.memberCache.get(threadId)
    if (!m) {
      m = new Map(this.q.memberships.all(threadId).map((r) => [r.user_id, r]))
      if (this.memberCache.size > MEMBER_CACHE_THREADS) this.memberCache.clear()
      this.memberCache.set(threadId, m)
    }
    return m
  }

  /** The members who have not left, in the order they joined, with their read marks (a thread's member list). */
  memberList(threadId: number): MemberListRow[] {
    return this.q.memberList.all(threadId)
  }
  countMembers(threadId: number) {
    return this.q.countMembers.get(threadId)!.n
  }

  /** Adds a member, or sets the state of one who was there before. */
  upsertMember(threadId: number, userId: number, state: MemberState, seq: number) {
    try {
      this.q.upsertMember.run(threadId, userId, state, seq, Date.now())
    } catch (e) {
      failed(`add member ${userId} to thread ${threadId}`, e)
    }
    this.memberCache.delete(threadId)
  }

  /** Sets a member's state: the thread itself changed for everyone. */
  setMemberState(threadId: number, userId: number, state: MemberState, seq: number) {
    try {
      this.q.setMemberState.run(state, seq, threadId, userId)
      this.q.touchMeta.run(seq, seq, threadId)
    } catch (e) {
      failed(`set member ${userId} of thread ${threadId} ${state}`, e)
    }
    this.memberCache.delete(threadId)
  }

  setMuted(threadId: number, userId: number, muted: boolean, seq: number) {
    try {
      this.q.setMuted.run(muted ? 1 : 0, seq, threadId, userId)
    } catch (e) {
      failed(`${muted ? 'mute' : 'unmute'} thread ${threadId} for member ${userId}`, e)
    }
    this.memberCache.delete(threadId)
  }

  /** Moves a member's read mark forward to `messageId` (never back). */
  setRead(threadId: number, userId: number, messageId: number, seq: number) {
    try {
      this.q.setRead.run(messageId, seq, threadId, userId, messageId)
    } catch (e) {
      failed(`mark thread ${threadId} read for member ${userId}`, e)
    }
  }

  // ——— a member's threads ———

  myThread(userId: number, threadId: number): MyThreadRow | null {
    return this.q.myThread.get(userId, threadId)
  }
  /** A member's 1:1 and group threads (accepted and requests), newest first. */
  inbox(userId: number): MyThreadRow[] {
    return this.q.inbox.all(userId)
  }
  /** The room threads a member was in that have anything in them, newest first. */
  roomThreads(userId: number): MyThreadRow[] {
    return this.q.roomThreads.all(userId)
  }
  /** A member's threads with a change after `after` (in the thread, or in their own row). */
  changedThreads(userId: number, after: number): MyThreadRow[] {
    return this.q.changedThreads.all(userId, after, after)
  }
  /** Messages of others after a read mark (counted up to 100). */
  unread(threadId: number, lastReadId: number, viewerId: number) {
    return this.q.unread.get(threadId, lastReadId, viewerId)!.n
  }

  // ——— messages ———

  /** Inserts a message and makes it the thread's last; returns its id. The hot path of sends: one per message. */
  insertMessage(m: {
    threadId: number
    authorId: number
    clientId: string
    body: string
    image: string | null
    replyTo: number | null
    seq: number
    /** When it was sent (the batch's commit); now if not given. */
    at?: number
    /** False: the caller marks the thread's last message itself (once for a batch: lastMessage()). */
    touch?: boolean
  }) {
    const now = m.at ?? Date.now()
    try {
      const id = this.q.insertMessage.get(
        m.threadId,
        m.authorId,
        m.clientId,
        m.body,
        m.image,
        m.replyTo,
        now,
        m.seq,
      )!.id
      if (m.touch !== false) this.q.setLastMessage.run(id, now, m.seq, m.threadId)
      this.scheduleIndex()
      return id
    } catch (e) {
      failed(`add a message to thread ${m.threadId}`, e)
    }
  }
  /** The thread's last message (the newest of a batch of sends, in the batch's change). */
  lastMessage(threadId: number, id: number, at: number, seq: number) {
    try {
      this.q.setLastMessage.run(id, at, seq, threadId)
    } catch (e) {
      failed(`mark thread ${threadId} changed`, e)
    }
  }
  message(id: number): MessageRow | null {
    return this.q.message.get(id)
  }
  /** The message an author sent with this client id (a retried send). */
  messageByClient(authorId: number, clientId: string): MessageRow | null {
    return this.q.messageByClient.get(authorId, clientId)
  }
  /** Up to `limit` messages before message `before`, newest first. */
  history(threadId: number, before: number, limit: number): MessageRow[] {
    return this.q.history.all(threadId, before, limit)
  }
  /** Up to `limit` messages changed after `seq`, in seq order. */
  messagesAfterSeq(threadId: number, seq: number, limit: number): MessageRow[] {
    return this.q.messagesAfterSeq.all(threadId, seq, limit)
  }

  editMessage(messageId: number, threadId: number, body: string, seq: number) {
    try {
      this.q.editMessage.run(body, Date.now(), seq, messageId)
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`edit message ${messageId}`, e)
    }
  }

  /**
   * Leaves a tombstone of a message; its image goes with it unless another message of the thread still shows it.
   * Returns the names of the files no longer in use (the attachment and a video's poster: the caller removes them,
   * after the commit), or null.
   */
  deleteMessage(m: Pick<MessageRow, 'id' | 'thread_id' | 'image'>, seq: number): string[] | null {
    try {
      this.q.deleteMessage.run(Date.now(), seq, m.id)
      this.q.touchThread.run(seq, m.thread_id)
      if (!m.image || this.q.imageInUse.get(m.thread_id, m.image)) return null
      // A video's poster goes with it (unless a message of the thread shows it as an image).
      const poster = this.q.upload.get(m.image)?.poster
      this.q.deleteUpload.run(m.image)
      if (!poster || this.q.imageInUse.get(m.thread_id, poster)) return [m.image]
      this.q.deleteUpload.run(poster)
      return [m.image, poster]
    } catch (e) {
      failed(`delete message ${m.id}`, e)
    }
  }

  /** Adds (on) or takes back a member's reaction; the message and its thread changed either way. */
  react(messageId: number, threadId: number, userId: number, emoji: string, on: boolean, seq: number) {
    try {
      if (on) this.q.addReaction.run(messageId, userId, emoji, Date.now())
      else this.q.removeReaction.run(messageId, userId, emoji)
      this.q.bumpMessage.run(seq, messageId)
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`${on ? 'add' : 'remove'} a reaction of member ${userId} on message ${messageId}`, e)
    }
  }

  /** A message's reactions: user ids by emoji, oldest first. */
  reactions(messageId: number): Record<string, number[]> {
    const out: Record<string, number[]> = {}
    for (const r of this.q.reactions.all(messageId)) (out[r.emoji] ??= []).push(r.user_id)
    return out
  }

  /** The reactions of several messages (a page) in one query: user ids by emoji, by message id. */
  reactionsOf(messageIds: number[]): Map<number, Record<string, number[]>> {
    const out = new Map<number, Record<string, number[]>>()
    if (!messageIds.length) return out
    for (const r of this.q.reactionsOf.all(JSON.stringify(messageIds))) {
      let of = out.get(r.message_id)
      if (!of) out.set(r.message_id, (of = {}))
      ;(of[r.emoji] ??= []).push(r.user_id)
    }
    return out
  }

  /** How many different emoji a member put on a message. */
  reactionKinds(messageId: number, userId: number) {
    return this.q.reactionKinds.get(messageId, userId)!.n
  }

  /** Messages not deleted, and messages sent since `since`. */
  messageCounts(since: number) {
    return { messages: this.q.countMessages.get()!.n, since: this.q.countSince.get(since)!.n }
  }

  /** Full-text search (an FTS5 MATCH expression) in the threads a member may search, with a snippet of each hit. */
  search(userId: number, match: string, limit: number): (MessageRow & { snip: string })[] {
    // Every committed message first: a search finds a message as soon as its send is acknowledged (B9).
    this.indexSearch()
    return this.q.search.all(userId, match, limit)
  }

  // ——— uploads ———

  insertUpload(u: Omit<UploadRow, 'created_at' | 'kind' | 'duration_ms' | 'poster' | 'waveform'> & Partial<UploadRow>) {
    try {
      this.q.insertUpload.run(
        u.name,
        u.thread_id,
        u.user_id,
        u.mime,
        u.size,
        Date.now(),
        u.kind ?? 'image',
        u.duration_ms ?? null,
        u.poster ?? null,
        u.waveform ?? null,
      )
    } catch (e) {
      failed(`record upload ${u.name} of member ${u.user_id}`, e)
    }
  }
  upload(name: string): UploadRow | null {
    return this.q.upload.get(name)
  }
  /** Records that a member played a voice message; false if they had already. */
  markPlayed(messageId: number, threadId: number, userId: number): boolean {
    try {
      return this.q.markPlayed.get(messageId, userId, threadId, Date.now()) !== null
    } catch (e) {
      failed(`mark voice message ${messageId} played by member ${userId}`, e)
    }
  }
  /** The voice messages of a thread a member played (the latest 1000). */
  playedIn(threadId: number, userId: number): number[] {
    return this.q.playedIn.all(userId, threadId).map((r) => r.message_id)
  }
  /** Bytes a member uploaded since `since`. */
  uploadedSince(userId: number, since: number) {
    return this.q.uploadedSince.get(userId, since)!.n
  }

  // ——— settings ———

  followersOnly(userId: number) {
    return !!this.q.prefs.get(userId)?.followers_only
  }
  setFollowersOnly(userId: number, on: boolean) {
    try {
      this.q.setPrefs.run(userId, on ? 1 : 0)
    } catch (e) {
      failed(`save the settings of member ${userId}`, e)
    }
  }

  // ——— questions (a room's Q&A, kept with its chat thread) ———

  insertQuestion(q: {
    threadId: number
    roomId: number
    authorId: number
    clientId: string
    body: string
    seq: number
  }) {
    try {
      const id = this.q.insertQuestion.get(q.threadId, q.roomId, q.authorId, q.clientId, q.body, Date.now(), q.seq)!.id
      this.q.touchThread.run(q.seq, q.threadId)
      return id
    } catch (e) {
      failed(`add a question to room ${q.roomId}`, e)
    }
  }
  question(id: number): QuestionRow | null {
    return this.q.question.get(id)
  }
  /** The question an author asked with this client id (a retried ask). */
  questionByClient(authorId: number, clientId: string): QuestionRow | null {
    return this.q.questionByClient.get(authorId, clientId)
  }
  /** A thread's questions, most voted first. */
  questions(threadId: number): QuestionRow[] {
    return this.q.questions.all(threadId)
  }
  /** Up to `limit` questions changed after `seq`, in seq order. */
  questionsAfterSeq(threadId: number, seq: number, limit: number): QuestionRow[] {
    return this.q.questionsAfterSeq.all(threadId, seq, limit)
  }
  /** The questions of a thread a member voted for. */
  votedIn(threadId: number, userId: number): Set<number> {
    return new Set(this.q.myVotes.all(threadId, userId).map((v) => v.question_id))
  }

  /** Records a member's vote; false when they had voted for it already (nothing changed). */
  addVote(questionId: number, userId: number): boolean {
    try {
      return this.q.vote.get(questionId, userId) !== null
    } catch (e) {
      failed(`record the vote of member ${userId} on question ${questionId}`, e)
    }
  }

  /** Counts a question's votes again (after addVote). */
  recountVotes(questionId: number, threadId: number, seq: number) {
    try {
      this.q.countVotes.run(questionId, seq, questionId)
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`count the votes on question ${questionId}`, e)
    }
  }

  setQuestionState(questionId: number, threadId: number, state: QuestionState, seq: number) {
    try {
      this.q.setQuestionState.run(state, seq, questionId)
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`mark question ${questionId} ${state}`, e)
    }
  }

  /** A room's questions that were brought to the stage, in the order they were. */
  stagedQuestions(roomId: number): { stagedAt: number; body: string; authorId: number | null }[] {
    return this.q.stagedQuestions
      .all(roomId)
      .map((q) => ({ stagedAt: q.staged_at, body: q.body, authorId: q.author_id }))
  }

  /** The question was brought to the stage (its asker invited to speak). */
  stageQuestion(questionId: number, threadId: number, seq: number) {
    try {
      this.q.stageQuestion.run(Date.now(), seq, questionId)
      this.q.touchThread.run(seq, threadId)
    } catch (e) {
      failed(`bring question ${questionId} to the stage`, e)
    }
  }
}
