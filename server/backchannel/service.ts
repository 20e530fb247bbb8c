// Backchannel: threads (1:1 and groups), requests, messages, read state, sync and search. Groups are in groups.ts,
// room threads and Q&A in rooms.ts, images in uploads.ts. Every change takes the next global seq inside its transaction; events go out
// after the commit to every open tab of every member.
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Ctx } from '../context'
import type { BackchannelApi } from '../contracts'
import { fail } from '../errors'
import type { Viewer } from '../realtime/hub'
import type { MemberState, Message, ServerEvent, Thread } from '../protocol'
import { isEmoji, isRoomThread, LIVE_STATES, type MemberRow, type ThreadRow } from './model'
import { Groups } from './groups'
import { BackchannelReader } from './reading'
import { SendQueue, type SendItem } from './send'
import { BackchannelStore } from './store'
import { Views } from './views'

/** How the room part answers for room threads (set by rooms.ts). */
export interface RoomPolicy {
  canRead(thread: ThreadRow, userId: number): boolean
  checkPost(thread: ThreadRow, userId: number): void
  isModerator(thread: ThreadRow, userId: number): boolean
}

const dmKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`)

export class BackchannelService implements BackchannelApi {
  readonly store: BackchannelStore
  readonly views: Views
  readonly sends: SendQueue
  /** Inbox, history, sync and search. */
  readonly reader: BackchannelReader
  /** Creating and running groups. */
  readonly groups: Groups
  roomPolicy: RoomPolicy | null = null
  private seq: number
  private memberCache = new Map<number, Map<number, MemberRow>>()

  constructor(private ctx: Ctx) {
    this.store = new BackchannelStore(ctx.db)
    this.views = new Views(this.store, ctx.accounts.store)
    this.seq = this.store.q.getSeq.get()!.seq
    this.reader = new BackchannelReader(this)
    this.groups = new Groups(ctx, this)
    this.sends = new SendQueue({
      write: (fn) => this.write(fn),
      insert: (item) => this.insertMessage(item),
      committed: (id) => this.afterSend(id),
      logError: (msg, c) => ctx.log.error(msg, c),
    })
  }

  // ——— seq and transactions ———

  get currentSeq() { return this.seq }
  nextSeq() { return ++this.seq }

  /** One write transaction; the seq counter is saved with it (and rolled back with it). */
  write<T>(fn: () => T): T {
    const before = this.seq
    try {
      return this.ctx.db.transaction(() => {
        const r = fn()
        if (this.seq !== before) this.store.q.setSeq.run(this.seq)
        return r
      })()
    } catch (e) {
      this.seq = before
      throw e
    }
  }

  // ——— access ———

  threadRow(id: number): ThreadRow {
    const t = this.store.q.thread.get(id)
    if (!t) fail('thread_not_found')
    return t
  }

  members(threadId: number): Map<number, MemberRow> {
    let m = this.memberCache.get(threadId)
    if (!m) {
      m = new Map(this.store.q.members.all(threadId).map((r) => [r.user_id, r]))
      if (this.memberCache.size > 5000) this.memberCache.clear()
      this.memberCache.set(threadId, m)
    }
    return m
  }
  invalidate(threadId: number) { this.memberCache.delete(threadId) }

  canRead(t: ThreadRow, userId: number): boolean {
    if (isRoomThread(t.kind)) return this.roomPolicy?.canRead(t, userId) ?? false
    const m = this.members(t.id).get(userId)
    return !!m && LIVE_STATES.includes(m.state)
  }

  /** The thread, if the member may read it; otherwise not_found (a thread's existence is not revealed). */
  readable(threadId: number, userId: number): ThreadRow {
    const t = this.store.q.thread.get(threadId)
    if (!t || !this.canRead(t, userId)) fail('thread_not_found')
    return t
  }

  /** Checks that the member may post in the thread now (membership, blocks, requests, room rules). */
  checkPost(t: ThreadRow, userId: number) {
    if (isRoomThread(t.kind)) {
      if (!this.roomPolicy) fail('thread_not_found')
      return this.roomPolicy.checkPost(t, userId)
    }
    const mine = this.members(t.id).get(userId)
    if (!mine || mine.state === 'left') fail('thread_not_found')
    if (t.kind === 'dm') {
      const other = [...this.members(t.id).values()].find((m) => m.user_id !== userId)
      if (!other) fail('thread_not_found')
      if (this.ctx.accounts.blockedEither(userId, other.user_id)) fail('blocked')
      if (other.state === 'request' && this.followersOnly(other.user_id) && !this.ctx.accounts.isFollowing(other.user_id, userId)) fail('followers_only')
    }
  }

  // ——— settings ———

  followersOnly(userId: number) { return !!this.store.q.prefs.get(userId)?.followers_only }
  prefs(userId: number) { return { followersOnly: this.followersOnly(userId) } }
  setPrefs(userId: number, followersOnly: boolean) {
    this.store.q.setPrefs.run(userId, followersOnly ? 1 : 0)
    return this.prefs(userId)
  }

  // ——— 1:1 threads and requests (groups: groups.ts) ———

  /** The state a new member starts in: a request unless they follow the one who adds them. */
  entryState(byId: number, user: { id: number; username: string }): MemberState {
    if (this.ctx.accounts.blockedEither(byId, user.id)) fail('blocked', `You cannot message @${user.username}.`)
    if (this.ctx.accounts.isFollowing(user.id, byId)) return 'active'
    if (this.followersOnly(user.id)) fail('followers_only', `@${user.username} accepts messages only from people they follow.`)
    return 'request'
  }

  /** The 1:1 thread with someone, created (empty) if needed. It reaches their inbox or Requests with the first message. */
  openDm(userId: number, username: string): Thread {
    const other = this.ctx.accounts.target(userId, username)
    const key = dmKey(userId, other.id)
    const existing = this.store.q.threadByDmKey.get(key)
    if (existing) {
      if (this.ctx.accounts.blockedEither(userId, other.id)) fail('blocked')
      const mine = this.members(existing.id).get(userId)
      if (mine && mine.state === 'declined') this.setMemberState(existing.id, userId, 'active')
      return this.threadFor(existing.id, userId)
    }
    const state = this.entryState(userId, other)
    const id = this.write(() => {
      const seq = this.nextSeq()
      const tid = this.store.insertThread('dm', '', userId, key, null, seq)
      this.store.upsertMember(tid, userId, 'active', seq)
      this.store.upsertMember(tid, other.id, state, seq)
      return tid
    })
    this.invalidate(id)
    return this.threadFor(id, userId)
  }

  accept(userId: number, threadId: number): Thread {
    const m = this.members(threadId).get(userId)
    if (!m || (m.state !== 'request' && m.state !== 'declined')) fail('request_not_found')
    this.setMemberState(threadId, userId, 'active')
    return this.threadFor(threadId, userId)
  }

  decline(userId: number, threadId: number) {
    const m = this.members(threadId).get(userId)
    if (!m || m.state !== 'request') fail('request_not_found')
    this.setMemberState(threadId, userId, 'declined')
  }

  /** Changes one member's state; everyone in the thread (and that member) hears of it. */
  setMemberState(threadId: number, userId: number, state: MemberState) {
    this.write(() => {
      const seq = this.nextSeq()
      this.store.q.setMemberState.run(state, seq, threadId, userId)
      this.store.q.touchMeta.run(seq, seq, threadId)
    })
    this.invalidate(threadId)
    this.tellThread(threadId, [userId])
  }

  setMuted(userId: number, threadId: number, muted: boolean): Thread {
    this.readable(threadId, userId)
    this.write(() => this.store.q.setMuted.run(muted ? 1 : 0, this.nextSeq(), threadId, userId))
    this.invalidate(threadId)
    this.tellThread(threadId, [userId], true)
    return this.threadFor(threadId, userId)
  }

  // ——— messages ———

  /** Sends a message; resolves after its transaction committed. A retried client id returns the stored message. */
  async send(user: Viewer, input: { threadId: number; clientId: string; body?: string; image?: string; replyTo?: number }): Promise<Message> {
    const stored = this.store.q.messageByClient.get(user.id, input.clientId)
    if (stored) {
      if (stored.thread_id !== input.threadId) fail('client_id_reused')
      return this.views.message(stored)
    }
    const t = this.readable(input.threadId, user.id)
    this.checkPost(t, user.id)
    const body = (input.body ?? '').trim()
    if (!body && !input.image) fail('validation', 'body: a message needs text or an image')
    if (input.image) {
      const up = this.store.q.upload.get(input.image)
      if (!up || up.thread_id !== t.id || up.user_id !== user.id) fail('validation', 'image: upload the image to this thread first')
    }
    if (input.replyTo) {
      const r = this.store.q.message.get(input.replyTo)
      if (!r || r.thread_id !== t.id) fail('validation', 'replyTo: no such message in this thread')
    }
    const mine = this.members(t.id).get(user.id)
    if (mine && (mine.state === 'request' || mine.state === 'declined')) this.setMemberState(t.id, user.id, 'active')
    return this.sends.send({ threadId: t.id, authorId: user.id, clientId: input.clientId, body, image: input.image ?? null, replyTo: input.replyTo ?? null })
  }

  private insertMessage(item: SendItem) {
    return this.store.insertMessage({ ...item, seq: this.nextSeq() })
  }

  /** After the commit of a send: deliver to every member's tabs and notify those who want it. */
  private afterSend(id: number): Message {
    const row = this.store.q.message.get(id)!
    const msg = this.views.message(row, {})
    const t = this.store.q.thread.get(row.thread_id)!
    this.deliver(this.recipients(t), { type: 'bc.message', seq: msg.seq, message: msg })
    if (!isRoomThread(t.kind) && this.ctx.push) this.notifyPush(t, msg)
    return msg
  }

  private notifyPush(t: ThreadRow, msg: Message) {
    const from = msg.author?.displayName ?? 'Someone'
    const title = t.kind === 'group' ? `${from} in ${t.title}` : from
    const body = msg.body ? msg.body.slice(0, 140) : '📷 Photo'
    for (const m of this.members(t.id).values()) {
      if (m.user_id === msg.author?.id || m.state !== 'active' || m.muted) continue
      this.ctx.push!.notify(m.user_id, 'dm', { title, body, url: `/backchannel/${t.id}`, tag: `bc-${t.id}` })
        .catch((e) => this.ctx.log.warn('backchannel: push failed', { userId: m.user_id, error: e }))
    }
  }

  private ownMessage(userId: number, messageId: number) {
    const m = this.store.q.message.get(messageId)
    if (!m) fail('message_not_found')
    const t = this.readable(m.thread_id, userId)
    return { m, t }
  }

  edit(userId: number, messageId: number, body: string): Message {
    const { m, t } = this.ownMessage(userId, messageId)
    if (m.author_id !== userId) fail('message_edit_forbidden')
    if (m.deleted_at) fail('message_deleted')
    const text = body.trim()
    if (!text && !m.image) fail('validation', 'body: a message needs text or an image')
    this.write(() => { const seq = this.nextSeq(); this.store.q.editMessage.run(text, Date.now(), seq, m.id); this.store.q.touchThread.run(seq, t.id) })
    return this.tellMessage(t, m.id)
  }

  /** Deletes a message (its author, or a room's moderator in room chat), leaving a tombstone. */
  remove(userId: number, messageId: number): Message {
    const { m, t } = this.ownMessage(userId, messageId)
    const moderating = m.author_id !== userId
    if (moderating && !(t.kind === 'room_chat' && this.roomPolicy?.isModerator(t, userId))) fail('message_delete_forbidden')
    if (m.deleted_at) return this.views.message(m)
    // The image goes with the message (unless another message still shows it): no longer served, file removed.
    const imageGone = this.write(() => {
      const seq = this.nextSeq()
      this.store.q.deleteMessage.run(Date.now(), seq, m.id)
      this.store.q.touchThread.run(seq, t.id)
      if (!m.image || this.store.q.imageInUse.get(m.thread_id, m.image)) return null
      this.store.q.deleteUpload.run(m.image)
      return m.image
    })
    if (imageGone) {
      try { unlinkSync(join(this.ctx.config.dataDir, 'uploads', 'backchannel', imageGone)) } catch { /* already gone */ }
    }
    if (moderating) this.ctx.audit?.({ actorId: userId, action: 'backchannel.message.delete', targetType: 'message', targetId: m.id, details: { roomId: t.room_id, authorId: m.author_id } })
    return this.tellMessage(t, m.id)
  }

  react(userId: number, messageId: number, emoji: string, on: boolean): Message {
    if (!isEmoji(emoji)) fail('validation', 'emoji: not an emoji')
    const { m, t } = this.ownMessage(userId, messageId)
    if (m.deleted_at) fail('message_deleted')
    this.checkPost(t, userId)
    if (on && this.store.q.reactionKinds.get(m.id, userId)!.n >= 10) fail('reaction_limit')
    this.write(() => {
      const seq = this.nextSeq()
      if (on) this.store.q.addReaction.run(m.id, userId, emoji, Date.now())
      else this.store.q.removeReaction.run(m.id, userId, emoji)
      this.store.q.bumpMessage.run(seq, m.id)
      this.store.q.touchThread.run(seq, t.id)
    })
    return this.tellMessage(t, m.id)
  }

  private tellMessage(t: ThreadRow, id: number): Message {
    const msg = this.views.message(this.store.q.message.get(id)!)
    this.deliver(this.recipients(t), { type: 'bc.message', seq: msg.seq, message: msg })
    return msg
  }

  /** Marks the thread read up to a message; the member's other tabs and the other members (read receipts) hear it. */
  read(userId: number, threadId: number, messageId: number) {
    const t = this.readable(threadId, userId)
    const mine = this.store.q.member.get(threadId, userId)
    if (!mine || mine.last_read_id >= messageId) return { lastReadId: mine?.last_read_id ?? 0 }
    const last = t.last_message_id ?? 0
    const upTo = Math.min(messageId, last)
    if (upTo <= mine.last_read_id) return { lastReadId: mine.last_read_id }
    const seq = this.write(() => {
      const s = this.nextSeq()
      this.store.q.setRead.run(upTo, s, threadId, userId, upTo)
      if (!isRoomThread(t.kind)) this.store.q.touchThread.run(s, threadId)
      return s
    })
    const ev: ServerEvent = { type: 'bc.read', seq, threadId, userId, messageId: upTo }
    // Read receipts go to the other members, except while the reader has not accepted the request.
    const shared = !isRoomThread(t.kind) && mine.state === 'active'
    this.deliver(shared ? this.recipients(t) : [userId], ev)
    return { lastReadId: upTo }
  }

  typing(user: Viewer, threadId: number) {
    const t = this.readable(threadId, user.id)
    if (isRoomThread(t.kind)) return
    // Only someone who may post types: never towards someone who blocked them (or whom they blocked).
    this.checkPost(t, user.id)
    // Someone who has not accepted a request does not reveal that they are reading it.
    if (this.members(t.id).get(user.id)?.state !== 'active') return
    this.deliver(this.recipients(t).filter((id) => id !== user.id), { type: 'bc.typing', threadId, userId: user.id, username: user.username })
  }

  // ——— reading ———

  threadFor(threadId: number, userId: number): Thread {
    const row = this.store.q.myThread.get(userId, threadId)
    if (!row) fail('thread_not_found')
    return this.views.thread(row, userId)
  }

  // ——— delivery ———

  /** Who hears live about a thread: its members who can see it now. */
  recipients(t: ThreadRow): number[] {
    const out: number[] = []
    const live: MemberState[] = isRoomThread(t.kind) ? ['active'] : LIVE_STATES
    for (const m of this.members(t.id).values()) if (live.includes(m.state)) out.push(m.user_id)
    return out
  }

  /** Sends one event (serialised once) to every open tab of each user. */
  deliver(userIds: Iterable<number>, event: ServerEvent) {
    this.ctx.hub.checkEvent(event)
    const text = JSON.stringify(event)
    let n = 0
    for (const uid of userIds) for (const c of this.ctx.hub.connectionsOf(uid)) if (!c.closed) { c.raw.send(text); n++ }
    return n
  }

  /** Tells members (and `also`, e.g. someone who left) their own view of the thread. */
  tellThread(threadId: number, also: number[] = [], onlyAlso = false) {
    const ids = new Set(also)
    if (!onlyAlso) for (const m of this.members(threadId).values()) if (m.state !== 'left' && m.state !== 'declined') ids.add(m.user_id)
    for (const uid of ids) {
      if (!this.ctx.hub.isOnline(uid)) continue
      const row = this.store.q.myThread.get(uid, threadId)
      if (row) this.deliver([uid], { type: 'bc.thread', seq: Math.max(row.last_seq, row.my_seq), thread: this.views.thread(row, uid) })
    }
  }

  reportedMessage(messageId: number, viewerId: number | null) {
    const m = this.store.q.message.get(messageId)
    if (!m) return null
    if (viewerId !== null) {
      const t = this.store.q.thread.get(m.thread_id)
      if (!t || !this.canRead(t, viewerId)) return null
    }
    return { id: m.id, body: m.body, threadId: m.thread_id, authorId: m.author_id, author: this.views.person(m.author_id)?.username ?? null }
  }

  stats() {
    const day = new Date()
    day.setUTCHours(0, 0, 0, 0)
    return { messages: this.store.q.countMessages.get()!.n, messagesToday: this.store.q.countSince.get(day.getTime())!.n }
  }
}
