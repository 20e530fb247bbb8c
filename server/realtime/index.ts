// The realtime domain: the /ws gateway (session cookie and Origin checked at upgrade, every message through the hub),
// presence (followers hear when a member comes online or goes offline; anyone may ask who is online) and ping. It is
// built last: it follows the accounts' sessions (a session that ends closes its sockets).
import { Elysia } from 'elysia'
import type { AccountsApi, Viewer } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { fail } from '../errors'
import { originAllowed } from '../http/guard'
import { sessionPlugin } from '../http/session'
import type { RealtimeRequests } from '../protocol'
import type { Conn, Handlers, Hub } from './hub'

export const WS_MAX_MESSAGE = 64 * 1024
export const WS_IDLE_SECONDS = 60
/** Sockets one member may hold at once (tabs and devices): the per-socket rate limit stays a limit per member. */
const WS_MAX_PER_USER = 32

export interface RealtimeDeps {
  core: Core
  hub: Hub
  accounts: AccountsApi
}
export interface RealtimeDomain extends Domain<null> {
  readonly ws: Handlers<keyof typeof RealtimeRequests>
}

export function createRealtime({ core, hub, accounts }: RealtimeDeps): RealtimeDomain {
  // The close reason tells the open tabs why: 'signed out', or 'banned' / 'suspended' by an admin. Through
  // core.sockets: with several nodes, the member's sockets on every node close.
  accounts.on('sessionsEnded', ({ userId, sessionId, exceptSession, reason }) =>
    sessionId
      ? core.sockets.disconnectSession(sessionId)
      : core.sockets.disconnectUser(userId, 4001, reason ?? 'signed out', exceptSession),
  )

  const tell = (userId: number, online: boolean) =>
    core.bus.toUsers(
      accounts.followers(userId).map((f) => f.id),
      { type: 'presence', userId, online },
    )
  hub.onOpen((c) => {
    if (c.user && hub.connectionsOf(c.user.id).length === 1) tell(c.user.id, true)
  })
  // Offline once the member has no socket on any node (core.bus.isOnline: presence across nodes).
  hub.onClose((c) => {
    if (c.user && !core.bus.isOnline(c.user.id)) tell(c.user.id, false)
  })

  const ws: RealtimeDomain['ws'] = {
    // Someone who blocked the asker is not found for them (A5): never reported online.
    'presence.query': (c, m) => {
      const me = c.user!.id
      const online = (id: number) => core.bus.isOnline(id) && (id === me || !accounts.hasBlocked(id, me))
      return { online: m.userIds.filter(online) }
    },
    ping: () => ({ now: Date.now() }),
  }

  const conns = new WeakMap<object, Conn>()
  const routes = new Elysia({ name: 'townhall.realtime', seed: core.id })
    .use(sessionPlugin({ core, accounts }))
    .ws('/ws', {
      idleTimeout: WS_IDLE_SECONDS,
      maxPayloadLength: WS_MAX_MESSAGE,
      sendPings: true,
      beforeHandle({ request, viewer }) {
        if (!originAllowed(core, request)) fail('bad_origin')
        // Signed-out visitors may connect only when the admin allows guest listening.
        if (!viewer && !core.settings.get().guests) fail('unauthorized')
        if (viewer && hub.connectionsOf(viewer.user.id).length >= WS_MAX_PER_USER) fail('too_many_sockets')
      },
      open(socket) {
        const v = (socket.data as unknown as { viewer: Viewer | null }).viewer
        const user = v ? { id: v.user.id, username: v.user.username, role: v.user.role } : null
        const conn = hub.open(socket.raw, user, v?.session.id ?? null)
        conns.set(socket.raw, conn)
        // Messages straight to the hub: Bun calls the socket's data.message (Elysia's per-message wrapper builds an
        // object with 15 bound methods and awaits twice, for a route that declares no schema). The same parse as
        // Elysia's for what the hub accepts: a JSON object or array; anything else goes as it came (bad_frame).
        const data = socket.raw.data as { message?: unknown }
        if (typeof data?.message === 'function')
          data.message = (_ws: unknown, raw: unknown) => {
            let msg = raw
            if (typeof raw === 'string' && (raw.charCodeAt(0) === 123 || raw.charCodeAt(0) === 91))
              try {
                msg = JSON.parse(raw)
              } catch {
                /* not JSON: the hub answers bad_frame */
              }
            void hub.message(conn, msg)
          }
      },
      async message(socket, message) {
        const conn = conns.get(socket.raw)
        if (conn) await hub.message(conn, message)
      },
      close(socket) {
        const conn = conns.get(socket.raw)
        if (conn) {
          hub.close(conn)
          conns.delete(socket.raw)
        }
      },
    })

  return { api: null, routes, ws }
}
