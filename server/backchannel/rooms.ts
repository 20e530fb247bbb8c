// Backchannel inside a room: the room chat (everyone in the room; moderators delete, and may turn chat off), the
// backstage thread (host, moderators, speakers) and the Q&A queue. Rooms are reached only through ctx.rooms.
// Membership rows follow the room's events; whoever was in the room keeps reading after it ends.
import type { RoomsCtx as Ctx } from '../context'
import { memberKey, type RoomRole } from '../contracts'
import { AppError, fail } from '../errors'
import { LIMITS, type Question, type QuestionState, type ThreadKind } from '../protocol'
import type { ThreadRow } from './model'
import type { BackchannelService, RoomPolicy } from './service'

const STAGE: RoomRole[] = ['host', 'moderator', 'speaker']
const MODS: RoomRole[] = ['host', 'moderator']

export class RoomBackchannel implements RoomPolicy {
  constructor(private ctx: Ctx, private bc: BackchannelService) {
    bc.roomPolicy = this
  }

  /** Follows the rooms domain (when it exists): joining adds to the chat, the stage to backstage. */
  private listening = false
  listen() {
    const rooms = this.ctx.rooms
    if (!rooms || this.listening) return
    this.listening = true
    const safe = (fn: () => void) => { try { fn() } catch (e) { this.ctx.log.error('backchannel: room event failed', { error: e }) } }
    rooms.on('role', (e) => e.userId !== null && safe(() => this.follow(e.roomId, e.userId!, e.role)))
    rooms.on('left', (e) => e.userId !== null && safe(() => this.follow(e.roomId, e.userId!, null)))
  }

  /** The room, if it is live; otherwise the error that says why not. */
  private liveRoom(roomId: number) {
    const room = this.ctx.rooms?.room(roomId)
    if (!room) fail('room_not_found')
    if (room.state === 'ended') fail('room_ended')
    if (room.state !== 'live') fail('room_not_live')
    return room
  }

  private role(roomId: number, userId: number): RoomRole | null {
    return this.ctx.rooms?.participant(roomId, memberKey(userId))?.role ?? null
  }

  /** Brings a member's rows in a room's threads in line with their role now (null: not in the room). */
  private follow(roomId: number, userId: number, role: RoomRole | null) {
    const chat = this.ensureThread(roomId, 'room_chat')
    this.setRow(chat.id, userId, role ? 'active' : 'left', false)
    const stage = role !== null && STAGE.includes(role)
    const back = stage ? this.ensureThread(roomId, 'backstage') : this.bc.store.q.threadByRoom.get(roomId, 'backstage')
    if (back) this.setRow(back.id, userId, stage ? 'active' : 'left', true)
  }

  private setRow(threadId: number, userId: number, state: 'active' | 'left', onlyIfMember: boolean) {
    const cur = this.bc.members(threadId).get(userId)
    if (cur?.state === state || (!cur && onlyIfMember && state === 'left')) return
    this.bc.write(() => this.bc.store.upsertMember(threadId, userId, state, this.bc.nextSeq()))
    this.bc.invalidate(threadId)
  }

  private ensureThread(roomId: number, kind: ThreadKind): ThreadRow {
    const t = this.bc.store.q.threadByRoom.get(roomId, kind)
    if (t) return t
    const room = this.ctx.rooms?.room(roomId)
    if (!room) fail('room_not_found')
    const id = this.bc.write(() => this.bc.store.insertThread(kind, room.title.slice(0, LIMITS.title), room.hostId, null, roomId, this.bc.nextSeq()))
    return this.bc.threadRow(id)
  }

  // ——— RoomPolicy ———

  canRead(t: ThreadRow, userId: number): boolean {
    // Removed by a moderator: the room's threads are gone for them at once (not only their live events).
    if (this.ctx.rooms?.wasRemoved(t.room_id!, userId)) return false
    const m = this.bc.members(t.id).get(userId)
    if (m) return true
    if (t.kind === 'backstage' || !this.ctx.rooms) return false
    return this.role(t.room_id!, userId) !== null || this.ctx.rooms.wasParticipant(t.room_id!, userId)
  }

  checkPost(t: ThreadRow, userId: number) {
    const roomId = t.room_id!
    this.liveRoom(roomId)
    const role = this.role(roomId, userId)
    if (!role) fail('not_in_room')
    if (t.kind === 'backstage' && !STAGE.includes(role)) fail('not_on_stage')
    if (t.kind === 'room_chat' && !t.chat_enabled && !MODS.includes(role)) fail('chat_off')
    this.follow(roomId, userId, role)
  }

  isModerator(t: ThreadRow, userId: number) {
    const role = t.room_id ? this.role(t.room_id, userId) : null
    return role !== null && MODS.includes(role)
  }

  // ——— requests ———

  /** The room's chat, backstage (for the stage) and questions as this member sees them. */
  open(userId: number, roomId: number) {
    const room = this.ctx.rooms?.room(roomId)
    if (!room) fail('room_not_found')
    const role = this.role(roomId, userId)
    if (role) this.follow(roomId, userId, role)
    const chat = this.bc.store.q.threadByRoom.get(roomId, 'room_chat') ?? (role ? this.ensureThread(roomId, 'room_chat') : null)
    if (!chat || !this.canRead(chat, userId)) fail('room_chat_unreadable')
    if (!this.bc.members(chat.id).get(userId)) this.setRow(chat.id, userId, 'left', false)
    const back = this.bc.store.q.threadByRoom.get(roomId, 'backstage')
    const backstage = back && this.canRead(back, userId) ? this.bc.threadFor(back.id, userId) : null
    return {
      room: { id: room.id, title: room.title, state: room.state }, role, canModerate: role !== null && MODS.includes(role),
      chat: this.bc.threadFor(chat.id, userId), backstage, questions: this.questions(chat.id, userId),
    }
  }

  setChat(userId: number, roomId: number, enabled: boolean) {
    // Checked before anything is written (and the same answer for a room that does not exist).
    const role = this.role(roomId, userId)
    if (role === null || !MODS.includes(role)) fail('chat_toggle_forbidden')
    const chat = this.ensureThread(roomId, 'room_chat')
    const seq = this.bc.write(() => {
      const s = this.bc.nextSeq()
      this.bc.store.q.setChat.run(enabled ? 1 : 0, chat.id)
      this.bc.store.q.touchMeta.run(s, s, chat.id)
      return s
    })
    this.ctx.audit?.({ actorId: userId, action: enabled ? 'backchannel.chat.on' : 'backchannel.chat.off', targetType: 'room', targetId: roomId })
    this.bc.deliver(this.bc.recipients(chat), { type: 'bc.chat', seq, roomId, threadId: chat.id, enabled })
    return { enabled }
  }

  private questions(threadId: number, userId: number): Question[] {
    const voted = new Set(this.bc.store.q.myVotes.all(threadId, userId).map((v) => v.question_id))
    return this.bc.store.q.questions.all(threadId).map((q) => this.bc.views.question(q, voted.has(q.id)))
  }

  ask(userId: number, roomId: number, clientId: string, body: string): Question {
    const stored = this.bc.store.q.questionByClient.get(userId, clientId)
    if (stored) return this.bc.views.question(stored, false)
    const text = body.trim()
    if (!text) fail('validation', 'body: a question needs text')
    this.liveRoom(roomId)
    if (!this.role(roomId, userId)) fail('not_in_room')
    const chat = this.ensureThread(roomId, 'room_chat')
    const id = this.bc.write(() => {
      const seq = this.bc.nextSeq()
      const qid = this.bc.store.q.insertQuestion.get(chat.id, roomId, userId, clientId, text, Date.now(), seq)!.id
      this.bc.store.q.touchThread.run(seq, chat.id)
      return qid
    })
    return this.tell(chat, id, false)
  }

  private question(userId: number, questionId: number, moderate: boolean) {
    const q = this.bc.store.q.question.get(questionId)
    if (!q) fail('question_not_found')
    const chat = this.bc.threadRow(q.thread_id)
    const room = this.ctx.rooms?.room(q.room_id)
    if (room?.state !== 'live') fail(room?.state === 'ended' ? 'room_ended' : 'room_not_live')
    if (!this.role(q.room_id, userId)) fail('not_in_room')
    if (moderate && !this.isModerator(chat, userId)) fail('question_mark_forbidden')
    return { q, chat }
  }

  upvote(userId: number, questionId: number): Question {
    const { q, chat } = this.question(userId, questionId, false)
    this.bc.write(() => {
      if (!this.bc.store.q.vote.get(q.id, userId)) return
      const seq = this.bc.nextSeq()
      this.bc.store.q.countVotes.run(q.id, seq, q.id)
      this.bc.store.q.touchThread.run(seq, chat.id)
    })
    return this.tell(chat, q.id, true)
  }

  mark(userId: number, questionId: number, state: QuestionState): Question {
    const { q, chat } = this.question(userId, questionId, true)
    this.bc.write(() => {
      const seq = this.bc.nextSeq()
      this.bc.store.q.setQuestionState.run(state, seq, q.id)
      this.bc.store.q.touchThread.run(seq, chat.id)
    })
    this.ctx.audit?.({ actorId: userId, action: `backchannel.question.${state}`, targetType: 'question', targetId: q.id, details: { roomId: q.room_id } })
    return this.tell(chat, q.id, this.voted(q.id, userId))
  }

  /** "Bring to stage": invites the asker to speak and pins their question on the room. */
  bringToStage(userId: number, questionId: number): Question {
    const { q, chat } = this.question(userId, questionId, true)
    if (q.author_id === null) fail('question_asker_gone')
    // Someone already on the stage needs no invitation: their question is pinned all the same.
    try { this.ctx.rooms!.inviteToSpeak(q.room_id, userId, q.author_id) } catch (e) { if (!(e instanceof AppError && e.code === 'on_stage')) throw e }
    const by = this.bc.views.person(q.author_id)
    this.ctx.rooms!.pin(q.room_id, { kind: 'question', id: q.id, text: q.body, by: by?.username ?? '' })
    this.bc.write(() => {
      const seq = this.bc.nextSeq()
      this.bc.store.q.stageQuestion.run(Date.now(), seq, q.id)
      this.bc.store.q.touchThread.run(seq, chat.id)
    })
    this.ctx.audit?.({ actorId: userId, action: 'backchannel.question.stage', targetType: 'question', targetId: q.id, details: { roomId: q.room_id, userId: q.author_id } })
    return this.tell(chat, q.id, this.voted(q.id, userId))
  }

  private voted(questionId: number, userId: number) {
    return this.bc.store.q.myVotes.all(this.bc.store.q.question.get(questionId)!.thread_id, userId).some((v) => v.question_id === questionId)
  }

  /** Publishes a question's new state to the room (each member keeps their own `voted`). */
  private tell(chat: ThreadRow, id: number, voted: boolean): Question {
    const row = this.bc.store.q.question.get(id)!
    const { voted: _omit, ...shared } = this.bc.views.question(row, false)
    this.bc.deliver(this.bc.recipients(chat), { type: 'bc.question', seq: row.seq, question: shared })
    return { ...shared, voted }
  }
}
