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
    'room.respond': async (c, m) => {
      await rooms.respond(me(c.userId), m.roomId, m.accept, m.muted ?? false)
      return {}
    },
    'room.move': async (c, m) => {
      await rooms.move(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.mute': (c, m) => {
      rooms.mute(me(c.userId), m.roomId, m.muted, m.userId)
      return {}
    },
    'room.mod': async (c, m) => {
      await rooms.setModerator(me(c.userId), m.roomId, m.userId, m.on)
      return {}
    },
    'room.remove': async (c, m) => {
      await rooms.remove(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.end': async (c, m) => {
      await rooms.endRequest(me(c.userId), m.roomId)
      return {}
    },
    'room.handover': async (c, m) => {
      await rooms.handOver(me(c.userId), m.roomId, m.userId)
      return {}
    },
    'room.react': (c, m) => {
      rooms.react(me(c.userId), m.roomId, m.emoji)
      return {}
    },
    'room.consent': async (c, m) => {
      await rooms.setConsent(me(c.userId), m.roomId, m.consent)
      return {}
    },
    'room.recording': async (c, m) => {
      await rooms.setRecording(me(c.userId), m.roomId, m.on)
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
