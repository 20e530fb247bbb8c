// Backchannel inside a room: the room chat (everyone in the room; moderators delete, and may turn chat off), the
// backstage thread (host, moderators, speakers) and the Q&A queue. Rooms are reached only through RoomsApi.
// RoomThreads is the room part of the rules (built before the service, which asks it about room threads): membership
// rows follow the room's roles, and whoever was in the room keeps reading after it ends. RoomRequests answers the
// room requests (open, chat on/off, Q&A) on top of the service. The membership rows follow the roles one change at a
// time (follow(): the rooms' events and the requests alike), so a room's thread is created once and a send waits for
// the rows of a role given just before it (settled()).
import type { AuditFn, RoomsApi } from '../contracts'
import type { Tx } from '../db/store'
import { memberKey, type RoomRole } from '../contracts'
import { AppError, fail } from '../errors'
import type { Logger } from '../lib/log'
import { LIMITS, type Question, type QuestionState, type RoomBackchannel, type ThreadKind } from '../protocol'
import type { Membership, ThreadRow } from './model'
import type { BackchannelService, RoomPolicy } from './service'
import type { BackchannelStore } from './store'

const STAGE: RoomRole[] = ['host', 'moderator', 'speaker']
const MODS: RoomRole[] = ['host', 'moderator']

export class RoomThreads implements RoomPolicy {
  constructor(
    private store: BackchannelStore,
    private rooms: RoomsApi,
  ) {}

  /** The membership changes that follow roles, one at a time (each ends before the next starts). */
  private tail: Promise<unknown> = Promise.resolve()
  /** How many of them are not done yet. */
  private following = 0
  private follow<T>(fn: () => Promise<T>): Promise<T> {
    this.following++
    const p = this.tail.then(fn).finally(() => this.following--)
    this.tail = p.catch(() => {})
    return p
  }
  /** Resolves once the membership changes asked for so far are committed; undefined when none is pending. */
  settled(): Promise<void> | undefined {
    return this.following ? this.tail.then(() => {}) : undefined
  }

  /** Follows the rooms domain's events: joining adds to the chat, the stage to backstage, leaving marks them left. */
  followRooms(log: Logger) {
    const safe = (p: Promise<void>) => p.catch((e) => log.error('backchannel: room event failed', { error: e }))
    this.rooms.on('role', (e) => e.userId !== null && safe(this.followRole(e.roomId, e.userId!, e.role)))
    this.rooms.on('left', (e) => e.userId !== null && safe(this.followRole(e.roomId, e.userId!, null)))
  }

  /** The room, if it is live; otherwise the error that says why not. */
  liveRoom(roomId: number) {
    const room = this.rooms.room(roomId)
    if (!room) fail('room_not_found')
    if (room.state === 'ended') fail('room_ended')
    if (room.state !== 'live') fail('room_not_live')
    return room
  }

  role(roomId: number, userId: number): RoomRole | null {
    return this.rooms.participant(roomId, memberKey(userId))?.role ?? null
  }

  /** Brings a member's rows in a room's threads in line with their role now (null: not in the room). */
  followRole(roomId: number, userId: number, role: RoomRole | null) {
    return this.follow(async () => {
      const chat = await this.threadNow(roomId, 'room_chat')
      await this.rowNow(chat.id, userId, role ? 'active' : 'left', false)
      const stage = role !== null && STAGE.includes(role)
      const back = stage
        ? await this.threadNow(roomId, 'backstage')
        : await this.store.threadByRoom(roomId, 'backstage')
      if (back) await this.rowNow(back.id, userId, stage ? 'active' : 'left', true)
    })
  }

  setRow(threadId: number, userId: number, state: 'active' | 'left', onlyIfMember: boolean) {
    return this.follow(() => this.rowNow(threadId, userId, state, onlyIfMember))
  }
  private async rowNow(threadId: number, userId: number, state: 'active' | 'left', onlyIfMember: boolean) {
    const cur = (await this.store.members(threadId)).get(userId)
    if (cur?.state === state || (!cur && onlyIfMember && state === 'left')) return
    await this.store.change((nextSeq, tx) => this.store.upsertMember(threadId, userId, state, nextSeq(), tx))
  }

  /** The room's chat or backstage thread, created when first needed. */
  async ensureThread(roomId: number, kind: ThreadKind): Promise<ThreadRow> {
    return (await this.store.threadByRoom(roomId, kind)) ?? this.follow(() => this.threadNow(roomId, kind))
  }
  private async threadNow(roomId: number, kind: ThreadKind): Promise<ThreadRow> {
    const t = await this.store.threadByRoom(roomId, kind)
    if (t) return t
    const room = this.rooms.room(roomId)
    if (!room) fail('room_not_found')
    try {
      const id = await this.store.change((nextSeq, tx) =>
        this.store.insertThread(kind, room.title.slice(0, LIMITS.title), room.hostId, null, roomId, nextSeq(), tx),
      )
      return (await this.store.thread(id))!
    } catch (e) {
      // Another node created it meanwhile (one thread of a kind per room).
      const raced = await this.store.threadByRoom(roomId, kind)
      if (!raced) throw e
      return raced
    }
  }

  // ——— RoomPolicy ———

  async canRead(t: ThreadRow, userId: number, tx?: Tx): Promise<boolean> {
    return this.mayRead(t, userId, await this.store.members(t.id, tx))
  }
  mayRead(t: ThreadRow, userId: number, members: ReadonlyMap<number, Membership>): boolean {
    // Removed by a moderator: the room's threads are gone for them at once (not only their live events).
    if (this.rooms.wasRemoved(t.room_id!, userId)) return false
    if (members.get(userId)) return true
    if (t.kind === 'backstage') return false
    return this.role(t.room_id!, userId) !== null || this.rooms.wasParticipant(t.room_id!, userId)
  }

  /**
   * Whether the member may post in a room's thread now (RoomsApi's directory: synchronous). The rows follow the role
   * separately: outside a change, now (and awaited); inside one (a batch of sends), they were by send() before.
   */
  async checkPost(t: ThreadRow, userId: number, tx?: Tx) {
    const role = this.mayPost(t, userId)
    if (!tx) await this.followRole(t.room_id!, userId, role)
  }
  mayPost(t: ThreadRow, userId: number): RoomRole {
    this.liveRoom(t.room_id!)
    const role = this.role(t.room_id!, userId)
    if (!role) fail('not_in_room')
    if (t.kind === 'backstage' && !STAGE.includes(role)) fail('not_on_stage')
    if (t.kind === 'room_chat' && !t.chat_enabled && !MODS.includes(role)) fail('chat_off')
    return role
  }

  isModerator(t: ThreadRow, userId: number) {
    const role = t.room_id ? this.role(t.room_id, userId) : null
    return role !== null && MODS.includes(role)
  }
}

/** The room requests: a room's Backchannel as one member sees it, chat on/off, and the Q&A queue. */
export class RoomRequests {
  private store: BackchannelStore

  constructor(
    private bc: BackchannelService,
    private threads: RoomThreads,
    private rooms: RoomsApi,
    private audit: AuditFn,
  ) {
    this.store = bc.store
  }

  /** The room's chat, backstage (for the stage) and questions as this member sees them. */
  async open(userId: number, roomId: number): Promise<RoomBackchannel> {
    const room = this.rooms.room(roomId)
    if (!room) fail('room_not_found')
    const role = this.threads.role(roomId, userId)
    if (role) await this.threads.followRole(roomId, userId, role)
    const chat =
      (await this.store.threadByRoom(roomId, 'room_chat')) ??
      (role ? await this.threads.ensureThread(roomId, 'room_chat') : null)
    if (!chat || !(await this.threads.canRead(chat, userId))) fail('room_chat_unreadable')
    if (!(await this.store.members(chat.id)).get(userId)) await this.threads.setRow(chat.id, userId, 'left', false)
    const back = await this.store.threadByRoom(roomId, 'backstage')
    const backstage =
      back && (await this.threads.canRead(back, userId)) ? await this.bc.threadFor(back.id, userId) : null
    return {
      room: { id: room.id, title: room.title, state: room.state },
      role,
      canModerate: role !== null && MODS.includes(role),
      chat: await this.bc.threadFor(chat.id, userId),
      backstage,
      questions: await this.questions(chat.id, userId),
    }
  }

  async setChat(userId: number, roomId: number, enabled: boolean) {
    // Checked before anything is written (and the same answer for a room that does not exist).
    const role = this.threads.role(roomId, userId)
    if (role === null || !MODS.includes(role)) fail('chat_toggle_forbidden')
    const chat = await this.threads.ensureThread(roomId, 'room_chat')
    return this.store.change(
      async (nextSeq, tx) => {
        const seq = nextSeq()
        await this.store.setChat(chat.id, enabled, seq, tx)
        return seq
      },
      async (seq) => {
        this.audit({
          actorId: userId,
          action: enabled ? 'backchannel.chat.on' : 'backchannel.chat.off',
          targetType: 'room',
          targetId: roomId,
        })
        await this.bc.toThread(chat, { type: 'bc.chat', seq, roomId, threadId: chat.id, enabled })
        return { enabled }
      },
    )
  }

  private async questions(threadId: number, userId: number): Promise<Question[]> {
    const voted = await this.store.votedIn(threadId, userId)
    return (await this.store.questions(threadId)).map((q) => this.bc.views.question(q, voted.has(q.id)))
  }

  async ask(userId: number, roomId: number, clientId: string, body: string): Promise<Question> {
    const stored = await this.store.questionByClient(userId, clientId)
    if (stored) return this.bc.views.question(stored, false)
    const text = body.trim()
    if (!text) fail('validation', 'body: a question needs text')
    this.threads.liveRoom(roomId)
    if (!this.threads.role(roomId, userId)) fail('not_in_room')
    const chat = await this.threads.ensureThread(roomId, 'room_chat')
    try {
      return await this.store.change(
        (nextSeq, tx) =>
          this.store.insertQuestion(
            { threadId: chat.id, roomId, authorId: userId, clientId, body: text, seq: nextSeq() },
            tx,
          ),
        (id) => this.tell(chat, id, false),
      )
    } catch (e) {
      // The same client id twice at once: the first one's question is the answer.
      const raced = await this.store.questionByClient(userId, clientId)
      if (!raced) throw e
      return this.bc.views.question(raced, false)
    }
  }

  private async question(userId: number, questionId: number, moderate: boolean) {
    const q = await this.store.question(questionId)
    if (!q) fail('question_not_found')
    const chat = await this.bc.threadRow(q.thread_id)
    const room = this.rooms.room(q.room_id)
    if (room?.state !== 'live') fail(room?.state === 'ended' ? 'room_ended' : 'room_not_live')
    if (!this.threads.role(q.room_id, userId)) fail('not_in_room')
    if (moderate && !this.threads.isModerator(chat, userId)) fail('question_mark_forbidden')
    return { q, chat }
  }

  async upvote(userId: number, questionId: number): Promise<Question> {
    const { q, chat } = await this.question(userId, questionId, false)
    // A second vote changes nothing and takes no seq; the question is told all the same.
    return this.store.change(
      async (nextSeq, tx) => {
        if (await this.store.addVote(q.id, userId, tx)) await this.store.recountVotes(q.id, chat.id, nextSeq(), tx)
      },
      () => this.tell(chat, q.id, true),
    )
  }

  async mark(userId: number, questionId: number, state: QuestionState): Promise<Question> {
    const { q, chat } = await this.question(userId, questionId, true)
    return this.store.change(
      (nextSeq, tx) => this.store.setQuestionState(q.id, chat.id, state, nextSeq(), tx),
      async () => {
        this.audit({
          actorId: userId,
          action: `backchannel.question.${state}`,
          targetType: 'question',
          targetId: q.id,
          details: { roomId: q.room_id },
        })
        return this.tell(chat, q.id, await this.voted(q.id, userId))
      },
    )
  }

  /** "Bring to stage": invites the asker to speak and pins their question on the room. */
  async bringToStage(userId: number, questionId: number): Promise<Question> {
    const { q, chat } = await this.question(userId, questionId, true)
    if (q.author_id === null) fail('question_asker_gone')
    // Someone already on the stage needs no invitation: their question is pinned all the same.
    try {
      this.rooms.inviteToSpeak(q.room_id, userId, q.author_id)
    } catch (e) {
      if (!(e instanceof AppError && e.code === 'on_stage')) throw e
    }
    const by = this.bc.views.person(q.author_id)
    this.rooms.pin(q.room_id, { kind: 'question', id: q.id, text: q.body, by: by?.username ?? '' })
    return this.store.change(
      (nextSeq, tx) => this.store.stageQuestion(q.id, chat.id, nextSeq(), tx),
      async () => {
        this.audit({
          actorId: userId,
          action: 'backchannel.question.stage',
          targetType: 'question',
          targetId: q.id,
          details: { roomId: q.room_id, userId: q.author_id },
        })
        return this.tell(chat, q.id, await this.voted(q.id, userId))
      },
    )
  }

  private async voted(questionId: number, userId: number) {
    const q = (await this.store.question(questionId))!
    return (await this.store.votedIn(q.thread_id, userId)).has(questionId)
  }

  /** Publishes a question's new state to the room (each member keeps their own `voted`). */
  private async tell(chat: ThreadRow, id: number, voted: boolean): Promise<Question> {
    const row = (await this.store.question(id))!
    const { voted: _omit, ...shared } = this.bc.views.question(row, false)
    await this.bc.toThread(chat, { type: 'bc.question', seq: row.seq, question: shared })
    return { ...shared, voted }
  }
}
