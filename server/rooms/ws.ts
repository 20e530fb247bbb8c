// The rooms' WebSocket requests (the protocol's RoomRequests): join (snapshot reply), leave, hands, invitations,
// moderation, and the hallway feed.
import type { Ctx } from '../context'
import { fail } from '../errors'
import type { RoomRequests } from '../protocol'
import type { Handlers } from '../realtime/hub'
import { HALLWAY_TOPIC, type RoomsService } from './service'

export function registerRoomsWs(ctx: Ctx, rooms: RoomsService) {
  const h = ctx.hub
  const me = (userId: number | null) => userId ?? fail('unauthorized')
  const handlers: Handlers<keyof typeof RoomRequests> = {
    'room.join': (c, m) => rooms.join(c, m.roomId),
    'room.leave': (c, m) => rooms.leaveRequest(c, m.roomId),
    'room.hand': (c, m) => { rooms.hand(me(c.userId), m.roomId, m.up); return {} },
    'room.invite': (c, m) => { rooms.inviteToSpeak(m.roomId, me(c.userId), m.userId); return {} },
    'room.respond': (c, m) => { rooms.respond(me(c.userId), m.roomId, m.accept); return {} },
    'room.move': (c, m) => { rooms.move(me(c.userId), m.roomId, m.userId); return {} },
    'room.mute': (c, m) => { rooms.mute(me(c.userId), m.roomId, m.muted, m.userId); return {} },
    'room.mod': (c, m) => { rooms.setModerator(me(c.userId), m.roomId, m.userId, m.on); return {} },
    'room.remove': (c, m) => { rooms.remove(me(c.userId), m.roomId, m.userId); return {} },
    'room.end': (c, m) => { rooms.endRequest(me(c.userId), m.roomId); return {} },
    'hallway.watch': (c, m) => {
      if (m.on) {
        if (!c.user && !ctx.settings.get().guests) fail('unauthorized')
        h.subscribe(c, HALLWAY_TOPIC)
      } else h.unsubscribe(c, HALLWAY_TOPIC)
      return {}
    },
  }
  h.handleAll(handlers)
}
