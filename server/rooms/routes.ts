// Rooms over HTTP: the hallway, creating or scheduling a room, a room's page, starting and cancelling.
import { Elysia } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { requireUser, sessionPlugin } from '../http/session'
import type { Hallway } from './hallway'
import { CreateRoomBody, roomView, RoomIdParams } from './model'
import type { RoomsService } from './service'

export const roomsRoutes = (deps: { core: Core; accounts: AccountsApi }, rooms: RoomsService, hallway: Hallway) => {
  const { core, accounts } = deps
  return new Elysia({ prefix: '/api', tags: ['rooms'] } as any)
    .use(sessionPlugin(deps))
    .get(
      '/rooms',
      ({ viewer }) => {
        if (!viewer && !core.settings.get().guests) fail('unauthorized')
        return hallway.list(viewer?.user.id ?? null)
      },
      {
        detail: {
          summary: 'The hallway: live and upcoming rooms the viewer may join (followed speakers first, then by size)',
        },
      },
    )
    .post(
      '/rooms',
      ({ viewer, body, set }) => {
        const v = requireUser(viewer)
        set.status = 201
        return { room: rooms.create(v.user.id, body) }
      },
      { body: CreateRoomBody, detail: { summary: 'Start a room now, or schedule it (startsAt)' } },
    )
    .get(
      '/rooms/:id',
      ({ viewer, params }) => {
        const userId = viewer?.user.id ?? null
        if (userId === null && !core.settings.get().guests) fail('unauthorized')
        const room = rooms.store.byId(params.id)
        if (!room || !rooms.access.mayKnow(room, userId)) fail('not_found')
        const host = accounts.publicUser(room.host_id)
        const session = rooms.session(room.id)
        const canSeeHistory =
          userId !== null && (rooms.wasParticipant(room.id, userId) || rooms.access.moderatorIds(room).includes(userId))
        return {
          room: roomView(room),
          host,
          mayJoin: rooms.access.joinRefusal(room, userId) === null,
          mayStart: room.state === 'scheduled' && userId !== null && rooms.access.isHostly(room, userId),
          participants: session ? session.members().map((s) => session.view(s)) : [],
          guests: session?.guests() ?? 0,
          history: room.state === 'ended' && canSeeHistory ? rooms.history(room.id) : [],
        }
      },
      { params: RoomIdParams, detail: { summary: 'A room: details, who is in it, and (after it ended) who was' } },
    )
    .post('/rooms/:id/start', ({ viewer, params }) => ({ room: rooms.start(requireUser(viewer).user.id, params.id) }), {
      params: RoomIdParams,
      detail: { summary: 'Start a scheduled room (host or co-host)' },
    })
    .delete(
      '/rooms/:id',
      ({ viewer, params }) => {
        const v = requireUser(viewer)
        const room = rooms.store.byId(params.id)
        if (!room || !rooms.access.mayKnow(room, v.user.id)) fail('not_found')
        if (room.state !== 'scheduled') fail('room_cancel_not_scheduled')
        if (room.creator_id !== v.user.id) fail('room_cancel_forbidden')
        rooms.end(room.id, v.user.id)
        return { ok: true }
      },
      { params: RoomIdParams, detail: { summary: 'Cancel a scheduled room (its host)' } },
    )
}
