// The rooms' WebSocket requests: join (snapshot reply), leave, hands, invitations, moderation, and the hallway feed.
import type { Ctx } from '../context'
import { fail } from '../errors'
import { WS } from './model'
import { HALLWAY_TOPIC, type RoomsService } from './service'

export function registerRoomsWs(ctx: Ctx, rooms: RoomsService) {
  const h = ctx.hub
  const me = (userId: number | null) => userId ?? fail('unauthorized')
  h.handle('room.join', WS.join, (c, m) => rooms.join(c, m.roomId), { guest: true })
  h.handle('room.leave', WS.leave, (c, m) => rooms.leaveRequest(c, m.roomId), { guest: true })
  h.handle('room.hand', WS.hand, (c, m) => { rooms.hand(me(c.userId), m.roomId, m.up) })
  h.handle('room.invite', WS.invite, (c, m) => { rooms.inviteToSpeak(m.roomId, me(c.userId), m.userId) })
  h.handle('room.respond', WS.respond, (c, m) => { rooms.respond(me(c.userId), m.roomId, m.accept) })
  h.handle('room.move', WS.move, (c, m) => { rooms.move(me(c.userId), m.roomId, m.userId) })
  h.handle('room.mute', WS.mute, (c, m) => { rooms.mute(me(c.userId), m.roomId, m.muted, m.userId) })
  h.handle('room.mod', WS.mod, (c, m) => { rooms.setModerator(me(c.userId), m.roomId, m.userId, m.on) })
  h.handle('room.remove', WS.remove, (c, m) => { rooms.remove(me(c.userId), m.roomId, m.userId) })
  h.handle('room.end', WS.end, (c, m) => { rooms.endRequest(me(c.userId), m.roomId) })
  h.handle('hallway.watch', WS.hallway, (c, m) => {
    if (m.on) {
      if (!c.user && !ctx.settings.get().guests) fail('unauthorized')
      h.subscribe(c, HALLWAY_TOPIC)
    } else h.unsubscribe(c, HALLWAY_TOPIC)
    return {}
  }, { guest: true })
}
