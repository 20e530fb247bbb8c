// Backchannel's SQL, prepared once. The service owns transactions and the seq counter.
import type { Database } from 'bun:sqlite'
import type { MemberState, QuestionState, ThreadKind } from '../protocol'
import type { MemberRow, MemberUserRow, MessageRow, MyThreadRow, QuestionRow, ThreadRow, UploadRow } from './model'

const statements = (db: Database) => ({
  getSeq: db.prepare<{ seq: number }, []>('SELECT seq FROM bc_counter WHERE id = 1'),
  setSeq: db.prepare<never, [number]>('UPDATE bc_counter SET seq = ? WHERE id = 1'),

  insertThread: db.prepare<{ id: number }, [ThreadKind, string, number | null, string | null, number | null, number, number, number, number]>(
    `INSERT INTO bc_threads (kind, title, creator_id, dm_key, room_id, last_at, last_seq, meta_seq, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
  thread: db.prepare<ThreadRow, [number]>('SELECT * FROM bc_threads WHERE id = ?'),
  threadByDmKey: db.prepare<ThreadRow, [string]>('SELECT * FROM bc_threads WHERE dm_key = ?'),
  threadByRoom: db.prepare<ThreadRow, [number, ThreadKind]>('SELECT * FROM bc_threads WHERE room_id = ? AND kind = ?'),
  touchThread: db.prepare<never, [number, number]>('UPDATE bc_threads SET last_seq = ? WHERE id = ?'),
  touchMeta: db.prepare<never, [number, number, number]>('UPDATE bc_threads SET last_seq = ?, meta_seq = ? WHERE id = ?'),
  setLastMessage: db.prepare<never, [number, number, number, number]>('UPDATE bc_threads SET last_message_id = ?, last_at = ?, last_seq = ? WHERE id = ?'),
  setTitle: db.prepare<never, [string, number]>('UPDATE bc_threads SET title = ? WHERE id = ?'),
  setChat: db.prepare<never, [number, number]>('UPDATE bc_threads SET chat_enabled = ? WHERE id = ?'),

  member: db.prepare<MemberRow, [number, number]>('SELECT * FROM bc_members WHERE thread_id = ? AND user_id = ?'),
  members: db.prepare<MemberRow, [number]>('SELECT * FROM bc_members WHERE thread_id = ?'),
  memberUsers: db.prepare<MemberUserRow, [number]>(
    `SELECT m.user_id, m.state, m.last_read_id, u.username, u.display_name, u.avatar, u.role
     FROM bc_members m JOIN users u ON u.id = m.user_id WHERE m.thread_id = ? AND m.state != 'left' ORDER BY m.joined_at, m.user_id`),
  countMembers: db.prepare<{ n: number }, [number]>(`SELECT COUNT(*) AS n FROM bc_members WHERE thread_id = ? AND state != 'left'`),
  upsertMember: db.prepare<never, [number, number, MemberState, number, number]>(
    `INSERT INTO bc_members (thread_id, user_id, state, seq, joined_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (thread_id, user_id) DO UPDATE SET state = excluded.state, seq = excluded.seq`),
  setMemberState: db.prepare<never, [MemberState, number, number, number]>('UPDATE bc_members SET state = ?, seq = ? WHERE thread_id = ? AND user_id = ?'),
  setMuted: db.prepare<never, [number, number, number, number]>('UPDATE bc_members SET muted = ?, seq = ? WHERE thread_id = ? AND user_id = ?'),
  setRead: db.prepare<never, [number, number, number, number, number]>(
    'UPDATE bc_members SET last_read_id = ?, seq = ? WHERE thread_id = ? AND user_id = ? AND last_read_id < ?'),

  myThread: db.prepare<MyThreadRow, [number, number]>(
    `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id WHERE m.user_id = ? AND t.id = ?`),
  inbox: db.prepare<MyThreadRow, [number]>(
    `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id
     WHERE m.user_id = ? AND t.kind IN ('dm', 'group') AND m.state IN ('active', 'request')
       AND (t.kind = 'group' OR t.last_message_id IS NOT NULL)
     ORDER BY t.last_at DESC, t.id DESC LIMIT 500`),
  roomThreads: db.prepare<MyThreadRow, [number]>(
    `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id
     WHERE m.user_id = ? AND t.kind IN ('room_chat', 'backstage') AND (t.last_message_id IS NOT NULL OR t.last_seq > t.meta_seq)
     ORDER BY t.last_at DESC, t.id DESC LIMIT 100`),
  changedThreads: db.prepare<MyThreadRow, [number, number, number]>(
    `SELECT t.*, m.state AS my_state, m.muted, m.last_read_id, m.seq AS my_seq
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id
     WHERE m.user_id = ? AND (t.last_seq > ? OR m.seq > ?)`),
  unread: db.prepare<{ n: number }, [number, number, number]>(
    `SELECT COUNT(*) AS n FROM (SELECT 1 FROM bc_messages WHERE thread_id = ? AND id > ? AND author_id IS NOT ? AND deleted_at IS NULL LIMIT 100)`),

  insertMessage: db.prepare<{ id: number }, [number, number, string, string, string | null, number | null, number, number]>(
    `INSERT INTO bc_messages (thread_id, author_id, client_id, body, image, reply_to, created_at, seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
  message: db.prepare<MessageRow, [number]>('SELECT * FROM bc_messages WHERE id = ?'),
  messageByClient: db.prepare<MessageRow, [number, string]>('SELECT * FROM bc_messages WHERE author_id = ? AND client_id = ?'),
  history: db.prepare<MessageRow, [number, number, number]>('SELECT * FROM bc_messages WHERE thread_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
  messagesAfterSeq: db.prepare<MessageRow, [number, number, number]>('SELECT * FROM bc_messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
  editMessage: db.prepare<never, [string, number, number, number]>('UPDATE bc_messages SET body = ?, edited_at = ?, seq = ? WHERE id = ?'),
  deleteMessage: db.prepare<never, [number, number, number]>(`UPDATE bc_messages SET body = '', image = NULL, deleted_at = ?, seq = ? WHERE id = ?`),
  bumpMessage: db.prepare<never, [number, number]>('UPDATE bc_messages SET seq = ? WHERE id = ?'),
  countMessages: db.prepare<{ n: number }, []>('SELECT COUNT(*) AS n FROM bc_messages WHERE deleted_at IS NULL'),
  countSince: db.prepare<{ n: number }, [number]>('SELECT COUNT(*) AS n FROM bc_messages WHERE created_at >= ?'),

  reactions: db.prepare<{ emoji: string; user_id: number }, [number]>('SELECT emoji, user_id FROM bc_reactions WHERE message_id = ? ORDER BY created_at'),
  /** The reactions of several messages (their ids as a JSON array): one query for a page. */
  reactionsOf: db.prepare<{ message_id: number; emoji: string; user_id: number }, [string]>(
    'SELECT message_id, emoji, user_id FROM bc_reactions WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY created_at'),
  addReaction: db.prepare<never, [number, number, string, number]>('INSERT OR IGNORE INTO bc_reactions (message_id, user_id, emoji, created_at) VALUES (?, ?, ?, ?)'),
  removeReaction: db.prepare<never, [number, number, string]>('DELETE FROM bc_reactions WHERE message_id = ? AND user_id = ? AND emoji = ?'),
  reactionKinds: db.prepare<{ n: number }, [number, number]>('SELECT COUNT(DISTINCT emoji) AS n FROM bc_reactions WHERE message_id = ? AND user_id = ?'),

  insertUpload: db.prepare<never, [string, number, number, string, number, number]>(
    'INSERT INTO bc_uploads (name, thread_id, user_id, mime, size, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
  upload: db.prepare<UploadRow, [string]>('SELECT * FROM bc_uploads WHERE name = ?'),
  uploadedSince: db.prepare<{ n: number }, [number, number]>('SELECT COALESCE(SUM(size), 0) AS n FROM bc_uploads WHERE user_id = ? AND created_at > ?'),
  deleteUpload: db.prepare<never, [string]>('DELETE FROM bc_uploads WHERE name = ?'),
  // An image is sent only in the thread it was uploaded to: the thread's index bounds the search.
  imageInUse: db.prepare<{ x: number }, [number, string]>('SELECT 1 AS x FROM bc_messages WHERE thread_id = ? AND image = ? LIMIT 1'),

  prefs: db.prepare<{ followers_only: number }, [number]>('SELECT followers_only FROM bc_prefs WHERE user_id = ?'),
  setPrefs: db.prepare<never, [number, number]>(
    'INSERT INTO bc_prefs (user_id, followers_only) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET followers_only = excluded.followers_only'),

  search: db.prepare<MessageRow & { snip: string }, [number, string, number]>(
    `SELECT msg.*, snippet(bc_fts, 0, char(2), char(3), '…', 12) AS snip
     FROM bc_fts JOIN bc_messages msg ON msg.id = bc_fts.rowid
     JOIN bc_members mm ON mm.thread_id = msg.thread_id AND mm.user_id = ?
     JOIN bc_threads t ON t.id = msg.thread_id
     WHERE bc_fts MATCH ? AND msg.deleted_at IS NULL
       AND (mm.state IN ('active', 'request') OR (t.kind IN ('room_chat', 'backstage') AND mm.state = 'left'))
     ORDER BY rank LIMIT ?`),

  insertQuestion: db.prepare<{ id: number }, [number, number, number, string, string, number, number]>(
    `INSERT INTO bc_questions (thread_id, room_id, author_id, client_id, body, created_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
  question: db.prepare<QuestionRow, [number]>('SELECT * FROM bc_questions WHERE id = ?'),
  questionByClient: db.prepare<QuestionRow, [number, string]>('SELECT * FROM bc_questions WHERE author_id = ? AND client_id = ?'),
  questions: db.prepare<QuestionRow, [number]>('SELECT * FROM bc_questions WHERE thread_id = ? ORDER BY votes DESC, id LIMIT 500'),
  questionsAfterSeq: db.prepare<QuestionRow, [number, number, number]>('SELECT * FROM bc_questions WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?'),
  setQuestionState: db.prepare<never, [QuestionState, number, number]>('UPDATE bc_questions SET state = ?, seq = ? WHERE id = ?'),
  stageQuestion: db.prepare<never, [number, number, number]>(`UPDATE bc_questions SET staged_at = ?, seq = ? WHERE id = ?`),
  vote: db.prepare<{ question_id: number }, [number, number]>('INSERT OR IGNORE INTO bc_votes (question_id, user_id) VALUES (?, ?) RETURNING question_id'),
  countVotes: db.prepare<never, [number, number, number]>('UPDATE bc_questions SET votes = (SELECT COUNT(*) FROM bc_votes WHERE question_id = ?), seq = ? WHERE id = ?'),
  myVotes: db.prepare<{ question_id: number }, [number, number]>(
    'SELECT v.question_id FROM bc_votes v JOIN bc_questions q ON q.id = v.question_id WHERE q.thread_id = ? AND v.user_id = ?'),
})

export class BackchannelStore {
  readonly q: ReturnType<typeof statements>
  constructor(readonly db: Database) { this.q = statements(db) }

  insertThread(kind: ThreadKind, title: string, creatorId: number | null, dmKey: string | null, roomId: number | null, seq: number) {
    const now = Date.now()
    try {
      return this.q.insertThread.get(kind, title, creatorId, dmKey, roomId, now, seq, seq, now)!.id
    } catch (e) {
      throw new Error(`store: unable to create a ${kind} thread: ${(e as Error).message}`, { cause: e })
    }
  }

  upsertMember(threadId: number, userId: number, state: MemberState, seq: number) {
    try {
      this.q.upsertMember.run(threadId, userId, state, seq, Date.now())
    } catch (e) {
      throw new Error(`store: unable to add member ${userId} to thread ${threadId}: ${(e as Error).message}`, { cause: e })
    }
  }

  insertMessage(m: { threadId: number; authorId: number; clientId: string; body: string; image: string | null; replyTo: number | null; seq: number }) {
    const now = Date.now()
    try {
      const id = this.q.insertMessage.get(m.threadId, m.authorId, m.clientId, m.body, m.image, m.replyTo, now, m.seq)!.id
      this.q.setLastMessage.run(id, now, m.seq, m.threadId)
      return id
    } catch (e) {
      throw new Error(`store: unable to add a message to thread ${m.threadId}: ${(e as Error).message}`, { cause: e })
    }
  }
}
