// The Backchannel domain on the Ctx: installBackchannel() (from app.ts's build, after the rooms domain) builds the
// service, follows the room events and registers its WebSocket requests; backchannelPlugin() mounts its HTTP routes.
import type { RoomsCtx as Ctx } from '../context'
import { RoomBackchannel } from './rooms'
import { backchannelRoutes } from './routes'
import { BackchannelService } from './service'
import { Uploads } from './uploads'
import { registerBackchannelWs, registerRoomBackchannelWs } from './ws'

interface BackchannelDomain { service: BackchannelService; rooms: RoomBackchannel; uploads: Uploads }
const installed = new WeakMap<Ctx, BackchannelDomain>()

export function installBackchannel(ctx: Ctx): BackchannelDomain {
  let d = installed.get(ctx)
  if (d) return d
  const service = new BackchannelService(ctx)
  const rooms = new RoomBackchannel(ctx, service)
  const uploads = new Uploads(service, ctx.config.dataDir)
  registerBackchannelWs(ctx.hub, service)
  registerRoomBackchannelWs(ctx.hub, rooms)
  rooms.listen()
  // Acknowledged sends are committed; anything still queued is committed before the database closes.
  ctx.cleanup.push(() => { while (service.sends.pending) service.sends.flush() })
  installed.set(ctx, (d = { service, rooms, uploads }))
  return d
}

/** Mounts the routes. */
export function backchannelPlugin(ctx: Ctx) {
  const { service, uploads } = installBackchannel(ctx)
  return backchannelRoutes(ctx, service, uploads)
}

export { BackchannelService }
