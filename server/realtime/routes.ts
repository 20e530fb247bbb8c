// The /ws gateway: session cookie and Origin checked at upgrade, then every message goes through the hub.
import { Elysia } from 'elysia'
import type { Ctx } from '../context'
import { fail } from '../errors'
import { sessionPlugin } from '../http/session'
import { originAllowed } from '../http/guard'
import type { Conn } from './hub'

export const WS_MAX_MESSAGE = 64 * 1024
export const WS_IDLE_SECONDS = 60
/** Sockets one member may hold at once (tabs and devices): the per-socket rate limit stays a limit per member. */
export const WS_MAX_PER_USER = 32

export const realtimeRoutes = (ctx: Ctx) => {
  const conns = new WeakMap<object, Conn>()
  return new Elysia()
    .use(sessionPlugin(ctx))
    .ws('/ws', {
      idleTimeout: WS_IDLE_SECONDS,
      maxPayloadLength: WS_MAX_MESSAGE,
      sendPings: true,
      beforeHandle({ request, viewer }) {
        if (!originAllowed(ctx, request)) fail('bad_origin')
        // Signed-out visitors may connect only when the admin allows guest listening.
        if (!viewer && !ctx.settings.get().guests) fail('unauthorized')
        if (viewer && ctx.hub.connectionsOf(viewer.user.id).length >= WS_MAX_PER_USER) fail('too_many_sockets')
      },
      open(ws) {
        const v = (ws.data as unknown as { viewer: { user: any; session: { id: number } } | null }).viewer
        const user = v ? { id: v.user.id as number, username: v.user.username as string, role: v.user.role as 'member' | 'admin' } : null
        conns.set(ws.raw, ctx.hub.open(ws.raw as any, user, v?.session.id ?? null))
      },
      async message(ws, message) {
        const conn = conns.get(ws.raw)
        if (conn) await ctx.hub.message(conn, message)
      },
      close(ws) {
        const conn = conns.get(ws.raw)
        if (conn) { ctx.hub.close(conn); conns.delete(ws.raw) }
      },
    })
}
