// The rooms domain on the Ctx: installRooms() (from createContext) builds the service, sets ctx.rooms and registers
// its WebSocket requests; roomsPlugin() (from createApp) mounts its HTTP routes.
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
  ctx.rooms = rooms
  ctx.cleanup.push(() => { hallway.close(); rooms.close() })
  installed.set(ctx, (d = { rooms, hallway }))
  return d
}

/** The rooms service of a context (tests reach its timers and sessions through it). */
export const roomsDomain = (ctx: Ctx) => installRooms(ctx)

export function roomsPlugin(ctx: Ctx) {
  const { rooms, hallway } = installRooms(ctx)
  // Rooms a previous run left live end now: only in the serving process (createApp), never in a CLI command
  // (admin create, invite create) that builds a context on the data folder of a server that is running.
  rooms.store.endOrphans()
  return roomsRoutes(ctx, rooms, hallway)
}

export { RoomsService }
