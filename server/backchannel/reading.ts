// Reading Backchannel: the inbox, a thread's history, sync from a seq, and search — all limited to what the member
// may read.
import type { BackchannelService } from './service'
import type { Thread } from '../protocol'
import { isRoomThread, LIVE_STATES, type MyThreadRow } from './model'

export class BackchannelReader {
  constructor(private bc: BackchannelService) {}

  /**
   * The inbox: my 1:1 and group threads (accepted and requests), newest first, with unread counts and
   * previews; my rooms' threads.
   */
  async inbox(userId: number) {
    // The seq first: everything up to it is committed, and what the summaries show is at least that new.
    const seq = await this.bc.store.seq()
    const threads: Thread[] = []
    for (const r of await this.bc.store.inbox(userId)) threads.push(await this.bc.views.thread(r, userId))
    // The chats and backstage threads of rooms I was in, readable after the room (newest first).
    const rooms: Thread[] = []
    for (const r of await this.bc.store.roomThreads(userId))
      if (await this.bc.canRead(r, userId)) rooms.push(await this.bc.views.thread(r, userId))
    return {
      seq,
      threads: threads.filter((t) => t.state === 'active'),
      requests: threads.filter((t) => t.state === 'request'),
      rooms,
      prefs: await this.bc.prefs(userId),
    }
  }

  async history(userId: number, threadId: number, before: number | undefined, limit: number) {
    await this.bc.readable(threadId, userId)
    const rows = await this.bc.store.history(threadId, before ?? Number.MAX_SAFE_INTEGER, limit + 1)
    const more = rows.length > limit
    return { messages: await this.bc.views.messages(rows.slice(0, limit).reverse(), userId), more }
  }

  /**
   * Everything after `after` in the threads I may read: changed thread summaries, messages and questions, in seq
   * order. When there is more than a page, `seq` is where the page ends and `more` is true: ask again from there.
   */
  async sync(userId: number, after: number, limit: number) {
    const upTo = await this.bc.store.seq()
    const rows = await this.bc.store.changedThreads(userId, after)
    type Item = { seq: number; kind: 'message' | 'question'; row: any; thread: MyThreadRow }
    const items: Item[] = []
    const threads: Thread[] = []
    for (const r of rows) {
      const room = isRoomThread(r.kind)
      const readable = room ? await this.bc.canRead(r, userId) : LIVE_STATES.includes(r.my_state)
      // A room thread one may not read (removed from the room) is not summarised either:
      // its summary holds its last message.
      if (room && !readable) continue
      // A 1:1 or group thread I left (or was removed from, or declined) comes back only for my own row's change
      // (to learn that I am out), never for what happened in it afterwards (a new title, new members).
      if (!room && !readable && r.my_seq <= after) continue
      threads.push(await this.bc.views.thread(r, userId))
      if (!readable || r.last_seq <= after) continue
      for (const m of await this.bc.store.messagesAfterSeq(r.id, after, limit + 1))
        if (m.seq <= upTo) items.push({ seq: m.seq, kind: 'message', row: m, thread: r })
      if (r.kind === 'room_chat')
        for (const q of await this.bc.store.questionsAfterSeq(r.id, after, limit + 1))
          if (q.seq <= upTo) items.push({ seq: q.seq, kind: 'question', row: q, thread: r })
    }
    items.sort((a, b) => a.seq - b.seq)
    const more = items.length > limit
    const page = items.slice(0, limit)
    const seq = more ? page[page.length - 1]!.seq : upTo
    const voted = new Set<number>()
    for (const tid of new Set(page.filter((i) => i.kind === 'question').map((i) => i.thread.id))) {
      for (const id of await this.bc.store.votedIn(tid, userId)) voted.add(id)
    }
    return {
      seq,
      more,
      threads,
      messages: await this.bc.views.messages(
        page.filter((i) => i.kind === 'message').map((i) => i.row),
        userId,
      ),
      questions: page
        .filter((i) => i.kind === 'question')
        .map((i) => this.bc.views.question(i.row, voted.has(i.row.id))),
    }
  }

  /** Full-text search in the threads I may read, with snippets (highlights between \u0002 and \u0003). */
  async search(userId: number, q: string, limit = 30) {
    // The member's words (letters, digits, _), up to 8: the store matches them as words, the last one as a prefix.
    const terms = (q.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 8)
    if (!terms.length) return { results: [] }
    const rows = await this.bc.store.search(userId, terms, limit)
    const titles = new Map<number, Thread>()
    const results = []
    for (const r of rows) {
      const t = titles.get(r.thread_id) ?? (await this.bc.threadFor(r.thread_id, userId))
      titles.set(r.thread_id, t)
      if (isRoomThread(t.kind)) {
        if (!(await this.bc.canRead(await this.bc.threadRow(t.id), userId))) continue
      }
      // Nothing of what someone I blocked wrote is found (B32).
      if (r.author_id !== null && r.author_id !== userId && this.bc.blocked(userId, r.author_id)) continue
      results.push({
        message: await this.bc.views.message(r, {}),
        snippet: r.snip,
        thread: {
          id: t.id,
          kind: t.kind,
          title: t.title,
          roomId: t.roomId,
          members: t.members.map((m) => ({ id: m.id, username: m.username, displayName: m.displayName })),
        },
      })
    }
    return { results }
  }
}
