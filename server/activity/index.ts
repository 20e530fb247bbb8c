// The activity inbox: what happened to a member (invited to speak or to a closed room, a new follower, someone they
// follow started or scheduled a room, a mention in a group or a room's chat, a message request, a report handled).
// Built after backchannel: it follows the accounts', rooms' and Backchannel's in-process events, and admin posts to
// it through ActivityApi. WebSocket requests `activity.list` and `activity.read`; events `activity.new` and
// `activity.read` to every tab of the member. start(): items past ACTIVITY_KEEP_MS are forgotten.
import type { AccountsApi, ActivityApi, BackchannelApi, PushApi, ReplaysApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import type { ActivityRequests } from '../protocol'
import type { Handlers } from '../realtime/hub'
import { fail } from '../errors'
import { ACTIVITY_KEEP_MS, ActivityService } from './service'
import { byDialect } from '../db/conn'
import { type ActivityStore, SqliteActivityStore } from './store'
import { PgActivityStore } from './store-pg'

export interface ActivityDomain extends Domain<ActivityApi> {
  readonly service: ActivityService
  readonly ws: Handlers<keyof typeof ActivityRequests>
}

/** At most this many people are told of one message's mentions. */
const MENTIONS_MAX = 10
const MENTION = /(^|[^\w@])@([A-Za-z0-9_]{1,20})\b/g

/** The usernames a text mentions (`@ann`), lower-cased, each once, at most MENTIONS_MAX. */
export function mentions(text: string): string[] {
  // Most messages mention nobody: no regular expression run for them.
  if (!text.includes('@')) return []
  const out = new Set<string>()
  for (const m of text.matchAll(MENTION)) {
    out.add(m[2]!.toLowerCase())
    if (out.size >= MENTIONS_MAX) break
  }
  return [...out]
}

export function createActivity(deps: {
  core: Core
  accounts: AccountsApi
  push: PushApi
  rooms: RoomsApi
  backchannel: BackchannelApi
  replays: ReplaysApi
}): ActivityDomain {
  const { accounts, rooms, backchannel, replays } = deps
  const service = new ActivityService(
    deps,
    byDialect<ActivityStore>(
      deps.core.conn,
      (g) => new SqliteActivityStore(g),
      (c) => new PgActivityStore(c),
    ),
  )
  // Callers do not wait for the write (their events are synchronous): fire-and-forget, a failure logged.
  const api: ActivityApi = { add: (userId, item) => service.fire(userId, item) }
  const title = (roomId: number) => rooms.room(roomId)?.title ?? ''

  accounts.on('followed', ({ followerId, followeeId, invited }) => {
    const f = accounts.byId(followerId)
    if (!f) return
    service.fire(followeeId, {
      kind: 'follower',
      actorId: followerId,
      text: invited ? 'joined with your invite and follows you' : 'started following you',
      detail: '',
      url: `/u/${f.username}`,
      dedupe: `follower:${followerId}`,
    })
  })

  rooms.on('speakInvite', ({ roomId, byUserId, userId }) =>
    service.fire(userId, {
      kind: 'speak_invite',
      actorId: byUserId,
      text: 'invited you to speak',
      detail: title(roomId),
      url: `/rooms/${roomId}`,
      dedupe: `speak:${roomId}:${Date.now()}`,
    }),
  )
  // [RP67] The host and the speakers heard in a replay are told it is ready (again after a withdrawal).
  replays.on('ready', ({ replayId, roomId, speakers }) => {
    const room = rooms.room(roomId)
    if (!room) return
    for (const userId of new Set([room.hostId, ...speakers]))
      service.fire(userId, {
        kind: 'replay_ready',
        actorId: null,
        text: userId === room.hostId ? 'The replay of your room is ready' : 'A replay you are heard in is ready',
        detail: room.title,
        url: `/replays/${replayId}`,
        dedupe: `replay_ready:${replayId}:${Date.now()}`,
      })
  })
  rooms.on('invited', ({ roomId, byUserId, userIds }) => {
    const room = rooms.room(roomId)
    for (const userId of userIds)
      service.fire(userId, {
        kind: 'room_invite',
        actorId: byUserId,
        text: room?.state === 'scheduled' ? 'invited you to a scheduled room' : 'invited you to a room',
        detail: room?.title ?? '',
        url: `/rooms/${roomId}`,
        dedupe: `room_invite:${roomId}`,
      })
  })
  // Followers who may join the room are told it started, or that it is scheduled.
  const toFollowers = (roomId: number, hostId: number, started: boolean) => {
    for (const f of accounts.followers(hostId)) {
      if (f.status !== 'active' || !(started ? rooms.mayJoin(roomId, f.id) : rooms.mayKnow(roomId, f.id))) continue
      service.fire(f.id, {
        kind: started ? 'room_started' : 'room_scheduled',
        actorId: hostId,
        text: started ? 'started a room' : 'scheduled a room',
        detail: title(roomId),
        url: `/rooms/${roomId}`,
        dedupe: `${started ? 'started' : 'scheduled'}:${roomId}`,
      })
    }
  }
  rooms.on('started', ({ roomId, hostId }) => toFollowers(roomId, hostId, true))
  rooms.on('scheduled', ({ roomId, hostId }) => toFollowers(roomId, hostId, false))
  followEvents(rooms, service, title)

  backchannel.on('sent', async (m) => {
    if (m.kind === 'group' || m.kind === 'room_chat' || m.kind === 'backstage') {
      const where =
        m.kind === 'group'
          ? `in ${m.title}`
          : `in the ${m.kind === 'backstage' ? 'backstage' : 'chat'} of ${title(m.roomId!)}`
      const url = m.kind === 'group' ? `/backchannel/${m.threadId}` : `/rooms/${m.roomId}`
      for (const name of mentions(m.body)) {
        const u = accounts.byName(name)
        if (!u || u.id === m.authorId || !(await backchannel.canRead(m.threadId, u.id))) continue
        service.fire(u.id, {
          kind: 'mention',
          actorId: m.authorId,
          text: `mentioned you ${where}`,
          detail: m.body.slice(0, 280),
          url,
          dedupe: `mention:${m.messageId}`,
        })
      }
    }
    if (m.kind === 'dm' || m.kind === 'group')
      for (const userId of m.requested)
        service.fire(userId, {
          kind: 'message_request',
          actorId: m.authorId,
          text: m.kind === 'dm' ? 'sent you a message request' : `wants you in the group ${m.title}`,
          detail: m.body.slice(0, 280),
          url: `/backchannel/${m.threadId}`,
          dedupe: `request:${m.threadId}`,
        })
  })

  const me = (userId: number | null) => userId ?? fail('unauthorized')
  return {
    api,
    service,
    ws: {
      'activity.list': (c, m) => service.list(me(c.userId), m.before, m.limit),
      'activity.read': (c, m) => service.read(me(c.userId), m),
    },
    start: async () => {
      await service.store.prune(Date.now() - ACTIVITY_KEEP_MS)
    },
  }
}

/**
 * What the scheduled rooms' events (RSVPs, edits, cancellations, reminders) tell the inbox of those the rooms told:
 * who did it (null: the server), once per change (a cancellation once per room).
 */
function followEvents(rooms: RoomsApi, service: ActivityService, title: (roomId: number) => string) {
  const tell = (
    e: { roomId: number; userIds: number[] },
    item: { kind: 'event_changed' | 'event_cancelled' | 'event_reminder'; actorId: number | null; text: string },
    dedupe: string,
  ) => {
    for (const userId of e.userIds)
      service.fire(userId, { ...item, detail: title(e.roomId), url: `/rooms/${e.roomId}`, dedupe })
  }
  rooms.on('eventChanged', (e) =>
    tell(
      e,
      { kind: 'event_changed', actorId: e.byUserId, text: 'changed a room you said yes to' },
      `event_changed:${e.roomId}:${Date.now()}`,
    ),
  )
  rooms.on('eventCancelled', (e) =>
    tell(
      e,
      { kind: 'event_cancelled', actorId: e.byUserId, text: 'cancelled a room you said yes to' },
      `event_cancelled:${e.roomId}`,
    ),
  )
  rooms.on('eventReminder', (e) =>
    tell(
      e,
      {
        kind: 'event_reminder',
        actorId: null,
        text: e.lead === 'start' ? 'A room you said yes to is starting' : 'A room you said yes to starts in 10 minutes',
      },
      `event_reminder:${e.roomId}:${e.lead}:${e.startsAt}`,
    ),
  )
}
