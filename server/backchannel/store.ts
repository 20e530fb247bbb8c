// Backchannel's store: its contract (BackchannelStore, asynchronous: docs/ARCHITECTURE.md, "Stores"), the one way
// anything with a seq is written (change()), and its SQLite implementation through the gate (SqliteBackchannelStore);
// the Postgres one is store-pg.ts, and test/integration/store-backchannel.test.ts runs the same tests against both.
// The store names no other domain's table (who a member is comes from AccountsApi).
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
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

/** What a send's rules read: its thread, author, client id, attachment and quoted message. */
export interface SendRead {
  threadId: number
  authorId: number
  clientId: string
  /** The attachment's upload name (an image, a video or a voice message), if any. */
  upload: string | null
  replyTo: number | null
}

/**
 * What a send's rules need, read at once (BackchannelService.sendRules decides over it, on either store): the
 * message already stored under the client id, the thread, its members, a 1:1 thread's other member's followers-only
 * setting, the attachment's upload row and the quoted message.
 */
export interface SendFacts {
  stored: MessageRow | null
  thread: ThreadRow | null
  members: ReadonlyMap<number, Membership>
  /**
   * A 1:1 thread's other member (the author aside) accepts messages only from those they follow; read only while
   * that member's state is `request` (the only case the rule asks about), false otherwise.
   */
  otherFollowersOnly: boolean
  upload: UploadRow | null
  reply: MessageRow | null
}

/** SQLite's synchronous twins of the batched send's store calls (BackchannelStore.now). */
export interface SendNow {
  sendFacts(item: SendRead, tx: Tx): SendFacts
  insertMessage(m: NewMessage, tx: Tx): number
  lastMessage(threadId: number, id: number, at: number, seq: number, tx: Tx): void
  /** A thread's members if the cache holds them (outside a change: a miss is read through the gate, members()). */
  cachedMembers(threadId: number): ReadonlyMap<number, Membership> | undefined
}

/** Facts read before the seq lock (sendFactsEarly): as new as the committed seq `at`; the rest the store's. */
export interface EarlyFacts {
  readonly at: number
}

/** Takes the next global seq inside a change: each call a new one. */
export type NextSeq = () => number

export interface NewMessage {
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
}
export interface NewQuestion {
  threadId: number
  roomId: number
  authorId: number
  clientId: string
  body: string
  seq: number
}
export type NewUpload = Omit<UploadRow, 'created_at' | 'kind' | 'duration_ms' | 'poster' | 'waveform'> &
  Partial<UploadRow>
export type SearchRow = MessageRow & { snip: string }

interface DataThreadRow {
  id: number
  kind: string
  title: string
  room_id: number | null
  created_at: number
  state: string
  joined_at: number
}
interface DataMessageRow {
  id: number
  thread_id: number
  body: string
  image: string | null
  reply_to: number | null
  created_at: number
  edited_at: number | null
  deleted_at: number | null
}
interface DataUploadRow {
  name: string
  thread_id: number
  mime: string
  size: number
  created_at: number
}
/** A member's own rows (their export, member-data.ts): their threads with everyone in them, messages, uploads. */
interface MemberDataRows {
  threads: (DataThreadRow & { memberIds: number[] })[]
  messages: DataMessageRow[]
  uploads: DataUploadRow[]
}

/**
 * Every method takes the transaction it belongs to, if any (a change's `tx`); those that change several rows hold
 * their own when not given one. Anything with a seq is written inside change().
 */
export interface BackchannelStore extends Transactor {
  readonly dialect: 'sqlite' | 'postgres'
  /**
   * The last seq committed: every change up to it is committed, none above it is (a sync reads up to here). SQLite:
   * the node's counter; Postgres: bc_counter as committed (changes commit in seq order, see change()).
   */
  seq(tx?: Tx): Promise<number>
  /**
   * One change to Backchannel, the one way anything with a seq is written. `write` runs in one transaction and
   * takes the seq of each thing it changes from `nextSeq()` (once for a single change, once per message for a batch
   * of sends, not at all when it turns out to change nothing); the counter is saved with the transaction. Once it
   * committed, `committed` runs with what `write` returned: the events describing the change go out from there
   * (through the bus), and its result is change()'s. If the transaction fails, nothing is written, no seq is taken,
   * `committed` does not run and the error goes up. Changes do not nest. Changes commit in the order of their seqs:
   * a seq is never visible before a lower one (Postgres: the bc_counter row is locked from the change's start to its
   * commit, so changes of every node take their turn).
   */
  change<T>(write: (nextSeq: NextSeq, tx: Tx) => T | Promise<T>): Promise<T>
  change<T, R>(
    write: (nextSeq: NextSeq, tx: Tx) => T | Promise<T>,
    committed: (written: T) => R | Promise<R>,
  ): Promise<R>
  /** At stop: SQLite's search index caught up (B49) and its timer gone. */
  stop(): Promise<void>

  insertThread(
    kind: ThreadKind,
    title: string,
    creatorId: number | null,
    dmKey: string | null,
    roomId: number | null,
    seq: number,
    tx?: Tx,
  ): Promise<number>
  thread(id: number, tx?: Tx): Promise<ThreadRow | null>
  threadByDmKey(key: string, tx?: Tx): Promise<ThreadRow | null>
  threadByRoom(roomId: number, kind: ThreadKind, tx?: Tx): Promise<ThreadRow | null>
  /** Something in the thread changed (a message, a reaction, a read mark, a question). */
  touchThread(threadId: number, seq: number, tx?: Tx): Promise<void>
  /** The thread itself changed (title, members, chat on or off): everyone's summary of it is out of date. */
  touchMeta(threadId: number, seq: number, tx?: Tx): Promise<void>
  renameThread(threadId: number, title: string, seq: number, tx?: Tx): Promise<void>
  setChat(threadId: number, enabled: boolean, seq: number, tx?: Tx): Promise<void>

  /** A member's row, read now (its read mark is fresh). */
  member(threadId: number, userId: number, tx?: Tx): Promise<MemberRow | null>
  /**
   * Everyone who is or was in a thread, by user id, with their state. SQLite: cached (this node is the only writer;
   * the member writes refresh it, a rolled-back change empties it); the same map while the members are unchanged.
   * Postgres: read each time (another node may have changed them).
   */
  members(threadId: number, tx?: Tx): Promise<ReadonlyMap<number, Membership>>
  /** The members who have not left, in the order they joined, with their read marks (a thread's member list). */
  memberList(threadId: number, tx?: Tx): Promise<MemberListRow[]>
  countMembers(threadId: number, tx?: Tx): Promise<number>
  /** Adds a member, or sets the state of one who was there before. */
  upsertMember(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx): Promise<void>
  /** Sets a member's state: the thread itself changed for everyone. */
  setMemberState(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx): Promise<void>
  setMuted(threadId: number, userId: number, muted: boolean, seq: number, tx?: Tx): Promise<void>
  /** Moves a member's read mark forward to `messageId` (never back). */
  setRead(threadId: number, userId: number, messageId: number, seq: number, tx?: Tx): Promise<void>

  myThread(userId: number, threadId: number, tx?: Tx): Promise<MyThreadRow | null>
  /** A member's 1:1 and group threads (accepted and requests), newest first. */
  inbox(userId: number, tx?: Tx): Promise<MyThreadRow[]>
  /** The room threads a member was in that have anything in them, newest first. */
  roomThreads(userId: number, tx?: Tx): Promise<MyThreadRow[]>
  /** A member's threads with a change after `after` (in the thread, or in their own row). */
  changedThreads(userId: number, after: number, tx?: Tx): Promise<MyThreadRow[]>
  /** Messages of others after a read mark (counted up to 100). */
  unread(threadId: number, lastReadId: number, viewerId: number, tx?: Tx): Promise<number>

  /** Inserts a message and makes it the thread's last (unless touch: false); its id. The hot path of sends. */
  insertMessage(m: NewMessage, tx?: Tx): Promise<number>
  /**
   * Several messages as one statement where the store can (Postgres: one multi-row INSERT), ids in the order given
   * (give them in seq order). With `last`, each thread's last message becomes its newest of these (Postgres: in the
   * same statement); without, it is the caller's (lastMessage(), as with touch: false).
   */
  insertMessages(ms: readonly NewMessage[], tx?: Tx, last?: boolean): Promise<number[]>
  /** The thread's last message (the newest of a batch of sends, in the batch's change). */
  lastMessage(threadId: number, id: number, at: number, seq: number, tx?: Tx): Promise<void>
  message(id: number, tx?: Tx): Promise<MessageRow | null>
  /** The message an author sent with this client id (a retried send). */
  messageByClient(authorId: number, clientId: string, tx?: Tx): Promise<MessageRow | null>
  /** Up to `limit` messages before message `before`, newest first. */
  history(threadId: number, before: number, limit: number, tx?: Tx): Promise<MessageRow[]>
  /** Up to `limit` messages changed after `seq`, in seq order. */
  messagesAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx): Promise<MessageRow[]>
  editMessage(messageId: number, threadId: number, body: string, seq: number, tx?: Tx): Promise<void>
  /**
   * Leaves a tombstone of a message; its image goes with it unless another message of the thread still shows it.
   * Returns the names of the files no longer in use (the attachment and a video's poster: the caller removes them,
   * after the commit), or null.
   */
  deleteMessage(m: Pick<MessageRow, 'id' | 'thread_id' | 'image'>, seq: number, tx?: Tx): Promise<string[] | null>
  /** Adds (on) or takes back a member's reaction; the message and its thread changed either way. */
  react(
    messageId: number,
    threadId: number,
    userId: number,
    emoji: string,
    on: boolean,
    seq: number,
    tx?: Tx,
  ): Promise<void>
  /** A message's reactions: user ids by emoji, oldest first. */
  reactions(messageId: number, tx?: Tx): Promise<Record<string, number[]>>
  /** The reactions of several messages (a page) in one query: user ids by emoji, by message id. */
  reactionsOf(messageIds: number[], tx?: Tx): Promise<Map<number, Record<string, number[]>>>
  /** How many different emoji a member put on a message. */
  reactionKinds(messageId: number, userId: number, tx?: Tx): Promise<number>
  /** Messages not deleted, and messages sent since `since`. */
  messageCounts(since: number, tx?: Tx): Promise<{ messages: number; since: number }>
  /**
   * Full-text search for a member's words (letters, digits and `_` only, up to 8: the service cleans them; the last
   * one a prefix) in the threads they may search (active or request; a room thread they left too), best first, with
   * a snippet of each hit (the words between \u0002 and \u0003, '…' where it is cut). SQLite: FTS5, after indexing
   * what the deferred index has not yet (B49); Postgres: the generated tsvector `bc_messages.search`.
   */
  search(userId: number, words: string[], limit: number): Promise<SearchRow[]>

  insertUpload(u: NewUpload, tx?: Tx): Promise<void>
  upload(name: string, tx?: Tx): Promise<UploadRow | null>
  /** Records that a member played a voice message; false if they had already. */
  markPlayed(messageId: number, threadId: number, userId: number, tx?: Tx): Promise<boolean>
  /** The voice messages of a thread a member played (the latest 1000). */
  playedIn(threadId: number, userId: number, tx?: Tx): Promise<number[]>
  /** Bytes a member uploaded since `since`. */
  uploadedSince(userId: number, since: number, tx?: Tx): Promise<number>

  followersOnly(userId: number, tx?: Tx): Promise<boolean>
  /** Everything a send's rules read (SendFacts), inside the batch's change. */
  sendFacts(item: SendRead, tx?: Tx): Promise<SendFacts>
  /**
   * Several sends' facts, in their order, read together (Postgres: a statement per kind of fact, not per send). Given
   * what sendFactsEarly read, only what changed since is read (inside the change, under the seq lock).
   */
  sendFactsOf(items: readonly SendRead[], tx?: Tx, early?: EarlyFacts): Promise<SendFacts[]>
  /**
   * Postgres only: a batch's facts read before its change takes the seq lock, with the committed seq they are as new
   * as; sendFactsOf(items, tx, early) under the lock then reads only the rows changed after that seq (B61).
   */
  sendFactsEarly?(items: readonly SendRead[]): Promise<EarlyFacts>
  /**
   * SQLite only: the synchronous twins of the batched send's store calls, inside the change given (its `tx`), so that
   * the batch's inner loop runs without a promise per call. Absent on Postgres (its calls are asynchronous).
   */
  readonly now?: SendNow
  setFollowersOnly(userId: number, on: boolean, tx?: Tx): Promise<void>

  insertQuestion(q: NewQuestion, tx?: Tx): Promise<number>
  question(id: number, tx?: Tx): Promise<QuestionRow | null>
  /** The question an author asked with this client id (a retried ask). */
  questionByClient(authorId: number, clientId: string, tx?: Tx): Promise<QuestionRow | null>
  /** A thread's questions, most voted first. */
  questions(threadId: number, tx?: Tx): Promise<QuestionRow[]>
  /** Up to `limit` questions changed after `seq`, in seq order. */
  questionsAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx): Promise<QuestionRow[]>
  /** The questions of a thread a member voted for. */
  votedIn(threadId: number, userId: number, tx?: Tx): Promise<Set<number>>
  /** Records a member's vote; false when they had voted for it already (nothing changed). */
  addVote(questionId: number, userId: number, tx?: Tx): Promise<boolean>
  /** Counts a question's votes again (after addVote). */
  recountVotes(questionId: number, threadId: number, seq: number, tx?: Tx): Promise<void>
  setQuestionState(questionId: number, threadId: number, state: QuestionState, seq: number, tx?: Tx): Promise<void>
  /** A room's questions that were brought to the stage, in the order they were. */
  stagedQuestions(roomId: number, tx?: Tx): Promise<{ stagedAt: number; body: string; authorId: number | null }[]>
  /** The question was brought to the stage (its asker invited to speak). */
  stageQuestion(questionId: number, threadId: number, seq: number, tx?: Tx): Promise<void>

  /** A member's own rows (their export). */
  memberData(userId: number, tx?: Tx): Promise<MemberDataRows>
  /** The ids of the messages an account's deletion erases: not deleted yet, outside 1:1 threads. */
  erasable(userId: number, tx?: Tx): Promise<number[]>
  /** What else goes with a deleted account: its Backchannel settings and its reactions, as one. */
  forgetMember(userId: number, tx?: Tx): Promise<void>
}

const MY_THREAD = `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
   FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id`

/**
 * How long after a send its message waits for the search index's transaction, which takes every message of the
 * interval at once (a search before that indexes them itself).
 */
const SEARCH_INDEX_DELAY_MS = 250

const statements = (db: SqliteGate['db']) => ({
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

  // Its id is the connection's last rowid (run()'s lastInsertRowid): cheaper than RETURNING, on the send's hot path.
  insertMessage: db.prepare<never, [number, number, string, string, string | null, number | null, number, number]>(
    `INSERT INTO bc_messages (thread_id, author_id, client_id, body, image, reply_to, created_at, seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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

  // ——— a member's own data (member-data.ts) ———
  dataThreads: db.prepare<DataThreadRow, [number]>(
    `SELECT t.id, t.kind, t.title, t.room_id, t.created_at, m.state, m.joined_at
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id WHERE m.user_id = ? ORDER BY t.id`,
  ),
  memberIds: db.prepare<{ user_id: number }, [number]>('SELECT user_id FROM bc_members WHERE thread_id = ?'),
  dataMessages: db.prepare<DataMessageRow, [number]>(
    `SELECT id, thread_id, body, image, reply_to, created_at, edited_at, deleted_at
     FROM bc_messages WHERE author_id = ? ORDER BY id`,
  ),
  dataUploads: db.prepare<DataUploadRow, [number]>(
    'SELECT name, thread_id, mime, size, created_at FROM bc_uploads WHERE user_id = ? ORDER BY created_at',
  ),
  erasable: db.prepare<{ id: number }, [number]>(
    `SELECT m.id FROM bc_messages m JOIN bc_threads t ON t.id = m.thread_id
     WHERE m.author_id = ? AND m.deleted_at IS NULL AND t.kind != 'dm' ORDER BY m.id`,
  ),
  dropPrefs: db.prepare<never, [number]>('DELETE FROM bc_prefs WHERE user_id = ?'),
  dropReactions: db.prepare<never, [number]>('DELETE FROM bc_reactions WHERE user_id = ?'),
})
/** Rethrows a failed write saying what it was doing. */
function failed(what: string, e: unknown): never {
  throw new Error(`store: unable to ${what}: ${(e as Error).message}`, { cause: e })
}

/** FTS5's MATCH for a member's words: each quoted (nothing of FTS5's syntax gets through), the last a prefix. */
const ftsMatch = (words: string[]) =>
  words.map((w, i) => `"${w.replace(/"/g, '')}"${i === words.length - 1 ? '*' : ''}`).join(' ')

/**
 * Runs changes' `committed` callbacks one at a time in the order of their commits (so a change's events never go out
 * after those of a later seq): a change takes its turn inside its transaction, once `write` succeeded; the turn is
 * given up when the commit fails. A `committed` callback must not wait for another change's `committed`.
 */
export class CommitOrder {
  private last: Promise<void> = Promise.resolve()
  take() {
    const prev = this.last
    let done!: () => void
    this.last = new Promise<void>((r) => {
      done = r
    })
    return {
      run: async <R>(fn: () => R | Promise<R>): Promise<R> => {
        try {
          await prev
          return await fn()
        } finally {
          done()
        }
      },
      skip: () => {
        void prev.then(done)
      },
    }
  }
}

/** The member cache holds this many threads at most (then starts over). */
const MEMBER_CACHE_THREADS = 5000

/**
 * Backchannel on the one bun:sqlite connection, through the gate: statements given a change's `tx` run at once (the
 * batched send's inner loop stays synchronous underneath); others wait while a transaction is open.
 */
export class SqliteBackchannelStore implements BackchannelStore {
  readonly dialect = 'sqlite'
  private readonly q: ReturnType<typeof statements>
  private readonly db: SqliteGate['db']
  /** The last seq taken (saved in bc_counter by the change that took it; the gate runs one change at a time). */
  private last: number
  /** Who is in a thread and in what state: read by every rule, refreshed by the writes that change it. */
  private memberCache = new Map<number, Map<number, Membership>>()
  private readonly order = new CommitOrder()
  /** The search index's catch-up, once scheduled (indexSearch). */
  private indexTimer: ReturnType<typeof setTimeout> | null = null

  constructor(private readonly gate: SqliteGate) {
    this.db = gate.db
    this.q = statements(gate.db)
    this.last = this.q.getSeq.get()!.seq
    // Messages committed but not indexed when the server last stopped (a crash between the two writes).
    this.indexNow()
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  private run<T>(tx: Tx | undefined, fn: () => T) {
    return this.gate.run(tx, fn)
  }
  /** Several statements as one: in the transaction given, else in one of their own. */
  private atomic<T>(tx: Tx | undefined, fn: () => T): Promise<T> {
    return tx ? this.gate.run(tx, fn) : this.gate.transaction(async () => fn())
  }

  // ——— the search index (SQLite only: migration 0010, B49) ———

  /**
   * Indexes for search every message above the mark (migration 0010), in one transaction of its own, and moves the
   * mark: the send's transaction no longer writes the FTS5 row (in batches, this costs a fifth of the row written by
   * the send's trigger). Runs shortly after sends (scheduleIndex), before every search (so a search finds every
   * acknowledged message), at start (a crash between a commit and its index) and at stop. The commit is not
   * synchronous: a crash can lose it, and with it the mark's move, so the next start indexes the same rows again.
   * Returns how far the mark moved (message ids; 0: nothing was left to index).
   */
  indexSearch(): Promise<number> {
    if (this.indexTimer) {
      clearTimeout(this.indexTimer)
      this.indexTimer = null
    }
    // Outside any transaction (the gate waits for the open one): the pragma, the index's transaction and the pragma
    // back run as one synchronous block.
    return this.gate.run(undefined, () => this.indexNow())
  }

  private indexNow(): number {
    // The connection's own setting (FULL, openDatabase) comes back after the index's commit.
    const sync = this.db.query<{ synchronous: number }, []>('PRAGMA synchronous').get()!.synchronous
    this.db.exec('PRAGMA synchronous = NORMAL')
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
      this.db.exec(`PRAGMA synchronous = ${Math.trunc(sync)}`)
    }
    return indexed
  }

  /** Indexes the new messages for search within SEARCH_INDEX_DELAY_MS (one transaction for all of them). */
  private scheduleIndex() {
    if (this.indexTimer) return
    this.indexTimer = setTimeout(() => {
      this.indexTimer = null
      // On failure the messages stay above the mark: the next send's timer, search or start indexes them.
      this.indexSearch().catch(() => {})
    }, SEARCH_INDEX_DELAY_MS)
    this.indexTimer.unref?.()
  }

  async stop() {
    await this.indexSearch()
  }

  // ——— the seq and changes ———

  async seq() {
    return this.last
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
    let before: number | null = null
    let turn: ReturnType<CommitOrder['take']> | null = null
    let written: T
    try {
      written = await this.gate.transaction(async (tx) => {
        before = this.last
        let open = true
        const nextSeq: NextSeq = () => {
          if (!open) throw new Error('store: a seq is taken only inside a change')
          return ++this.last
        }
        try {
          const r = await write(nextSeq, tx)
          if (this.last !== before) this.q.setSeq.run(this.last)
          if (committed) turn = this.order.take()
          return r
        } finally {
          open = false
        }
      })
    } catch (e) {
      ;(turn as ReturnType<CommitOrder['take']> | null)?.skip()
      if (before !== null) {
        this.last = before
        // A member write inside may have refreshed the cache with rows that are now rolled back.
        this.memberCache.clear()
      }
      throw e
    }
    if (!committed || !turn) return written
    return (turn as ReturnType<CommitOrder['take']>).run(() => committed(written))
  }

  // ——— threads ———

  insertThread(
    kind: ThreadKind,
    title: string,
    creatorId: number | null,
    dmKey: string | null,
    roomId: number | null,
    seq: number,
    tx?: Tx,
  ) {
    return this.run(tx, () => {
      const now = Date.now()
      try {
        return this.q.insertThread.get(kind, title, creatorId, dmKey, roomId, now, seq, seq, now)!.id
      } catch (e) {
        failed(`create a ${kind} thread`, e)
      }
    })
  }
  thread(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.thread.get(id))
  }
  threadByDmKey(key: string, tx?: Tx) {
    return this.run(tx, () => this.q.threadByDmKey.get(key))
  }
  threadByRoom(roomId: number, kind: ThreadKind, tx?: Tx) {
    return this.run(tx, () => this.q.threadByRoom.get(roomId, kind))
  }
  async touchThread(threadId: number, seq: number, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`mark thread ${threadId} changed`, e)
      }
    })
  }
  async touchMeta(threadId: number, seq: number, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.touchMeta.run(seq, seq, threadId)
      } catch (e) {
        failed(`mark thread ${threadId} changed`, e)
      }
    })
  }
  async renameThread(threadId: number, title: string, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.setTitle.run(title, threadId)
        this.q.touchMeta.run(seq, seq, threadId)
      } catch (e) {
        failed(`rename thread ${threadId}`, e)
      }
    })
  }
  async setChat(threadId: number, enabled: boolean, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.setChat.run(enabled ? 1 : 0, threadId)
        this.q.touchMeta.run(seq, seq, threadId)
      } catch (e) {
        failed(`turn the chat of thread ${threadId} ${enabled ? 'on' : 'off'}`, e)
      }
    })
  }

  // ——— members ———

  member(threadId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.member.get(threadId, userId))
  }
  /** Cached: a hit is answered without waiting for the gate (what it holds is committed, or this change's own). */
  members(threadId: number, tx?: Tx): Promise<ReadonlyMap<number, Membership>> {
    const m = this.memberCache.get(threadId)
    if (m) return Promise.resolve(m)
    return this.run(tx, () => this.membersNow(threadId))
  }
  /** The cache's read (synchronous: the batched send's checks read members through it). */
  membersNow(threadId: number): ReadonlyMap<number, Membership> {
    let m = this.memberCache.get(threadId)
    if (!m) {
      m = new Map(this.q.memberships.all(threadId).map((r) => [r.user_id, r]))
      if (this.memberCache.size > MEMBER_CACHE_THREADS) this.memberCache.clear()
      this.memberCache.set(threadId, m)
    }
    return m
  }
  memberList(threadId: number, tx?: Tx) {
    return this.run(tx, () => this.q.memberList.all(threadId))
  }
  countMembers(threadId: number, tx?: Tx) {
    return this.run(tx, () => this.q.countMembers.get(threadId)!.n)
  }
  async upsertMember(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.upsertMember.run(threadId, userId, state, seq, Date.now())
      } catch (e) {
        failed(`add member ${userId} to thread ${threadId}`, e)
      }
      this.memberCache.delete(threadId)
    })
  }
  async setMemberState(threadId: number, userId: number, state: MemberState, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.setMemberState.run(state, seq, threadId, userId)
        this.q.touchMeta.run(seq, seq, threadId)
      } catch (e) {
        failed(`set member ${userId} of thread ${threadId} ${state}`, e)
      }
      this.memberCache.delete(threadId)
    })
  }
  async setMuted(threadId: number, userId: number, muted: boolean, seq: number, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.setMuted.run(muted ? 1 : 0, seq, threadId, userId)
      } catch (e) {
        failed(`${muted ? 'mute' : 'unmute'} thread ${threadId} for member ${userId}`, e)
      }
      this.memberCache.delete(threadId)
    })
  }
  async setRead(threadId: number, userId: number, messageId: number, seq: number, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.setRead.run(messageId, seq, threadId, userId, messageId)
      } catch (e) {
        failed(`mark thread ${threadId} read for member ${userId}`, e)
      }
    })
  }

  // ——— a member's threads ———

  myThread(userId: number, threadId: number, tx?: Tx) {
    return this.run(tx, () => this.q.myThread.get(userId, threadId))
  }
  inbox(userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.inbox.all(userId))
  }
  roomThreads(userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.roomThreads.all(userId))
  }
  changedThreads(userId: number, after: number, tx?: Tx) {
    return this.run(tx, () => this.q.changedThreads.all(userId, after, after))
  }
  unread(threadId: number, lastReadId: number, viewerId: number, tx?: Tx) {
    return this.run(tx, () => this.q.unread.get(threadId, lastReadId, viewerId)!.n)
  }

  // ——— messages ———

  insertMessage(m: NewMessage, tx?: Tx) {
    return this.run(tx, () => this.insertMessageNow(m))
  }
  insertMessages(ms: readonly NewMessage[], tx?: Tx, last = false) {
    return this.atomic(tx, () => {
      const ids = ms.map((m) => this.insertMessageNow({ ...m, touch: false }))
      const newest = new Map<number, number>()
      if (last) for (const [i, m] of ms.entries()) newest.set(m.threadId, i)
      for (const i of newest.values())
        this.lastMessageNow(ms[i]!.threadId, ids[i]!, ms[i]!.at ?? Date.now(), ms[i]!.seq)
      return ids
    })
  }
  /** insertMessage's statements (synchronous: the batched send's inner loop on SQLite). */
  insertMessageNow(m: NewMessage): number {
    const now = m.at ?? Date.now()
    try {
      const id = Number(
        this.q.insertMessage.run(m.threadId, m.authorId, m.clientId, m.body, m.image, m.replyTo, now, m.seq)
          .lastInsertRowid,
      )
      if (m.touch !== false) this.q.setLastMessage.run(id, now, m.seq, m.threadId)
      this.scheduleIndex()
      return id
    } catch (e) {
      failed(`add a message to thread ${m.threadId}`, e)
    }
  }
  async lastMessage(threadId: number, id: number, at: number, seq: number, tx?: Tx) {
    await this.run(tx, () => this.lastMessageNow(threadId, id, at, seq))
  }
  private lastMessageNow(threadId: number, id: number, at: number, seq: number) {
    try {
      this.q.setLastMessage.run(id, at, seq, threadId)
    } catch (e) {
      failed(`mark thread ${threadId} changed`, e)
    }
  }
  message(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.message.get(id))
  }
  messageByClient(authorId: number, clientId: string, tx?: Tx) {
    return this.run(tx, () => this.q.messageByClient.get(authorId, clientId))
  }
  history(threadId: number, before: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.history.all(threadId, before, limit))
  }
  messagesAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.messagesAfterSeq.all(threadId, seq, limit))
  }
  async editMessage(messageId: number, threadId: number, body: string, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.editMessage.run(body, Date.now(), seq, messageId)
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`edit message ${messageId}`, e)
      }
    })
  }
  deleteMessage(m: Pick<MessageRow, 'id' | 'thread_id' | 'image'>, seq: number, tx?: Tx) {
    return this.atomic(tx, (): string[] | null => {
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
    })
  }
  async react(messageId: number, threadId: number, userId: number, emoji: string, on: boolean, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        if (on) this.q.addReaction.run(messageId, userId, emoji, Date.now())
        else this.q.removeReaction.run(messageId, userId, emoji)
        this.q.bumpMessage.run(seq, messageId)
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`${on ? 'add' : 'remove'} a reaction of member ${userId} on message ${messageId}`, e)
      }
    })
  }
  reactions(messageId: number, tx?: Tx) {
    return this.run(tx, () => {
      const out: Record<string, number[]> = {}
      for (const r of this.q.reactions.all(messageId)) (out[r.emoji] ??= []).push(r.user_id)
      return out
    })
  }
  reactionsOf(messageIds: number[], tx?: Tx) {
    return this.run(tx, () => {
      const out = new Map<number, Record<string, number[]>>()
      if (!messageIds.length) return out
      for (const r of this.q.reactionsOf.all(JSON.stringify(messageIds))) {
        let of = out.get(r.message_id)
        if (!of) out.set(r.message_id, (of = {}))
        ;(of[r.emoji] ??= []).push(r.user_id)
      }
      return out
    })
  }
  reactionKinds(messageId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.reactionKinds.get(messageId, userId)!.n)
  }
  messageCounts(since: number, tx?: Tx) {
    return this.run(tx, () => ({ messages: this.q.countMessages.get()!.n, since: this.q.countSince.get(since)!.n }))
  }
  async search(userId: number, words: string[], limit: number) {
    if (!words.length) return []
    // Every committed message first: a search finds a message as soon as its send is acknowledged (B9, B49).
    await this.indexSearch()
    return this.run(undefined, () => this.q.search.all(userId, ftsMatch(words), limit))
  }

  // ——— uploads ———

  async insertUpload(u: NewUpload, tx?: Tx) {
    await this.run(tx, () => {
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
    })
  }
  upload(name: string, tx?: Tx) {
    return this.run(tx, () => this.q.upload.get(name))
  }
  markPlayed(messageId: number, threadId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => {
      try {
        return this.q.markPlayed.get(messageId, userId, threadId, Date.now()) !== null
      } catch (e) {
        failed(`mark voice message ${messageId} played by member ${userId}`, e)
      }
    })
  }
  playedIn(threadId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.playedIn.all(userId, threadId).map((r) => r.message_id))
  }
  uploadedSince(userId: number, since: number, tx?: Tx) {
    return this.run(tx, () => this.q.uploadedSince.get(userId, since)!.n)
  }

  // ——— settings ———

  followersOnly(userId: number, tx?: Tx) {
    return this.run(tx, () => !!this.q.prefs.get(userId)?.followers_only)
  }
  sendFacts(item: SendRead, tx?: Tx) {
    return this.run(tx, () => this.sendFactsNow(item))
  }
  sendFactsOf(items: readonly SendRead[], tx?: Tx) {
    return this.run(tx, () => items.map((item) => this.sendFactsNow(item)))
  }
  private sendFactsNow(item: SendRead): SendFacts {
    const thread = this.q.thread.get(item.threadId)
    const members = thread ? this.membersNow(thread.id) : new Map<number, Membership>()
    let otherFollowersOnly = false
    if (thread?.kind === 'dm')
      for (const m of members.values())
        if (m.user_id !== item.authorId && m.state === 'request')
          otherFollowersOnly = !!this.q.prefs.get(m.user_id)?.followers_only
    return {
      stored: this.q.messageByClient.get(item.authorId, item.clientId),
      thread,
      members,
      otherFollowersOnly,
      upload: item.upload ? this.q.upload.get(item.upload) : null,
      reply: item.replyTo ? this.q.message.get(item.replyTo) : null,
    }
  }
  readonly now: SendNow = {
    sendFacts: (item, tx) => this.gate.runNow(tx, () => this.sendFactsNow(item)),
    insertMessage: (m, tx) => this.gate.runNow(tx, () => this.insertMessageNow(m)),
    lastMessage: (threadId, id, at, seq, tx) => this.gate.runNow(tx, () => this.lastMessageNow(threadId, id, at, seq)),
    cachedMembers: (threadId) => this.memberCache.get(threadId),
  }
  async setFollowersOnly(userId: number, on: boolean, tx?: Tx) {
    await this.run(tx, () => {
      try {
        this.q.setPrefs.run(userId, on ? 1 : 0)
      } catch (e) {
        failed(`save the settings of member ${userId}`, e)
      }
    })
  }

  // ——— questions (a room's Q&A, kept with its chat thread) ———

  insertQuestion(q: NewQuestion, tx?: Tx) {
    return this.atomic(tx, () => {
      try {
        const id = this.q.insertQuestion.get(
          q.threadId,
          q.roomId,
          q.authorId,
          q.clientId,
          q.body,
          Date.now(),
          q.seq,
        )!.id
        this.q.touchThread.run(q.seq, q.threadId)
        return id
      } catch (e) {
        failed(`add a question to room ${q.roomId}`, e)
      }
    })
  }
  question(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.question.get(id))
  }
  questionByClient(authorId: number, clientId: string, tx?: Tx) {
    return this.run(tx, () => this.q.questionByClient.get(authorId, clientId))
  }
  questions(threadId: number, tx?: Tx) {
    return this.run(tx, () => this.q.questions.all(threadId))
  }
  questionsAfterSeq(threadId: number, seq: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.questionsAfterSeq.all(threadId, seq, limit))
  }
  votedIn(threadId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => new Set(this.q.myVotes.all(threadId, userId).map((v) => v.question_id)))
  }
  addVote(questionId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => {
      try {
        return this.q.vote.get(questionId, userId) !== null
      } catch (e) {
        failed(`record the vote of member ${userId} on question ${questionId}`, e)
      }
    })
  }
  async recountVotes(questionId: number, threadId: number, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.countVotes.run(questionId, seq, questionId)
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`count the votes on question ${questionId}`, e)
      }
    })
  }
  async setQuestionState(questionId: number, threadId: number, state: QuestionState, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.setQuestionState.run(state, seq, questionId)
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`mark question ${questionId} ${state}`, e)
      }
    })
  }
  stagedQuestions(roomId: number, tx?: Tx) {
    return this.run(tx, () =>
      this.q.stagedQuestions.all(roomId).map((q) => ({ stagedAt: q.staged_at, body: q.body, authorId: q.author_id })),
    )
  }
  async stageQuestion(questionId: number, threadId: number, seq: number, tx?: Tx) {
    await this.atomic(tx, () => {
      try {
        this.q.stageQuestion.run(Date.now(), seq, questionId)
        this.q.touchThread.run(seq, threadId)
      } catch (e) {
        failed(`bring question ${questionId} to the stage`, e)
      }
    })
  }

  // ——— a member's own data ———

  memberData(userId: number, tx?: Tx) {
    return this.run(tx, () => ({
      threads: this.q.dataThreads
        .all(userId)
        .map((t) => ({ ...t, memberIds: this.q.memberIds.all(t.id).map((r) => r.user_id) })),
      messages: this.q.dataMessages.all(userId),
      uploads: this.q.dataUploads.all(userId),
    }))
  }
  erasable(userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.erasable.all(userId).map((r) => r.id))
  }
  async forgetMember(userId: number, tx?: Tx) {
    await this.atomic(tx, () => {
      this.q.dropPrefs.run(userId)
      this.q.dropReactions.run(userId)
    })
  }
}
