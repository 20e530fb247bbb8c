// Rooms over HTTP: the hallway, creating or scheduling a room, a room's page, starting and cancelling.
import { Elysia } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { requireUser, sessionPlugin } from '../http/session'
import type { Hallway } from './hallway'
import { CreateRoomBody, EditRoomBody, roomView, RoomIdParams, RsvpBody, SearchQuery, StartRoomBody } from './model'
import { searchRooms } from './search'
import type { RoomsService } from './service'

export const roomsRoutes = (deps: { core: Core; accounts: AccountsApi }, rooms: RoomsService, hallway: Hallway) => {
  const { core, accounts } = deps
  const calendar = (secret: string) => ({ url: `${core.origin()}/calendar/${secret}.ics` })
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
      async ({ viewer, body, set }) => {
        const v = requireUser(viewer)
        const room = await rooms.create(v.user.id, body)
        // A live room is this node's once its claim is in the registry: a join on another node then finds it here.
        if (room.state === 'live') await rooms.held(room.id)
        set.status = 201
        return { room }
      },
      { body: CreateRoomBody, detail: { summary: 'Start a room now, or schedule it (startsAt)' } },
    )
    .get(
      '/rooms/:id',
      async ({ viewer, params }) => {
        const userId = viewer?.user.id ?? null
        if (userId === null && !core.settings.get().guests) fail('unauthorized')
        const room = await rooms.store.byId(params.id)
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
          history: room.state === 'ended' && canSeeHistory ? await rooms.history(room.id) : [],
        }
      },
      { params: RoomIdParams, detail: { summary: 'A room: details, who is in it, and (after it ended) who was' } },
    )
    .post(
      '/rooms/:id/start',
      async ({ viewer, params, body }) => {
        const room = await rooms.start(requireUser(viewer).user.id, params.id, body ?? {})
        await rooms.held(room.id)
        return { room }
      },
      {
        params: RoomIdParams,
        body: StartRoomBody,
        detail: { summary: 'Start a scheduled room (host or co-host), recorded or not' },
      },
    )
    .delete(
      '/rooms/:id',
      async ({ viewer, params }) => {
        await rooms.schedule.cancel(requireUser(viewer).user.id, params.id)
        return { ok: true }
      },
      { params: RoomIdParams, detail: { summary: 'Cancel a scheduled room (its host); those who said yes are told' } },
    )
    .patch(
      '/rooms/:id',
      async ({ viewer, params, body }) => ({
        room: await rooms.schedule.edit(requireUser(viewer).user.id, params.id, body),
      }),
      {
        params: RoomIdParams,
        body: EditRoomBody,
        detail: { summary: 'Edit a scheduled room (its host): title, description, time, co-hosts' },
      },
    )
    .put(
      '/rooms/:id/rsvp',
      async ({ viewer, params, body }) => ({
        rsvp: await rooms.schedule.rsvp(requireUser(viewer).user.id, params.id, body.answer),
      }),
      {
        params: RoomIdParams,
        body: RsvpBody,
        detail: { summary: 'Answer a scheduled room: yes (remind me), no, null' },
      },
    )
    .get(
      '/rooms/:id/event',
      async ({ viewer, params }) => {
        const userId = viewer?.user.id ?? null
        const room = await rooms.store.byId(params.id)
        // Signed out: open rooms only (what their shared link's card shows anyway).
        const may = room && (userId === null ? room.kind === 'open' : rooms.access.mayKnow(room, userId))
        if (!room || !may) fail('not_found')
        const settings = core.settings.get()
        return {
          room: roomView(room),
          hosts: rooms.schedule.hosts(room),
          rsvp: rooms.schedule.rsvpView(room, userId),
          url: `${core.origin()}/rooms/${room.id}`,
          mayEdit: room.state === 'scheduled' && rooms.schedule.mayManage(room, userId),
          mayJoin: rooms.access.joinRefusal(room, userId) === null,
          guests: settings.guests,
          registration: settings.registration,
          recap: room.state === 'ended' && !room.cancelled ? await rooms.schedule.recap(room) : null,
        }
      },
      {
        params: RoomIdParams,
        detail: { summary: "A room's event page: hosts, RSVPs, and after it ended a recap (open rooms signed out)" },
      },
    )
    .get('/rooms/search', ({ viewer, query }) => searchRooms(rooms, accounts, requireUser(viewer).user.id, query.q), {
      query: SearchQuery,
      detail: { summary: 'Find live, upcoming and past rooms by title, description or host' },
    })
    .get(
      '/calendar',
      async ({ viewer }) => calendar(await rooms.schedule.calendarSecret(requireUser(viewer).user.id)),
      {
        detail: { summary: "My private calendar feed's address (made on first use)" },
      },
    )
    .post(
      '/calendar',
      async ({ viewer }) => calendar(await rooms.schedule.regenerateCalendar(requireUser(viewer).user.id)),
      {
        detail: { summary: 'A new calendar feed address (the old one stops working)' },
      },
    )
}
