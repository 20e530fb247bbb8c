// Backchannel's WebSocket requests (the protocol's BackchannelRequests, types `bc.*`): one handler per request type,
// mounted by app.ts on the gateway. Every field is validated by the protocol's schemas; the service checks the
// database. A handler returns its reply; events go out through the bus.
import { LIMITS, type BackchannelRequests } from '../protocol'
import type { Handlers } from '../realtime/hub'
import type { RoomRequests } from './rooms'
import type { BackchannelService } from './service'

/** Typing events a member may cause per thread (the client sends at most one every few seconds). */
const TYPING_EVERY_MS = 2000

type BackchannelRequestType = keyof typeof BackchannelRequests

export function backchannelWs(bc: BackchannelService, rooms: RoomRequests): Handlers<BackchannelRequestType> {
  return {
    'bc.inbox': (c) => bc.reader.inbox(c.user!.id),
    'bc.sync': (c, m) => bc.reader.sync(c.user!.id, m.after, m.limit ?? LIMITS.syncPage),
    'bc.thread': async (c, m) => {
      await bc.readable(m.threadId, c.user!.id)
      return { thread: await bc.threadFor(m.threadId, c.user!.id) }
    },
    'bc.history': (c, m) => bc.reader.history(c.user!.id, m.threadId, m.before, m.limit ?? LIMITS.page),

    'bc.send': async (c, m) => {
      const message = await bc.send(c.user!, m)
      // Short (B64): the sender's sockets got the message as its event; a stored one (a retry) sent none.
      if (m.ack !== 'short' || !bc.sends.live.has(message)) return { message }
      const { id, threadId, seq, clientId, createdAt } = message
      return { sent: { id, threadId, seq, clientId, createdAt } }
    },
    'bc.edit': async (c, m) => ({ message: await bc.edit(c.user!.id, m.messageId, m.body) }),
    'bc.delete': async (c, m) => ({ message: await bc.remove(c.user!.id, m.messageId) }),
    'bc.react': async (c, m) => ({ message: await bc.react(c.user!.id, m.messageId, m.emoji, m.on) }),
    'bc.read': (c, m) => bc.read(c.user!.id, m.threadId, m.messageId),
    'bc.voice.played': (c, m) => bc.played(c.user!.id, m.messageId),
    'bc.voice.list': (c, m) => bc.playedIn(c.user!.id, m.threadId),
    'bc.typing': async (c, m) => {
      const key = `bc.typing:${m.threadId}`
      const last = (c.state.get(key) as number | undefined) ?? 0
      // Remembered only once typing was allowed, so threads the socket cannot read leave nothing behind.
      if (Date.now() - last >= TYPING_EVERY_MS) {
        await bc.typing(c.user!, m.threadId)
        c.state.set(key, Date.now())
      }
      return {}
    },
    'bc.mute': async (c, m) => ({ thread: await bc.setMuted(c.user!.id, m.threadId, m.muted) }),

    'bc.dm': async (c, m) => ({ thread: await bc.openDm(c.user!.id, m.username) }),
    'bc.group.create': async (c, m) => ({ thread: await bc.groups.create(c.user!.id, m.title, m.usernames) }),
    'bc.group.add': async (c, m) => ({ thread: await bc.groups.addMembers(c.user!.id, m.threadId, m.usernames) }),
    'bc.group.remove': async (c, m) => ({ thread: await bc.groups.removeMember(c.user!.id, m.threadId, m.userId) }),
    'bc.group.leave': async (c, m) => {
      await bc.groups.leave(c.user!.id, m.threadId)
      return {}
    },
    'bc.group.rename': async (c, m) => ({ thread: await bc.groups.rename(c.user!.id, m.threadId, m.title) }),
    'bc.request.accept': async (c, m) => ({ thread: await bc.accept(c.user!.id, m.threadId) }),
    'bc.request.decline': async (c, m) => {
      await bc.decline(c.user!.id, m.threadId)
      return {}
    },
    'bc.prefs': async (c, m) => ({
      prefs: await (m.followersOnly === undefined ? bc.prefs(c.user!.id) : bc.setPrefs(c.user!.id, m.followersOnly)),
    }),
    'bc.search': (c, m) => bc.reader.search(c.user!.id, m.q),

    // In a room: chat on/off and the Q&A queue (room chat and backstage messages go through bc.send).
    'bc.room.open': (c, m) => rooms.open(c.user!.id, m.roomId),
    'bc.room.chat': (c, m) => rooms.setChat(c.user!.id, m.roomId, m.enabled),
    'bc.q.ask': async (c, m) => ({ question: await rooms.ask(c.user!.id, m.roomId, m.clientId, m.body) }),
    'bc.q.upvote': async (c, m) => ({ question: await rooms.upvote(c.user!.id, m.questionId) }),
    'bc.q.mark': async (c, m) => ({ question: await rooms.mark(c.user!.id, m.questionId, m.state) }),
    'bc.q.stage': async (c, m) => ({ question: await rooms.bringToStage(c.user!.id, m.questionId) }),
  }
}
