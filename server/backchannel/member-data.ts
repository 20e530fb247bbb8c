// A member's own Backchannel data: what their export holds (the threads they are in, with who is in them; every
// message they wrote; their uploads) and which of their messages their account's deletion erases (those outside 1:1
// conversations: the other person of a 1:1 keeps it, as with a letter).
import type { Database } from 'bun:sqlite'

const statements = (db: Database) => ({
  threads: db.prepare<
    {
      id: number
      kind: string
      title: string
      room_id: number | null
      created_at: number
      state: string
      joined_at: number
    },
    [number]
  >(
    `SELECT t.id, t.kind, t.title, t.room_id, t.created_at, m.state, m.joined_at
     FROM bc_members m JOIN bc_threads t ON t.id = m.thread_id WHERE m.user_id = ? ORDER BY t.id`,
  ),
  memberIds: db.prepare<{ user_id: number }, [number]>('SELECT user_id FROM bc_members WHERE thread_id = ?'),
  messages: db.prepare<
    {
      id: number
      thread_id: number
      body: string
      image: string | null
      reply_to: number | null
      created_at: number
      edited_at: number | null
      deleted_at: number | null
    },
    [number]
  >(
    `SELECT id, thread_id, body, image, reply_to, created_at, edited_at, deleted_at
     FROM bc_messages WHERE author_id = ? ORDER BY id`,
  ),
  uploads: db.prepare<{ name: string; thread_id: number; mime: string; size: number; created_at: number }, [number]>(
    'SELECT name, thread_id, mime, size, created_at FROM bc_uploads WHERE user_id = ? ORDER BY created_at',
  ),
  erasable: db.prepare<{ id: number }, [number]>(
    `SELECT m.id FROM bc_messages m JOIN bc_threads t ON t.id = m.thread_id
     WHERE m.author_id = ? AND m.deleted_at IS NULL AND t.kind != 'dm' ORDER BY m.id`,
  ),
  dropPrefs: db.prepare<never, [number]>('DELETE FROM bc_prefs WHERE user_id = ?'),
  dropReactions: db.prepare<never, [number]>('DELETE FROM bc_reactions WHERE user_id = ?'),
})

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

export class BackchannelData {
  private q: ReturnType<typeof statements>
  constructor(db: Database) {
    this.q = statements(db)
  }

  /** The Backchannel part of an export; `names` turns user ids into usernames. */
  exportOf(userId: number, names: (ids: number[]) => Map<number, string>) {
    const threads = this.q.threads.all(userId).map((t) => {
      const ids = this.q.memberIds.all(t.id).map((r) => r.user_id)
      const users = names(ids)
      return {
        id: t.id,
        kind: t.kind,
        title: t.title,
        roomId: t.room_id,
        created: iso(t.created_at),
        myState: t.state,
        joined: iso(t.joined_at),
        members: ids.map((id) => users.get(id) ?? null).filter((n) => n !== null),
      }
    })
    const messages = this.q.messages.all(userId).map((m) => ({
      id: m.id,
      threadId: m.thread_id,
      body: m.body,
      image: m.image,
      replyTo: m.reply_to,
      sent: iso(m.created_at),
      edited: iso(m.edited_at),
      deleted: iso(m.deleted_at),
    }))
    const uploads = this.q.uploads.all(userId).map((u) => ({
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
    return this.q.erasable.all(userId).map((r) => r.id)
  }

  /** What else goes with the account: its Backchannel settings and its reactions. */
  forget(userId: number) {
    this.q.dropPrefs.run(userId)
    this.q.dropReactions.run(userId)
  }
}
