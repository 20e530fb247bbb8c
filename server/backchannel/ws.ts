// Backchannel's WebSocket requests (types `bc.*`). Every field is validated here; the service checks the database.
import { Type as t, type TProperties } from '@sinclair/typebox'
import type { Hub } from '../realtime/hub'
import { Body, ClientId, Emoji, Id, LIMITS, Title, UsernameField } from './model'
import type { BackchannelService } from './service'
import type { RoomBackchannel } from './rooms'

const req = <T extends string, P extends TProperties>(type: T, props: P) => t.Object({ id: t.Any(), type: t.Literal(type), ...props })

/** Typing events a member may cause per thread (the client sends at most one every few seconds). */
const TYPING_EVERY_MS = 2000

export function registerBackchannelWs(hub: Hub, bc: BackchannelService) {
  hub.handle('bc.inbox', req('bc.inbox', {}), (c) => bc.reader.inbox(c.user!.id))
  hub.handle('bc.sync', req('bc.sync', { after: t.Integer({ minimum: 0 }), limit: t.Optional(t.Integer({ minimum: 1, maximum: LIMITS.syncPage })) }),
    (c, m) => bc.reader.sync(c.user!.id, m.after, m.limit ?? LIMITS.syncPage))
  hub.handle('bc.thread', req('bc.thread', { threadId: Id }), (c, m) => {
    bc.readable(m.threadId, c.user!.id)
    return { thread: bc.threadFor(m.threadId, c.user!.id) }
  })
  hub.handle('bc.history', req('bc.history', { threadId: Id, before: t.Optional(Id), limit: t.Optional(t.Integer({ minimum: 1, maximum: 100 })) }),
    (c, m) => bc.reader.history(c.user!.id, m.threadId, m.before, m.limit ?? LIMITS.page))

  hub.handle('bc.send', req('bc.send', {
    threadId: Id, clientId: ClientId, body: t.Optional(Body), image: t.Optional(t.String({ maxLength: 80 })), replyTo: t.Optional(Id),
  }), async (c, m) => ({ message: await bc.send(c.user!, m) }))
  hub.handle('bc.edit', req('bc.edit', { messageId: Id, body: Body }), (c, m) => ({ message: bc.edit(c.user!.id, m.messageId, m.body) }))
  hub.handle('bc.delete', req('bc.delete', { messageId: Id }), (c, m) => ({ message: bc.remove(c.user!.id, m.messageId) }))
  hub.handle('bc.react', req('bc.react', { messageId: Id, emoji: Emoji, on: t.Boolean() }), (c, m) => ({ message: bc.react(c.user!.id, m.messageId, m.emoji, m.on) }))
  hub.handle('bc.read', req('bc.read', { threadId: Id, messageId: Id }), (c, m) => bc.read(c.user!.id, m.threadId, m.messageId))
  hub.handle('bc.typing', req('bc.typing', { threadId: Id }), (c, m) => {
    const key = `bc.typing:${m.threadId}`
    const last = (c.state.get(key) as number | undefined) ?? 0
    // Remembered only once typing was allowed, so threads the socket cannot read leave nothing behind.
    if (Date.now() - last >= TYPING_EVERY_MS) { bc.typing(c.user!, m.threadId); c.state.set(key, Date.now()) }
    return {}
  })
  hub.handle('bc.mute', req('bc.mute', { threadId: Id, muted: t.Boolean() }), (c, m) => ({ thread: bc.setMuted(c.user!.id, m.threadId, m.muted) }))

  hub.handle('bc.dm', req('bc.dm', { username: UsernameField }), (c, m) => ({ thread: bc.openDm(c.user!.id, m.username) }))
  hub.handle('bc.group.create', req('bc.group.create', { title: Title, usernames: t.Array(UsernameField, { minItems: 1, maxItems: LIMITS.groupMembers - 1 }) }),
    (c, m) => ({ thread: bc.groups.create(c.user!.id, m.title, m.usernames) }))
  hub.handle('bc.group.add', req('bc.group.add', { threadId: Id, usernames: t.Array(UsernameField, { minItems: 1, maxItems: LIMITS.groupMembers - 1 }) }),
    (c, m) => ({ thread: bc.groups.addMembers(c.user!.id, m.threadId, m.usernames) }))
  hub.handle('bc.group.remove', req('bc.group.remove', { threadId: Id, userId: Id }), (c, m) => ({ thread: bc.groups.removeMember(c.user!.id, m.threadId, m.userId) }))
  hub.handle('bc.group.leave', req('bc.group.leave', { threadId: Id }), (c, m) => { bc.groups.leave(c.user!.id, m.threadId); return {} })
  hub.handle('bc.group.rename', req('bc.group.rename', { threadId: Id, title: Title }), (c, m) => ({ thread: bc.groups.rename(c.user!.id, m.threadId, m.title) }))
  hub.handle('bc.request.accept', req('bc.request.accept', { threadId: Id }), (c, m) => ({ thread: bc.accept(c.user!.id, m.threadId) }))
  hub.handle('bc.request.decline', req('bc.request.decline', { threadId: Id }), (c, m) => { bc.decline(c.user!.id, m.threadId); return {} })
  hub.handle('bc.prefs', req('bc.prefs', { followersOnly: t.Optional(t.Boolean()) }), (c, m) =>
    ({ prefs: m.followersOnly === undefined ? bc.prefs(c.user!.id) : bc.setPrefs(c.user!.id, m.followersOnly) }))
  hub.handle('bc.search', req('bc.search', { q: t.String({ minLength: 1, maxLength: 200 }) }), (c, m) => bc.reader.search(c.user!.id, m.q))
}

/** Room chat on/off and the Q&A queue (room chat and backstage messages go through bc.send). */
export function registerRoomBackchannelWs(hub: Hub, rooms: RoomBackchannel) {
  hub.handle('bc.room.open', req('bc.room.open', { roomId: Id }), (c, m) => rooms.open(c.user!.id, m.roomId))
  hub.handle('bc.room.chat', req('bc.room.chat', { roomId: Id, enabled: t.Boolean() }), (c, m) => rooms.setChat(c.user!.id, m.roomId, m.enabled))
  hub.handle('bc.q.ask', req('bc.q.ask', { roomId: Id, clientId: ClientId, body: t.String({ minLength: 1, maxLength: LIMITS.question }) }),
    (c, m) => ({ question: rooms.ask(c.user!.id, m.roomId, m.clientId, m.body) }))
  hub.handle('bc.q.upvote', req('bc.q.upvote', { questionId: Id }), (c, m) => ({ question: rooms.upvote(c.user!.id, m.questionId) }))
  hub.handle('bc.q.mark', req('bc.q.mark', { questionId: Id, state: t.Union([t.Literal('answered'), t.Literal('dismissed'), t.Literal('open')]) }),
    (c, m) => ({ question: rooms.mark(c.user!.id, m.questionId, m.state) }))
  hub.handle('bc.q.stage', req('bc.q.stage', { questionId: Id }), (c, m) => ({ question: rooms.bringToStage(c.user!.id, m.questionId) }))
}
