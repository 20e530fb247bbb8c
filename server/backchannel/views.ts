// Rows to wire shapes: messages, threads and questions as a given member sees them. Who someone is comes from the
// accounts (AccountsApi), never from their table.
import type { AccountsApi } from '../contracts'
import type { Media, Message, Person, Question, Thread } from '../protocol'
import { isRoomThread, type MessageRow, type MyThreadRow, type QuestionRow, type UploadRow } from './model'
import type { Tx } from '../db/store'
import type { BackchannelStore } from './store'

const PEOPLE_TTL_MS = 30_000

const personOf = (u: { id: number; username: string; displayName: string; avatar: string | null }): Person => ({
  id: u.id,
  username: u.username,
  displayName: u.displayName,
  avatar: u.avatar,
})

export class Views {
  private people = new Map<number, { p: Person | null; at: number }>()

  constructor(
    private store: BackchannelStore,
    private accounts: AccountsApi,
  ) {}

  /** An author as messages show them (cached for a while: a send does not look its author up again). */
  person(id: number | null): Person | null {
    if (id === null) return null
    const hit = this.people.get(id)
    const now = Date.now()
    if (hit && now - hit.at < PEOPLE_TTL_MS) return hit.p
    const u = this.accounts.byId(id)
    const p = u ? personOf(u) : null
    if (this.people.size > 10_000) this.people.clear()
    this.people.set(id, { p, at: now })
    return p
  }

  /** Drops a cached author (their account was erased: they show as "Deleted member" from now on). */
  forget(id: number) {
    this.people.delete(id)
  }

  imageUrl(threadId: number, name: string | null) {
    return name ? `/api/threads/${threadId}/images/${name}` : null
  }

  mediaUrl(threadId: number, name: string) {
    return `/api/threads/${threadId}/media/${name}`
  }

  media(up: UploadRow): Media {
    return {
      kind: up.kind === 'voice' ? 'voice' : 'video',
      url: this.mediaUrl(up.thread_id, up.name),
      mime: up.mime,
      size: up.size,
      durationMs: up.duration_ms ?? 0,
      poster: this.imageUrl(up.thread_id, up.poster),
      waveform: up.waveform ? [...up.waveform] : [],
    }
  }

  /** A message as everyone sees it; its quote, attachment and reactions read (in `tx` when inside a change). */
  async message(m: MessageRow, reactions?: Record<string, number[]>, tx?: Tx): Promise<Message> {
    const reply = m.reply_to ? await this.store.message(m.reply_to, tx) : null
    // The attachment is an image, or a video or voice message (whose upload says what it is).
    const up = m.image ? await this.store.upload(m.image, tx) : null
    return this.messageOf(m, reply, up, reactions ?? (await this.store.reactions(m.id, tx)))
  }

  /** message() from what was read: the quoted message and the attachment's upload (no read; a new send's wire form). */
  messageOf(m: MessageRow, r: MessageRow | null, up: UploadRow | null, reactions: Record<string, number[]>): Message {
    const replyTo: Message['replyTo'] = r
      ? {
          id: r.id,
          author: this.person(r.author_id)?.username ?? null,
          body: r.body.slice(0, 140),
          deleted: r.deleted_at !== null,
        }
      : null
    const media = up && up.kind !== 'image' ? this.media(up) : null
    return {
      id: m.id,
      threadId: m.thread_id,
      seq: m.seq,
      clientId: m.client_id,
      author: this.person(m.author_id),
      body: m.body,
      image: media ? null : this.imageUrl(m.thread_id, m.image),
      media,
      replyTo,
      reactions,
      createdAt: m.created_at,
      editedAt: m.edited_at,
      deleted: m.deleted_at !== null,
    }
  }

  /** A page of messages, their reactions read in one query; as `viewerId` sees them (B32). */
  async messages(rows: MessageRow[], viewerId?: number): Promise<Message[]> {
    const reactions = await this.store.reactionsOf(rows.map((m) => m.id))
    const out: Message[] = []
    for (const m of rows) out.push(await this.message(m, reactions.get(m.id) ?? {}))
    return viewerId === undefined ? out : this.forViewer(out, viewerId)
  }

  /**
   * Messages as a member sees them: in a group or a room's threads, those of someone they blocked are withheld
   * (`hidden`, no body, image or reply), for the blocker only; the others see them as they are. A 1:1 thread keeps
   * what was said before the block (nothing new can be sent there).
   */
  async forViewer(messages: Message[], viewerId: number): Promise<Message[]> {
    const dm = new Map<number, boolean>()
    for (const threadId of new Set(messages.map((m) => m.threadId)))
      dm.set(threadId, (await this.store.thread(threadId))?.kind === 'dm')
    const inDm = (threadId: number) => dm.get(threadId)
    const blocked = new Map<number, boolean>()
    const isBlocked = (id: number) => {
      let b = blocked.get(id)
      if (b === undefined) blocked.set(id, (b = this.accounts.hasBlocked(viewerId, id)))
      return b
    }
    const quoted = (m: Message) => {
      const name = m.replyTo?.author
      const u = name ? this.accounts.byName(name) : null
      return !!u && u.id !== viewerId && isBlocked(u.id)
    }
    return messages.map((m) =>
      inDm(m.threadId)
        ? m
        : m.author && m.author.id !== viewerId && isBlocked(m.author.id)
          ? hide(m)
          : m.replyTo && quoted(m)
            ? { ...m, replyTo: { ...m.replyTo, body: '' } }
            : m,
    )
  }

  async thread(row: MyThreadRow, viewerId: number): Promise<Thread> {
    const room = isRoomThread(row.kind)
    const readable = row.my_state === 'active' || row.my_state === 'request' || room
    // Someone who left, was removed or declined learns nothing more about who is in it.
    const members = room || !readable ? [] : await this.members(row.id, viewerId)
    const last = readable && row.last_message_id ? await this.store.message(row.last_message_id) : null
    // Someone who left, was removed or declined sees the thread as it was when they went (their own row's seq):
    // not a title it was given afterwards, nor when it was last active.
    const gone = !readable
    return {
      id: row.id,
      kind: row.kind,
      title: gone && row.meta_seq > row.my_seq ? '' : row.title,
      creatorId: row.creator_id,
      roomId: row.room_id,
      chatEnabled: !!row.chat_enabled,
      state: row.my_state,
      muted: !!row.muted,
      lastReadId: row.last_read_id,
      unread: readable && !room ? await this.store.unread(row.id, row.last_read_id, viewerId) : 0,
      lastMessage: last ? ((await this.forViewer([await this.message(last, {})], viewerId))[0] ?? null) : null,
      lastAt: gone && row.last_seq > row.my_seq ? 0 : row.last_at,
      members,
      memberCount: room ? await this.store.countMembers(row.id) : members.length,
      seq: gone ? row.my_seq : Math.max(row.last_seq, row.my_seq),
    }
  }

  /** A 1:1 or group thread's member list: who has not left, in the order they joined (accounts looked up at once). */
  private async members(threadId: number, viewerId: number): Promise<Thread['members']> {
    const rows = await this.store.memberList(threadId)
    const users = this.accounts.publicUsers(rows.map((m) => m.user_id))
    return rows.flatMap((m) => {
      const u = users.get(m.user_id)
      if (!u) return []
      // Someone who has not accepted a request does not reveal what they read.
      return [
        {
          ...personOf(u),
          state: m.state,
          lastReadId: m.state === 'request' && m.user_id !== viewerId ? 0 : m.last_read_id,
        },
      ]
    })
  }

  question(q: QuestionRow, voted: boolean): Question {
    return {
      id: q.id,
      roomId: q.room_id,
      threadId: q.thread_id,
      seq: q.seq,
      author: this.person(q.author_id),
      body: q.body,
      state: q.state,
      votes: q.votes,
      voted,
      stagedAt: q.staged_at,
      createdAt: q.created_at,
    }
  }
}

/** A message withheld from someone who blocked its author. */
const hide = (m: Message): Message => ({ ...m, body: '', image: null, replyTo: null, hidden: true })
