// Presence: followers of a member hear when they come online or go offline; anyone may ask who is online. And ping.
import type { Ctx } from '../context'
import type { RealtimeRequests } from '../protocol'
import type { Handlers } from './hub'

export function registerPresence(ctx: Ctx) {
  const tell = (userId: number, online: boolean) => {
    for (const f of ctx.accounts.store.followers(userId)) ctx.hub.toUser(f.id, { type: 'presence', userId, online })
  }
  ctx.hub.onOpen((c) => { if (c.user && ctx.hub.connectionsOf(c.user.id).length === 1) tell(c.user.id, true) })
  ctx.hub.onClose((c) => { if (c.user && !ctx.hub.isOnline(c.user.id)) tell(c.user.id, false) })
  const handlers: Handlers<keyof typeof RealtimeRequests> = {
    // Someone who blocked the asker is not found for them (A5): never reported online.
    'presence.query': (c, m) => ({ online: m.userIds.filter((id) => ctx.hub.isOnline(id) && (id === c.user!.id || !ctx.accounts.store.hasBlocked(id, c.user!.id))) }),
    ping: () => ({ now: Date.now() }),
  }
  ctx.hub.handleAll(handlers)
}
