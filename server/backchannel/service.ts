// Backchannel: threads (1:1 and groups), requests, messages, read state, sync and search. Groups are in groups.ts,
// room threads and Q&A in rooms.ts, images in uploads.ts. Every change is one store.change(): it takes the next global
// seq inside its transaction, and its events go out after the commit (in commit order), through the bus, to every open
// tab of every member who hears of it. The store is asynchronous (SQLite or Postgres): reads inside a change are given
// its `tx`; the permission checks read the accounts' and rooms' node-local directories synchronously.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { AccountsApi, AuditFn, BackchannelEvents, PushApi } from '../contracts'
import { Emitter } from '../lib/events'
import type { Core } from '../core'
import { fail } from '../errors'
import type { Logger } from '../lib/log'
import type { Tx } from '../db/store'
import type { MemberState, Message, Prefs, ServerEvent, SocketUser, Thread } from '../protocol'
import { threadTopic, type Bus } from '../realtime/bus'
import { isEmoji, isRoomThread, LIVE_STATES, type Membership, type MessageRow, type ThreadRow } from './model'
import { Groups } from './groups'
import { BackchannelReader } from './reading'
import { SendQueue, type SendItem, type SendNowSink } from './send'
import type { BackchannelStore, EarlyFacts, SendFacts, SendRead, SendNow as StoreNow } from './store'
import { Views } from './views'
import { BackchannelData } from './member-data'

/** What a push notification says (PushApi.notify's message). */
type PushNote = Parameters<PushApi['notify']>[2]

/** How the room part answers for room threads (rooms.ts's RoomThreads, built before the service). */
export interface RoomPolicy {
  canRead(thread: ThreadRow, userId: number, tx?: Tx): Promise<boolean>
  /** canRead's rule over the thread's members as read (synchronous). */
  mayRead(thread: ThreadRow, userId: number, members: ReadonlyMap<number, Membership>): boolean
  /** Throws why not; outside a change (no `tx`), also brings the member's rows in line with their role. */
  checkPost(thread: ThreadRow, userId: number, tx?: Tx): Promise<void>
  /** checkPost's rule (synchronous): throws why not, or returns the member's role. */
  mayPost(thread: ThreadRow, userId: number): unknown
  isModerator(thread: ThreadRow, userId: number): boolean
  /** Resolves once the membership changes that follow roles (asked for so far) are committed; undefined if none. */
  settled(): Promise<void> | undefined
}

interface ServiceDeps {
  core: Core
  store: BackchannelStore
  accounts: AccountsApi
  push: PushApi
  audit: AuditFn
  /** The rules of room threads. */
  rooms: RoomPolicy
}

/**
 * What a member does to a thread. Every write path of Backchannel (sends, uploads, edits, reactions, deletes, typing)
 * asks `checkWrite` with one of these, so the rules live in one place (docs/SPEC.md B11).
 */
export type WriteAction = 'send' | 'upload' | 'edit' | 'react' | 'delete' | 'typing'

const dmKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`)
/** A 1:1 thread's other member. */
const dmOther = (members: ReadonlyMap<number, Membership>, userId: number) =>
  [...members.values()].find((m) => m.user_id !== userId)
/** What checkSend reads for a send. */
const sendRead = (item: SendItem): SendRead => ({
  threadId: item.threadId,
  authorId: item.authorId,
  clientId: item.clientId,
  upload: item.image ?? item.media ?? null,
  replyTo: item.replyTo,
})

/** The row of a message just inserted by the batch (not read back). */
const sentRow = (id: number, item: SendItem, seq: number, at: number): MessageRow => ({
  id,
  thread_id: item.threadId,
  author_id: item.authorId,
  client_id: item.clientId,
  body: item.body,
  image: item.image,
  reply_to: item.replyTo,
  created_at: at,
  edited_at: null,
  deleted_at: null,
  seq,
})

/** The batched send's inner loop on SQLite: the store's synchronous twins, the same rules (sendRules). */
function sendNow(
  now: StoreNow,
  rules: (item: SendItem, f: SendFacts) => MessageRow | null,
  committed: SendNowSink['committed'],
): SendNowSink {
  return {
    committed,
    check: (item, tx) => rules(item, now.sendFacts(sendRead(item), tx)),
    insert: (item, seq, at, tx) => now.insertMessage({ ...item, seq, at, touch: false }, tx),
    last: (threadId, id, seq, at, tx) => now.lastMessage(threadId, id, at, seq, tx),
  }
}

export class BackchannelService {
  readonly store: BackchannelStore
  /** The one way out for events. */
  private readonly bus: Bus
  readonly views: Views
  readonly sends: SendQueue
  /** Inbox, history, sync and search. */
  readonly reader: BackchannelReader
  /** Creating and running groups. */
  readonly groups: Groups
  private readonly accounts: AccountsApi
  private readonly push: PushApi
  private readonly audit: AuditFn
  private readonly roomPolicy: RoomPolicy
  private readonly log: Logger
  private readonly imageDir: string
  /** A member's own data: their export, and what their account's deletion erases. */
  private readonly data: BackchannelData
  /** In-process events (BackchannelApi.on): `sent` after a message's commit (the activity inbox's mentions). */
  readonly events: Emitter<BackchannelEvents>

  constructor(deps: ServiceDeps) {
    this.events = new Emitter('backchannel', deps.core.log)
    this.store = deps.store
    this.data = new BackchannelData(this.store)
    this.bus = deps.core.bus
    this.accounts = deps.accounts
    this.push = deps.push
    this.audit = deps.audit
    this.roomPolicy = deps.rooms
    this.log = deps.core.log
    this.imageDir = join(deps.core.config.dataDir, 'uploads', 'backchannel')
    this.views = new Views(this.store, deps.accounts)
    this.reader = new BackchannelReader(this)
    this.groups = new Groups(deps.accounts, this)
    this.sends = new SendQueue({
      change: (write, committed) => this.store.change(write, committed),
      check: (item, tx) => this.checkSend(item, tx),
      insert: (item, seq, at, tx) => this.store.insertMessage({ ...item, seq, at, touch: false }, tx),
      last: (threadId, id, seq, at, tx) => this.store.lastMessage(threadId, id, at, seq, tx),
      now:
        this.store.now &&
        sendNow(
          this.store.now,
          (item, facts) => this.sendRules(item, facts),
          (id, item, seq, at) => this.afterSendNow(id, item, seq, at),
        ),
      many: {
        read: this.store.sendFactsEarly && ((items) => this.store.sendFactsEarly!(items.map(sendRead))),
        check: async (items, tx, early) => {
          const facts = await this.store.sendFactsOf(items.map(sendRead), tx, early as EarlyFacts | undefined)
          return items.map((item, i) => {
            try {
              return { stored: this.sendRules(item, facts[i]!) }
            } catch (error) {
              return { error }
            }
          })
        },
        insert: (rows, at, tx) =>
          this.store.insertMessages(
            rows.map(({ item, seq }) => ({ ...item, seq, at, touch: false })),
            tx,
            true,
          ),
      },
      stored: (row) => this.views.message(row),
      // Postgres: the wire message from what the batch's check read under the seq lock, as on SQLite (no read).
      committed: async (id, item, seq, at) => this.afterSendNow(id, item, seq, at),
      logError: (msg, c) => this.log.error(msg, c),
    })
  }

  // ——— access ———

  async threadRow(id: number, tx?: Tx): Promise<ThreadRow> {
    const t = await this.store.thread(id, tx)
    if (!t) fail('thread_not_found')
    return t
  }

  /** Everyone who is or was in a thread, with their state (SQLite: cached by the store). */
  members(threadId: number, tx?: Tx): Promise<ReadonlyMap<number, Membership>> {
    return this.store.members(threadId, tx)
  }

  async canRead(t: ThreadRow, userId: number, tx?: Tx): Promise<boolean> {
    if (isRoomThread(t.kind)) return this.roomPolicy.canRead(t, userId, tx)
    return this.mayRead(t, userId, await this.members(t.id, tx))
  }
  /** canRead's rule over the thread's members as read. */
  private mayRead(t: ThreadRow, userId: number, members: ReadonlyMap<number, Membership>): boolean {
    if (isRoomThread(t.kind)) return this.roomPolicy.mayRead(t, userId, members)
    const m = members.get(userId)
    return !!m && LIVE_STATES.includes(m.state)
  }

  /** The thread, if the member may read it; otherwise not_found (a thread's existence is not revealed). */
  async readable(threadId: number, userId: number, tx?: Tx): Promise<ThreadRow> {
    const t = await this.store.thread(threadId, tx)
    if (!t || !(await this.canRead(t, userId, tx))) fail('thread_not_found')
    return t
  }

  /**
   * The one permission check of every write in Backchannel; throws the catalog error that says why not.
   * - send, upload, edit, react, typing: the member may post in the thread now (checkPost); an edit only of their
   *   own message. So a member who was blocked cannot edit an old message in the 1:1 thread, and in a room an edit
   *   needs what a send needs: the room live, chat on (or a moderator), the stage for backstage.
   * - delete: one's own message can always be taken back while one can read the thread (after a block, after the
   *   room ended); someone else's only by a moderator of the live room, in its chat.
   * The thread is one the member may read (readable() first: a thread's existence is not revealed).
   */
  async checkWrite(t: ThreadRow, userId: number, action: WriteAction, message?: MessageRow, tx?: Tx) {
    if (message && message.thread_id !== t.id) fail('message_not_found')
    if (action === 'delete') {
      if (!message) fail('message_not_found')
      if (message.author_id === userId) return
      if (!(t.kind === 'room_chat' && this.roomPolicy.isModerator(t, userId))) fail('message_delete_forbidden')
      return
    }
    if (action === 'edit' || action === 'react') {
      if (!message) fail('message_not_found')
      if (action === 'edit' && message.author_id !== userId) fail('message_edit_forbidden')
      if (message.deleted_at) fail('message_deleted')
    }
    await this.checkPost(t, userId, tx)
  }

  /** Whether the member may post in the thread now (membership, blocks, requests, room rules); checkWrite's core. */
  private async checkPost(t: ThreadRow, userId: number, tx?: Tx) {
    if (isRoomThread(t.kind)) return this.roomPolicy.checkPost(t, userId, tx)
    const members = await this.members(t.id, tx)
    const other = t.kind === 'dm' ? dmOther(members, userId) : undefined
    const followersOnly = other?.state === 'request' && (await this.store.followersOnly(other.user_id, tx))
    this.postRule(t, userId, members, followersOnly)
  }

  /**
   * checkPost's rule over what was read: the thread's members and, in a 1:1 thread, whether the other member accepts
   * messages only from those they follow (a room thread's: the room policy's). Synchronous, so that the batched
   * send runs it inside its loop on SQLite; every path reaches it.
   */
  private postRule(t: ThreadRow, userId: number, members: ReadonlyMap<number, Membership>, followersOnly: boolean) {
    if (isRoomThread(t.kind)) {
      this.roomPolicy.mayPost(t, userId)
      return
    }
    const mine = members.get(userId)
    if (!mine || mine.state === 'left') fail('thread_not_found')
    if (t.kind === 'dm') {
      const other = dmOther(members, userId)
      if (!other) fail('thread_not_found')
      if (this.accounts.blockedEither(userId, other.user_id)) fail('blocked')
      // A banned or deleted account (erasure leaves it banned) receives nothing more; what was sent stays readable.
      if (this.accounts.byId(other.user_id)?.status === 'banned') fail('recipient_closed')
      if (other.state === 'request' && followersOnly && !this.accounts.isFollowing(other.user_id, userId))
        fail('followers_only')
    }
  }

  // ——— settings ———

  async prefs(userId: number): Promise<Prefs> {
    return { followersOnly: await this.store.followersOnly(userId) }
  }
  async setPrefs(userId: number, followersOnly: boolean): Promise<Prefs> {
    await this.store.setFollowersOnly(userId, followersOnly)
    return this.prefs(userId)
  }

  // ——— 1:1 threads and requests (groups: groups.ts) ———

  /** The state a new member starts in: a request unless they follow the one who adds them. */
  async entryState(byId: number, user: { id: number; username: string }, tx?: Tx): Promise<MemberState> {
    if (this.accounts.blockedEither(byId, user.id)) fail('blocked', `You cannot message @${user.username}.`)
    if (this.accounts.isFollowing(user.id, byId)) return 'active'
    if (await this.store.followersOnly(user.id, tx))
      fail('followers_only', `@${user.username} accepts messages only from people they follow.`)
    return 'request'
  }

  /**
   * The 1:1 thread with someone, created (empty) if needed.
   * It reaches their inbox or Requests with the first message.
   */
  async openDm(userId: number, username: string): Promise<Thread> {
    const other = this.accounts.target(userId, username)
    const key = dmKey(userId, other.id)
    const existing = await this.store.threadByDmKey(key)
    if (existing) {
      if (this.accounts.blockedEither(userId, other.id)) fail('blocked')
      const mine = (await this.members(existing.id)).get(userId)
      if (mine && mine.state === 'declined') await this.setMemberState(existing.id, userId, 'active')
      return this.threadFor(existing.id, userId)
    }
    const state = await this.entryState(userId, other)
    // Nobody hears of it yet: the thread is empty. Two opening it at once (two nodes): the second finds the first's.
    try {
      return await this.store.change(
        async (nextSeq, tx) => {
          const seq = nextSeq()
          const tid = await this.store.insertThread('dm', '', userId, key, null, seq, tx)
          await this.store.upsertMember(tid, userId, 'active', seq, tx)
          await this.store.upsertMember(tid, other.id, state, seq, tx)
          return tid
        },
        (id) => this.threadFor(id, userId),
      )
    } catch (e) {
      const raced = await this.store.threadByDmKey(key)
      if (!raced) throw e
      return this.threadFor(raced.id, userId)
    }
  }

  async accept(userId: number, threadId: number): Promise<Thread> {
    const m = (await this.members(threadId)).get(userId)
    if (!m || (m.state !== 'request' && m.state !== 'declined')) fail('request_not_found')
    await this.setMemberState(threadId, userId, 'active')
    return this.threadFor(threadId, userId)
  }

  async decline(userId: number, threadId: number) {
    const m = (await this.members(threadId)).get(userId)
    if (m?.state !== 'request') fail('request_not_found')
    await this.setMemberState(threadId, userId, 'declined')
  }

  /** Changes one member's state; everyone in the thread (and that member) hears of it. */
  async setMemberState(threadId: number, userId: number, state: MemberState) {
    await this.store.change(
      (nextSeq, tx) => this.store.setMemberState(threadId, userId, state, nextSeq(), tx),
      () => this.tellThread(threadId, [userId]),
    )
  }

  async setMuted(userId: number, threadId: number, muted: boolean): Promise<Thread> {
    await this.readable(threadId, userId)
    return this.store.change(
      (nextSeq, tx) => this.store.setMuted(threadId, userId, muted, nextSeq(), tx),
      async () => {
        await this.tellThread(threadId, [userId], true)
        return this.threadFor(threadId, userId)
      },
    )
  }

  // ——— messages ———

  /**
   * Sends a message; resolves after its transaction committed. A retried client id returns the stored message. Its
   * checks (checkSend) run inside the batch's transaction, where a read costs a fraction of one outside it.
   */
  send(
    user: SocketUser,
    input: { threadId: number; clientId: string; body?: string; image?: string; media?: string; replyTo?: number },
  ): Promise<Message> {
    const item: SendItem = {
      threadId: input.threadId,
      authorId: user.id,
      clientId: input.clientId,
      body: input.body ?? '',
      image: input.image ?? null,
      media: input.media ?? null,
      replyTo: input.replyTo ?? null,
    }
    const pending = this.roomPolicy.settled()
    // SQLite, nothing pending, the members cached and no earlier send of the author still before the queue (the usual
    // send): queued at once, no await before the queue.
    if (!pending && !this.sendTurns.has(user.id)) {
      const cached = this.store.now?.cachedMembers(input.threadId)
      const state = cached?.get(user.id)?.state
      if (cached && state !== 'request' && state !== 'declined') return this.sends.send(item)
    }
    return this.sendInTurn(user, item, pending)
  }
  /** Per author, the turn of their latest send not yet in the queue (the next one joins it after). */
  private sendTurns = new Map<number, Promise<void>>()

  /**
   * The author's sends join the queue in the order they came (B57): their reads before it overlap (on Postgres each
   * is a query of its own, answered in any order by the pool's connections), their turns in the queue do not.
   */
  private async sendInTurn(user: SocketUser, item: SendItem, pending: Promise<void> | undefined): Promise<Message> {
    const before = this.sendTurns.get(user.id)
    let done!: () => void
    const turn = new Promise<void>((r) => {
      done = r
    })
    this.sendTurns.set(user.id, turn)
    try {
      // Refused or not, after the author's earlier send is queued: a later one never overtakes it.
      const stored = await this.beforeSend(user, item, pending).finally(() => before)
      return stored ?? this.sends.send(item)
    } finally {
      done()
      if (this.sendTurns.get(user.id) === turn) this.sendTurns.delete(user.id)
    }
  }

  /** What a send waits for before the queue; the answer when it is already stored (a request answered by a retry). */
  private async beforeSend(
    user: SocketUser,
    item: SendItem,
    pending: Promise<void> | undefined,
  ): Promise<Message | null> {
    // A role given just before (joining a room, the stage): its rows first, so that the sender hears their message.
    await pending
    const mine = (await this.members(item.threadId)).get(user.id)
    if (mine && (mine.state === 'request' || mine.state === 'declined')) {
      // Answering a request accepts it, in a change of its own before the send's: checked now (and again in the batch).
      const stored = await this.checkSend({ ...item })
      if (stored) return this.views.message(stored)
      await this.setMemberState(item.threadId, user.id, 'active')
    }
    return null
  }

  /**
   * Every check of a send, in this order: a client id already stored (its message is the answer, or
   * client_id_reused in another thread), the thread readable, checkWrite('send'), a body or an attachment, the
   * attachment uploaded by the author to this thread, the quoted message in this thread. Returns the stored message,
   * or null with the item ready to insert (its thread, the body trimmed, the attachment in `image`). The reads are
   * the store's (sendFacts: asynchronous on Postgres; at once on SQLite inside the batch), the rules sendRules'.
   */
  private async checkSend(item: SendItem, tx?: Tx): Promise<MessageRow | null> {
    return this.sendRules(item, await this.store.sendFacts(sendRead(item), tx))
  }

  /** checkSend's rules over what was read (synchronous: the one copy of them, for both stores). */
  private sendRules(item: SendItem, f: SendFacts): MessageRow | null {
    if (f.stored) {
      if (f.stored.thread_id !== item.threadId) fail('client_id_reused')
      return f.stored
    }
    const t = f.thread
    if (!t || !this.mayRead(t, item.authorId, f.members)) fail('thread_not_found')
    // checkWrite('send'): the post rule, with no message.
    this.postRule(t, item.authorId, f.members, f.otherFollowersOnly)
    const body = item.body.trim()
    if (item.image && item.media) fail('validation', 'media: a message has an image or a video or voice message')
    // The message's attachment: an image, or a video or voice message (stored alike, by the upload's name).
    const attached = item.image ?? item.media
    if (!body && !attached) fail('validation', 'body: a message needs text or an image')
    if (attached) {
      const field = item.image ? 'image' : 'media'
      const up = f.upload
      if (!up || up.thread_id !== t.id || up.user_id !== item.authorId || (up.kind === 'image') !== (field === 'image'))
        fail('validation', `${field}: upload the ${field === 'image' ? 'image' : 'file'} to this thread first`)
    }
    if (item.replyTo) {
      const r = f.reply
      if (!r || r.thread_id !== t.id) fail('validation', 'replyTo: no such message in this thread')
    }
    item.thread = t
    item.reply = f.reply
    item.upload = attached ? f.upload : null
    item.members = f.members
    item.body = body
    item.image = attached ?? null
    item.media = null
    return null
  }

  /**
   * After the commit of a send, at once: deliver to every member's tabs and notify those who want it. The message is
   * what was inserted (not read back), with what the batch's check read (the thread, the quote, the upload, the
   * members as they stood inside its transaction; on Postgres under the seq lock, so as at the commit): no read and
   * no await (a promise only when someone blocked the author or the quoted author: their copies are read for them).
   */
  private afterSendNow(id: number, item: SendItem, seq: number, at: number): Message | Promise<Message> {
    const row = sentRow(id, item, seq, at)
    const msg = this.views.messageOf(row, item.reply ?? null, item.upload ?? null, {})
    return this.delivered(item.thread!, row, msg, item.members!)
  }

  /** A committed send's message to the thread, then its pushes and the `sent` event. */
  private delivered(
    t: ThreadRow,
    row: MessageRow,
    msg: Message,
    members: ReadonlyMap<number, Membership>,
  ): Message | Promise<Message> {
    const rest = () => {
      if (!isRoomThread(t.kind)) this.notifyPush(t, msg, members)
      if (row.author_id !== null) {
        const requested: number[] = []
        for (const m of members.values()) if (m.state === 'request') requested.push(m.user_id)
        this.events.emit('sent', {
          threadId: t.id,
          messageId: row.id,
          authorId: row.author_id,
          kind: t.kind,
          title: t.title,
          roomId: t.room_id,
          body: row.body,
          requested,
        })
      }
      return msg
    }
    const sent = this.toThreadMessage(t, msg, members)
    return sent ? sent.then(rest) : rest()
  }

  private notifyPush(t: ThreadRow, msg: Message, members: ReadonlyMap<number, Membership>) {
    const authorId = msg.author?.id
    // One notification for every recipient with a device (made once, for the first); notify() never throws
    // (PushApi), so nothing waits on its promise.
    let note: PushNote | null = null
    for (const m of members.values())
      if (m.user_id !== authorId && m.state === 'active' && !m.muted && this.push.hasDevice(m.user_id))
        void this.push.notify(m.user_id, 'dm', (note ??= this.pushNote(t, msg)))
  }
  private pushNote(t: ThreadRow, msg: Message): PushNote {
    const from = msg.author?.displayName ?? 'Someone'
    const title = t.kind === 'group' ? `${from} in ${t.title}` : from
    const what = msg.media?.kind === 'voice' ? '🎤 Voice message' : msg.media ? '🎬 Video' : '📷 Photo'
    const body = msg.body ? msg.body.slice(0, 140) : what
    return { title, body, url: `/backchannel/${t.id}`, tag: `bc-${t.id}` }
  }

  private async ownMessage(userId: number, messageId: number) {
    const m = await this.store.message(messageId)
    if (!m) fail('message_not_found')
    const t = await this.readable(m.thread_id, userId)
    return { m, t }
  }

  async edit(userId: number, messageId: number, body: string): Promise<Message> {
    const { m, t } = await this.ownMessage(userId, messageId)
    await this.checkWrite(t, userId, 'edit', m)
    const text = body.trim()
    if (!text && !m.image) fail('validation', 'body: a message needs text or an image')
    return this.store.change(
      (nextSeq, tx) => this.store.editMessage(m.id, t.id, text, nextSeq(), tx),
      () => this.tellMessage(t, m.id),
    )
  }

  /** Deletes a message (its author, or a room's moderator in room chat), leaving a tombstone. */
  async remove(userId: number, messageId: number): Promise<Message> {
    const { m, t } = await this.ownMessage(userId, messageId)
    await this.checkWrite(t, userId, 'delete', m)
    const moderating = m.author_id !== userId
    if (m.deleted_at) return this.views.message(m)
    // The image, video or voice file goes with the message (unless another message still shows it), a video's poster
    // with it: no longer served, files removed.
    return this.store.change(
      (nextSeq, tx) => this.store.deleteMessage(m, nextSeq(), tx),
      (filesGone) => {
        this.removeFiles(filesGone)
        if (moderating) {
          this.audit({
            actorId: userId,
            action: 'backchannel.message.delete',
            targetType: 'message',
            targetId: m.id,
            details: { roomId: t.room_id, authorId: m.author_id },
          })
        }
        return this.tellMessage(t, m.id)
      },
    )
  }

  async react(userId: number, messageId: number, emoji: string, on: boolean): Promise<Message> {
    if (!isEmoji(emoji)) fail('validation', 'emoji: not an emoji')
    const { m, t } = await this.ownMessage(userId, messageId)
    await this.checkWrite(t, userId, 'react', m)
    if (on && (await this.store.reactionKinds(m.id, userId)) >= 10) fail('reaction_limit')
    return this.store.change(
      (nextSeq, tx) => this.store.react(m.id, t.id, userId, emoji, on, nextSeq(), tx),
      () => this.tellMessage(t, m.id),
    )
  }

  /**
   * A member deleted their account: every message of theirs outside 1:1 threads becomes a tombstone (its image file
   * removed), told to the threads like any deletion; their reactions and settings go. Returns how many were erased.
   */
  async eraseMember(userId: number): Promise<number> {
    this.views.forget(userId) // called after the account's erasure: the author is "Deleted member" from now on
    const ids = await this.data.erasable(userId)
    for (const id of ids) {
      const m = await this.store.message(id)
      const t = m && (await this.store.thread(m.thread_id))
      if (!m || !t) continue
      await this.store.change(
        (nextSeq, tx) => this.store.deleteMessage(m, nextSeq(), tx),
        (filesGone) => {
          this.removeFiles(filesGone)
          return this.tellMessage(t, m.id)
        },
      )
    }
    await this.data.forget(userId)
    return ids.length
  }

  /** A member's export: their threads (with who is in them), their messages, their uploads and where the files are. */
  async exportOf(userId: number) {
    const out = await this.data.exportOf(userId, (ids) => this.accounts.usernames(ids))
    return { ...out, uploads: out.uploads.map((u) => ({ ...u, file: join(this.imageDir, u.name) })) }
  }

  /** The files of a deleted message (unless another message still shows them): no longer served, removed. */
  private removeFiles(names: string[] | null | undefined) {
    for (const name of names ?? []) rmSync(join(this.imageDir, name), { force: true })
  }

  /** After a committed change of a message: everyone in the thread gets its new state. */
  private async tellMessage(t: ThreadRow, id: number): Promise<Message> {
    const msg = await this.views.message((await this.store.message(id))!)
    await this.toThreadMessage(t, msg)
    return msg
  }

  /** Marks the thread read up to a message; the member's other tabs and the other members (read receipts) hear it. */
  async read(userId: number, threadId: number, messageId: number) {
    const t = await this.readable(threadId, userId)
    const mine = await this.store.member(threadId, userId)
    if (!mine || mine.last_read_id >= messageId) return { lastReadId: mine?.last_read_id ?? 0 }
    const last = t.last_message_id ?? 0
    const upTo = Math.min(messageId, last)
    if (upTo <= mine.last_read_id) return { lastReadId: mine.last_read_id }
    return this.store.change(
      async (nextSeq, tx) => {
        const seq = nextSeq()
        await this.store.setRead(threadId, userId, upTo, seq, tx)
        if (!isRoomThread(t.kind)) await this.store.touchThread(threadId, seq, tx)
        return seq
      },
      async (seq) => {
        // Read receipts go to the other members, except while the reader has not accepted the request.
        const shared = !isRoomThread(t.kind) && mine.state === 'active'
        this.bus.toUsers(shared ? await this.recipients(t) : [userId], {
          type: 'bc.read',
          seq,
          threadId,
          userId,
          messageId: upTo,
        })
        return { lastReadId: upTo }
      },
    )
  }

  /** Marks a voice message played by a listener; their other tabs and devices hear of it (nobody else does). */
  async played(userId: number, messageId: number) {
    const m = await this.store.message(messageId)
    if (!m) fail('message_not_found')
    const t = await this.readable(m.thread_id, userId)
    if (m.deleted_at) fail('message_deleted')
    if (!m.image || (await this.store.upload(m.image))?.kind !== 'voice') fail('not_a_voice_message')
    if (await this.store.markPlayed(m.id, t.id, userId))
      this.bus.toUsers([userId], { type: 'bc.voice.played', threadId: t.id, messageId: m.id })
    return { messageId: m.id }
  }

  /** The voice messages of a thread a member played. */
  async playedIn(userId: number, threadId: number) {
    await this.readable(threadId, userId)
    return { played: await this.store.playedIn(threadId, userId) }
  }

  async typing(user: SocketUser, threadId: number) {
    const t = await this.readable(threadId, user.id)
    if (isRoomThread(t.kind)) return
    // Only someone who may post types: never towards someone who blocked them (or whom they blocked).
    await this.checkWrite(t, user.id, 'typing')
    // Someone who has not accepted a request does not reveal that they are reading it.
    if ((await this.members(t.id)).get(user.id)?.state !== 'active') return
    this.bus.toUsers(
      (await this.recipients(t)).filter((id) => id !== user.id),
      { type: 'bc.typing', threadId, userId: user.id, username: user.username },
    )
  }

  // ——— reading ———

  async threadFor(threadId: number, userId: number): Promise<Thread> {
    const row = await this.store.myThread(userId, threadId)
    if (!row) fail('thread_not_found')
    return this.views.thread(row, userId)
  }

  // ——— delivery ———

  /**
   * Who hears live about a thread: its members who can see it now. The same array while the thread's members are
   * unchanged (SQLite: the store's member map is replaced on every change of them): the bus's thread topic compares
   * it so. `members`: the thread's, when the caller has them.
   */
  async recipients(t: ThreadRow, members?: ReadonlyMap<number, Membership>): Promise<readonly number[]> {
    return this.recipientsFrom(t, members ?? (await this.members(t.id)))
  }
  private recipientsFrom(t: ThreadRow, members: ReadonlyMap<number, Membership>): readonly number[] {
    const out = this.recipientsOf.get(members)
    if (out) return out
    const ids: number[] = []
    const live: MemberState[] = isRoomThread(t.kind) ? ['active'] : LIVE_STATES
    for (const m of members.values()) if (live.includes(m.state)) ids.push(m.user_id)
    this.recipientsOf.set(members, ids)
    return ids
  }
  private recipientsOf = new WeakMap<ReadonlyMap<number, Membership>, readonly number[]>()

  /**
   * After a committed change: the event to everyone who hears live about the thread, serialised once, through the
   * thread's topic (the bus keeps its members equal to recipients() before publishing).
   */
  async toThread(t: ThreadRow, event: ServerEvent) {
    this.bus.toMembers(threadTopic(t.id), await this.recipients(t), event)
  }

  /**
   * A message to everyone who hears live about the thread; those who blocked its author (or the author it quotes)
   * get it as they see it (B32): withheld, or its quote emptied.
   */
  private toThreadMessage(
    t: ThreadRow,
    msg: Message,
    members?: ReadonlyMap<number, Membership>,
  ): Promise<void> | undefined {
    if (!members) return this.members(t.id).then((m) => this.toThreadMessage(t, msg, m))
    const all = this.recipientsFrom(t, members)
    const authorId = msg.author?.id
    const quotedId = msg.replyTo?.author ? this.accounts.byName(msg.replyTo.author)?.id : undefined
    // Who blocked the author or the quoted author: one query each, not one per recipient.
    const blockers = new Set<number>()
    for (const other of new Set([authorId, quotedId]))
      if (other !== undefined) for (const b of this.accounts.blockersOf(other)) if (b !== other) blockers.add(b)
    const special = blockers.size ? all.filter((u) => blockers.has(u)) : []
    const event: ServerEvent = { type: 'bc.message', seq: msg.seq, message: msg }
    // Nobody sees it otherwise (the usual case): the thread's topic, at once. Otherwise the others one by one.
    if (!special.length) {
      this.bus.toMembers(threadTopic(t.id), all, event)
      return undefined
    }
    this.bus.toUsers(
      all.filter((u) => !blockers.has(u)),
      event,
    )
    return this.toBlockers(special, msg)
  }
  /** Those who blocked the author or the quoted author: the message as each of them sees it (B32). */
  private async toBlockers(special: readonly number[], msg: Message) {
    for (const u of special)
      this.bus.toUsers([u], { type: 'bc.message', seq: msg.seq, message: (await this.views.forViewer([msg], u))[0]! })
  }

  /** Whether `userId` blocked `otherId`. */
  blocked(userId: number, otherId: number) {
    return this.accounts.hasBlocked(userId, otherId)
  }

  /** After a committed change of a thread: tells members (and `also`, e.g. someone who left) their own view of it. */
  async tellThread(threadId: number, also: number[] = [], onlyAlso = false) {
    const ids = new Set(also)
    if (!onlyAlso)
      for (const m of (await this.members(threadId)).values())
        if (m.state !== 'left' && m.state !== 'declined') ids.add(m.user_id)
    for (const uid of ids) {
      if (!this.bus.isOnline(uid)) continue
      const row = await this.store.myThread(uid, threadId)
      if (row)
        this.bus.toUsers([uid], {
          type: 'bc.thread',
          seq: Math.max(row.last_seq, row.my_seq),
          thread: await this.views.thread(row, uid),
        })
    }
  }

  // ——— what other domains see (BackchannelApi) ———

  async reportedMessage(messageId: number, viewerId: number | null) {
    const m = await this.store.message(messageId)
    if (!m) return null
    if (viewerId !== null) {
      const t = await this.store.thread(m.thread_id)
      if (!t || !(await this.canRead(t, viewerId))) return null
    }
    return {
      id: m.id,
      body: m.body,
      threadId: m.thread_id,
      authorId: m.author_id,
      author: this.views.person(m.author_id)?.username ?? null,
    }
  }

  async stats() {
    const day = new Date()
    day.setUTCHours(0, 0, 0, 0)
    const c = await this.store.messageCounts(day.getTime())
    return { messages: c.messages, messagesToday: c.since, sent: this.sends.messages }
  }
}
