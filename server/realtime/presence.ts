// Presence: followers of a member hear when they come online or go offline; anyone may ask who is online.
import { Type as t } from '@sinclair/typebox'
import type { Ctx } from '../context'

export function registerPresence(ctx: Ctx) {
  const tell = (userId: number, online: boolean) => {
    for (const f of ctx.accounts.store.followers(userId)) ctx.hub.toUser(f.id, { type: 'presence', userId, online })
  }
  ctx.hub.onOpen((c) => { if (c.user && ctx.hub.connectionsOf(c.user.id).length === 1) tell(c.user.id, true) })
  ctx.hub.onClose((c) => { if (c.user && !ctx.hub.isOnline(c.user.id)) tell(c.user.id, false) })
  ctx.hub.handle('presence.query', t.Object({ id: t.Any(), type: t.Literal('presence.query'), userIds: t.Array(t.Integer({ minimum: 1 }), { maxItems: 200 }) }),
    // Someone who blocked the asker is not found for them (A5): never reported online.
    (c, m) => ({ online: m.userIds.filter((id) => ctx.hub.isOnline(id) && (id === c.user!.id || !ctx.accounts.store.hasBlocked(id, c.user!.id))) }))
  ctx.hub.handle('ping', t.Object({ id: t.Any(), type: t.Literal('ping') }), () => ({ now: Date.now() }), { guest: true })
}
