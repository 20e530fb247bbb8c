// A member's own Backchannel data: what their export holds (the threads they are in, with who is in them; every
// message they wrote; their uploads) and which of their messages their account's deletion erases (those outside 1:1
// conversations: the other person of a 1:1 keeps it, as with a letter). The rows come from the store (SQLite or
// Postgres).
import type { BackchannelStore } from './store'

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export class BackchannelData {
  constructor(private store: BackchannelStore) {}

  /** The Backchannel part of an export; `names` turns user ids into usernames. */
  async exportOf(userId: number, names: (ids: number[]) => Map<number, string>) {
    const rows = await this.store.memberData(userId)
    const threads = rows.threads.map((t) => {
      const users = names(t.memberIds)
      return {
        id: t.id,
        kind: t.kind,
        title: t.title,
        roomId: t.room_id,
        created: iso(t.created_at),
        myState: t.state,
        joined: iso(t.joined_at),
        members: t.memberIds.map((id) => users.get(id) ?? null).filter((n) => n !== null),
      }
    })
    const messages = rows.messages.map((m) => ({
      id: m.id,
      threadId: m.thread_id,
      body: m.body,
      image: m.image,
      replyTo: m.reply_to,
      sent: iso(m.created_at),
      edited: iso(m.edited_at),
      deleted: iso(m.deleted_at),
    }))
    const uploads = rows.uploads.map((u) => ({
      name: u.name,
      threadId: u.thread_id,
      mime: u.mime,
      size: u.size,
      uploaded: iso(u.created_at),
    }))
    return { threads, messages, uploads }
  }

  /** The ids of the messages an account's deletion erases: not deleted yet, outside 1:1 threads. */
  erasable(userId: number) {
    return this.store.erasable(userId)
  }

  /** What else goes with the account: its Backchannel settings and its reactions. */
  forget(userId: number) {
    return this.store.forgetMember(userId)
  }
}
