// Rooms over HTTP: the hallway, creating or scheduling a room, a room's page, starting and cancelling.
import { Elysia } from 'elysia'
import { publicUser } from '../accounts/model'
import type { Ctx } from '../context'
import { fail } from '../errors'
import { requireUser, sessionPlugin } from '../http/session'
import type { Hallway } from './hallway'
import { CreateRoomBody, roomView, RoomIdParams } from './model'
import type { RoomsService } from './service'

export const roomsRoutes = (ctx: Ctx, rooms: RoomsService, hallway: Hallway) =>
  new Elysia({ prefix: '/api', tags: ['rooms'] } as any)
    .use(sessionPlugin(ctx))
    .get('/rooms', ({ viewer }) => {
      if (!viewer && !ctx.settings.get().guests) fail('unauthorized')
      return hallway.list(viewer?.user.id ?? null)
    }, { detail: { summary: 'The hallway: live and upcoming rooms the viewer may join (followed speakers first, then by size)' } })
    .post('/rooms', ({ viewer, body, set }) => {
      const v = requireUser(viewer)
      set.status = 201
      return { room: rooms.create(v.user.id, body) }
    }, { body: CreateRoomBody, detail: { summary: 'Start a room now, or schedule it (startsAt)' } })
    .get('/rooms/:id', ({ viewer, params }) => {
      const userId = viewer?.user.id ?? null
      if (userId === null && !ctx.settings.get().guests) fail('unauthorized')
      const room = rooms.store.byId(params.id)
      if (!room || !rooms.access.mayKnow(room, userId)) fail('not_found')
      const host = ctx.accounts.store.byId(room.host_id)
      const session = rooms.session(room.id)
      const canSeeHistory = userId !== null && (rooms.wasParticipant(room.id, userId) || rooms.access.moderatorIds(room).includes(userId))
      return {
        room: roomView(room),
        host: host ? publicUser(host) : null,
        mayJoin: rooms.access.joinRefusal(room, userId) === null,
        mayStart: room.state === 'scheduled' && userId !== null && rooms.access.isHostly(room, userId),
        participants: session ? session.members().map((s) => session.view(s)) : [],
        guests: session?.guests() ?? 0,
        history: room.state === 'ended' && canSeeHistory ? rooms.store.history(room.id).map((h) => ({
          user: publicUser({ id: h.user_id, username: h.username, display_name: h.display_name, avatar: h.avatar, role: 'member' }),
          role: h.role, from: h.from_at, to: h.to_at, reason: h.end_reason,
        })) : [],
      }
    }, { params: RoomIdParams, detail: { summary: 'A room: details, who is in it, and (after it ended) who was' } })
    .post('/rooms/:id/start', ({ viewer, params }) => ({ room: rooms.start(requireUser(viewer).user.id, params.id) }),
      { params: RoomIdParams, detail: { summary: 'Start a scheduled room (host or co-host)' } })
    .delete('/rooms/:id', ({ viewer, params }) => {
      const v = requireUser(viewer)
      const room = rooms.store.byId(params.id)
      if (!room || !rooms.access.mayKnow(room, v.user.id)) fail('not_found')
      if (room.state !== 'scheduled') fail('room_cancel_not_scheduled')
      if (room.creator_id !== v.user.id) fail('room_cancel_forbidden')
      rooms.end(room.id, v.user.id)
      return { ok: true }
    }, { params: RoomIdParams, detail: { summary: 'Cancel a scheduled room (its host)' } })
