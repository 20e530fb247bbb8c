// The rooms domain on the Ctx: installRooms() (from app.ts's build) builds the service and registers its WebSocket
// requests; roomsPlugin() mounts its HTTP routes; startRooms() (the start phase) ends a previous run's rooms.
import type { Ctx } from '../context'
import { Hallway } from './hallway'
import { roomsRoutes } from './routes'
import { RoomsService } from './service'
import { registerRoomsWs } from './ws'

interface RoomsDomain { rooms: RoomsService; hallway: Hallway }
const installed = new WeakMap<Ctx, RoomsDomain>()

export function installRooms(ctx: Ctx): RoomsDomain {
  let d = installed.get(ctx)
  if (d) return d
  const rooms = new RoomsService(ctx, { graceMs: ctx.config.roomGraceMs })
  const hallway = new Hallway(ctx, rooms)
  registerRoomsWs(ctx, rooms)
  ctx.cleanup.push(() => { hallway.close(); rooms.close() })
  installed.set(ctx, (d = { rooms, hallway }))
  return d
}

/** The rooms service of a context (tests reach its timers and sessions through it). */
export const roomsDomain = (ctx: Ctx) => installRooms(ctx)

export function roomsPlugin(ctx: Ctx) {
  const { rooms, hallway } = installRooms(ctx)
  return roomsRoutes(ctx, rooms, hallway)
}

/**
 * Rooms a previous run left live end now: only in the serving process (the start phase), never in a CLI command
 * (admin create, invite create) that builds the same graph on the data folder of a server that is running.
 */
export function startRooms(ctx: Ctx) { installRooms(ctx).rooms.store.endOrphans() }

export { RoomsService }
