// The rooms' WebSocket requests (the protocol's RoomRequests): join (snapshot reply), leave, hands, invitations,
// moderation, and the hallway feed. The handlers only; app.ts registers them on the hub with the other domains'.
import type { Core } from '../core'
import { fail } from '../errors'
import type { RoomRequests } from '../protocol'
import { HALLWAY_TOPIC } from '../realtime/bus'
import type { Handlers } from '../realtime/hub'
import type { RoomsService } from './service'

export type RoomsWs = Handlers<keyof typeof RoomRequests>

export function roomsWs(core: Core, rooms: RoomsService): RoomsWs {
  const me = (userId: number | null) => userId ?? fail('unauthorized')
  return {
    'room.join': (c, m) => rooms.join(c, m.roomId),
    'room.leave': (c, m) => rooms.leaveRequest(c, m.roomId),
    'room.hand': (c, m) => {
      rooms.hand(me(c.userId), m.roomId, m.up)
      return {}
    },
    'room.invite': (c, m) => {
      rooms.inviteToSpeak(m.roomId, me(c.userId), m.userId)
      return {}
    },
    'room.respond': (c, m) => {
      rooms.respond(me(c.userId), m.roomId, m.accept, m.muted ?? false)
      return {}
    },
    'room.move': (c, m) => {
      rooms.move(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.mute': (c, m) => {
      rooms.mute(me(c.userId), m.roomId, m.muted, m.userId)
      return {}
    },
    'room.mod': (c, m) => {
      rooms.setModerator(me(c.userId), m.roomId, m.userId, m.on)
      return {}
    },
    'room.remove': (c, m) => {
      rooms.remove(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.end': (c, m) => {
      rooms.endRequest(me(c.userId), m.roomId)
      return {}
    },
    'room.handover': (c, m) => {
      rooms.handOver(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.react': (c, m) => {
      rooms.react(me(c.userId), m.roomId, m.emoji)
      return {}
    },
    'room.consent': (c, m) => {
      rooms.setConsent(me(c.userId), m.roomId, m.consent)
      return {}
    },
    'room.recording': (c, m) => {
      rooms.setRecording(me(c.userId), m.roomId, m.on)
      return {}
    },
    'hallway.watch': (c, m) => {
      if (m.on) {
        if (!c.user && !core.settings.get().guests) fail('unauthorized')
        core.bus.subscribe(c.id, HALLWAY_TOPIC)
      } else core.bus.unsubscribe(c.id, HALLWAY_TOPIC)
      return {}
    },
  }
}
