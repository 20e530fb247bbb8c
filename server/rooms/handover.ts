// A draining node hands its live rooms to another node (W45, issue 11 point 4). The giver saves the room as a graceful
// stop does, lets go of its lease and offers the room on `<p>ho`, the channel every node that is not draining listens
// on (a draining node stops listening first, so PUBLISH's count of receivers says at once whether anyone may take it).
// Each listener tries to claim the room's lease (SET NX: one wins) and the winner resumes it, then tells the giver on
// the giver's own channel `<p>ho:<node id>`. No answer within HANDOVER_TIMEOUT_MS: the giver takes the room back (if
// its lease is still free) and ends it as before (W25).
import type { Logger } from '../lib/log'
import type { RedisNode } from '../realtime/redis'

/** How long a giver waits for a node to say it took a room. */
const HANDOVER_TIMEOUT_MS = 3000

/** How the nodes pass live rooms to each other (one node, or ROOM_HANDOVER=false: none). */
export interface HandoverLink {
  /** Listens for rooms offered by draining nodes; `take` claims and resumes one, true when this node took it. */
  start(take: (roomId: number) => Promise<boolean>): Promise<void>
  /** This node drains: it takes no more rooms. */
  stop(): Promise<void>
  /** Offers a room whose lease this node let go: the id of the node that took it, or null (nobody, or too late). */
  offer(roomId: number): Promise<string | null>
}

type Wire = { k: 'offer'; roomId: number; from: string } | { k: 'took'; roomId: number; by: string }

export function handoverLink(node: RedisNode, nodeId: string, log: Logger): HandoverLink {
  const offers = node.key('ho')
  const mine = node.key(`ho:${nodeId}`)
  const waiting = new Map<number, (by: string) => void>()
  let take: ((roomId: number) => Promise<boolean>) | null = null
  let listening = false

  const send = (channel: string, m: Wire) => node.cmd.publish(channel, JSON.stringify(m))
  const received = (message: string) => {
    let m: Wire
    try {
      m = JSON.parse(message)
    } catch {
      return
    }
    if (!Number.isSafeInteger(m?.roomId)) return
    if (m.k === 'took') waiting.get(m.roomId)?.(m.by)
    else if (m.k === 'offer' && m.from !== nodeId && listening && take)
      void take(m.roomId)
        .then((took) => (took ? send(node.key(`ho:${m.from}`), { k: 'took', roomId: m.roomId, by: nodeId }) : 0))
        .catch((error: unknown) => log.error('rooms: taking over a room failed', { roomId: m.roomId, error }))
  }
  const subscribe = async () => {
    await node.sub.subscribe(mine, received)
    if (listening) await node.sub.subscribe(offers, received)
  }

  return {
    async start(fn) {
      take = fn
      listening = true
      await subscribe()
      // The bus drops every subscription on a reconnection.
      node.onReconnect(subscribe)
    },
    async stop() {
      if (!listening) return
      listening = false
      await node.sub.unsubscribe(offers, received)
    },
    async offer(roomId) {
      let timer: ReturnType<typeof setTimeout> | undefined
      const took = new Promise<string | null>((resolve) => {
        waiting.set(roomId, resolve)
        timer = setTimeout(() => resolve(null), HANDOVER_TIMEOUT_MS)
      })
      try {
        // Nobody listening (every other node drains, or there is none): no wait.
        if (Number(await send(offers, { k: 'offer', roomId, from: nodeId })) === 0) return null
        return await took
      } catch (error) {
        log.error('rooms: offering a room to the other nodes failed', { roomId, error })
        return null
      } finally {
        clearTimeout(timer)
        waiting.delete(roomId)
      }
    },
  }
}
