// Rows to wire shapes: messages, threads and questions as a given member sees them.
import { avatarUrl } from '../accounts/model'
import type { AccountsStore } from '../accounts/store'
import type { BackchannelStore } from './store'
import type { Message, Person, Question, Thread } from '../protocol'
import { isRoomThread, type MessageRow, type MyThreadRow, type QuestionRow } from './model'

const PEOPLE_TTL_MS = 30_000

export class Views {
  private people = new Map<number, { p: Person | null; at: number }>()

  constructor(private store: BackchannelStore, private accounts: AccountsStore) {}

  person(id: number | null): Person | null {
    if (id === null) return null
    const hit = this.people.get(id)
    const now = Date.now()
    if (hit && now - hit.at < PEOPLE_TTL_MS) return hit.p
    const u = this.accounts.byId(id)
    const p = u ? { id: u.id, username: u.username, displayName: u.display_name || u.username, avatar: avatarUrl(u.avatar) } : null
    if (this.people.size > 10_000) this.people.clear()
    this.people.set(id, { p, at: now })
    return p
  }

  imageUrl(threadId: number, name: string | null) { return name ? `/api/threads/${threadId}/images/${name}` : null }

  message(m: MessageRow, reactions?: Record<string, number[]>): Message {
    let replyTo: Message['replyTo'] = null
    if (m.reply_to) {
      const r = this.store.q.message.get(m.reply_to)
      if (r) replyTo = { id: r.id, author: this.person(r.author_id)?.username ?? null, body: r.body.slice(0, 140), deleted: r.deleted_at !== null }
    }
    return {
      id: m.id, threadId: m.thread_id, seq: m.seq, clientId: m.client_id, author: this.person(m.author_id),
      body: m.body, image: this.imageUrl(m.thread_id, m.image), replyTo,
      reactions: reactions ?? this.reactions(m.id), createdAt: m.created_at, editedAt: m.edited_at, deleted: m.deleted_at !== null,
    }
  }

  /** A page of messages, their reactions read in one query. */
  messages(rows: MessageRow[]): Message[] {
    const reactions = new Map<number, Record<string, number[]>>()
    if (rows.length) {
      for (const r of this.store.q.reactionsOf.all(JSON.stringify(rows.map((m) => m.id)))) {
        let out = reactions.get(r.message_id)
        if (!out) reactions.set(r.message_id, (out = {}))
        ;(out[r.emoji] ??= []).push(r.user_id)
      }
    }
    return rows.map((m) => this.message(m, reactions.get(m.id) ?? {}))
  }

  reactions(messageId: number): Record<string, number[]> {
    const out: Record<string, number[]> = {}
    for (const r of this.store.q.reactions.all(messageId)) (out[r.emoji] ??= []).push(r.user_id)
    return out
  }

  thread(row: MyThreadRow, viewerId: number): Thread {
    const room = isRoomThread(row.kind)
    const readable = row.my_state === 'active' || row.my_state === 'request' || room
    // Someone who left, was removed or declined learns nothing more about who is in it.
    const members = room || !readable ? [] : this.store.q.memberUsers.all(row.id).map((m) => ({
      id: m.user_id, username: m.username, displayName: m.display_name || m.username,
      avatar: avatarUrl(m.avatar), state: m.state,
      // Someone who has not accepted a request does not reveal what they read.
      lastReadId: m.state === 'request' && m.user_id !== viewerId ? 0 : m.last_read_id,
    }))
    const last = readable && row.last_message_id ? this.store.q.message.get(row.last_message_id) : null
    return {
      id: row.id, kind: row.kind, title: row.title, creatorId: row.creator_id, roomId: row.room_id, chatEnabled: !!row.chat_enabled,
      state: row.my_state, muted: !!row.muted, lastReadId: row.last_read_id,
      unread: readable && !room ? this.store.q.unread.get(row.id, row.last_read_id, viewerId)!.n : 0,
      lastMessage: last ? this.message(last, {}) : null, lastAt: row.last_at,
      members, memberCount: room ? this.store.q.countMembers.get(row.id)!.n : members.length, seq: Math.max(row.last_seq, row.my_seq),
    }
  }

  question(q: QuestionRow, voted: boolean): Question {
    return {
      id: q.id, roomId: q.room_id, threadId: q.thread_id, seq: q.seq, author: this.person(q.author_id), body: q.body,
      state: q.state, votes: q.votes, voted, stagedAt: q.staged_at, createdAt: q.created_at,
    }
  }
}
