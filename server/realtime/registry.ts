// The room registry (bus.ts RoomRegistry): which node holds each live room, and the hallway's cards. One node holds
// every room (LocalRegistry); on Redis a room is held with a lease, `<p>room:<id>` = the holder's node id, taken with
// SET NX PX and renewed on every heartbeat while held: a node that dies loses its rooms within ttlMs. The hallway is
// a hash `<p>hallway` (room id → the holder and its card), read from any node, a card counting only while its node
// still holds the room's lease.
import type { RoomRegistry } from './bus'
import type { RedisNode } from './redis'

/** One node: every room is this node's. */
export class LocalRegistry implements RoomRegistry {
  private cards = new Map<number, unknown>()
  private held = new Set<number>()
  constructor(readonly node: string) {}
  async claim(roomId: number) {
    this.held.add(roomId)
    return true
  }
  async holder(roomId: number) {
    return this.held.has(roomId) ? this.node : null
  }
  async release(roomId: number) {
    this.held.delete(roomId)
    this.cards.delete(roomId)
  }
  async setCard(roomId: number, card: unknown) {
    if (this.held.has(roomId)) this.cards.set(roomId, card)
  }
  async hallway() {
    return [...this.cards].map(([roomId, card]) => ({ roomId, node: this.node, card }))
  }
}

// KEYS: the lease. ARGV: node id, ttl ms. Takes a free lease or renews our own; 1 when we hold it.
const CLAIM = `
local h = redis.call('GET', KEYS[1])
if not h then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if h == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`
// KEYS: leases. ARGV: node id, ttl ms. Renews those still ours, takes back those nobody holds (a Redis that
// restarted empty); 1 or 0 for each.
const RENEW = `
local out = {}
for i, k in ipairs(KEYS) do
  local h = redis.call('GET', k)
  if h == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]) out[i] = 1
  elseif not h then redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) out[i] = 1
  else out[i] = 0 end
end
return out`
// KEYS: the lease, the hallway. ARGV: node id, room id. Lets go of the lease and the card if ours.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local c = redis.call('HGET', KEYS[2], ARGV[2])
if c and cjson.decode(c).node == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
return 1`
// KEYS: the hallway. ARGV: room id, lease key, … Drops the cards whose node no longer holds the room's lease.
const SWEEP = `
for i = 1, #ARGV, 2 do
  local c = redis.call('HGET', KEYS[1], ARGV[i])
  if c and redis.call('GET', ARGV[i + 1]) ~= cjson.decode(c).node then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`

export class RedisRegistry implements RoomRegistry {
  /** The rooms this node holds (renewed on each beat until released or lost). */
  private held = new Set<number>()

  constructor(private readonly redis: RedisNode) {
    redis.onBeat(() => this.renew())
    redis.onStop(() => this.releaseAll())
  }

  get node() {
    return this.redis.id
  }

  private lease(roomId: number) {
    return this.redis.key(`room:${roomId}`)
  }

  async claim(roomId: number) {
    const { redis } = this
    const ok = Number(await redis.cmd.send('EVAL', [CLAIM, '1', this.lease(roomId), redis.id, String(redis.ttlMs)]))
    if (ok === 1) this.held.add(roomId)
    else this.held.delete(roomId)
    return ok === 1
  }

  async holder(roomId: number) {
    return ((await this.redis.cmd.get(this.lease(roomId))) as string | null) ?? null
  }

  async release(roomId: number) {
    this.held.delete(roomId)
    const { redis } = this
    await redis.cmd.send('EVAL', [RELEASE, '2', this.lease(roomId), redis.key('hallway'), redis.id, String(roomId)])
  }

  async setCard(roomId: number, card: unknown) {
    if (!this.held.has(roomId)) return
    await this.redis.cmd.hset(this.redis.key('hallway'), String(roomId), JSON.stringify({ node: this.node, card }))
  }

  async hallway() {
    const { redis } = this
    const all = ((await redis.cmd.hgetall(redis.key('hallway'))) ?? {}) as Record<string, string>
    const rooms = Object.keys(all).map(Number)
    if (!rooms.length) return []
    const holders = (await redis.cmd.send(
      'MGET',
      rooms.map((r) => this.lease(r)),
    )) as (string | null)[]
    const out: { roomId: number; node: string; card: unknown }[] = []
    const stale: string[] = []
    rooms.forEach((roomId, i) => {
      const entry = JSON.parse(all[String(roomId)]!) as { node: string; card: unknown }
      if (holders[i] === entry.node) out.push({ roomId, node: entry.node, card: entry.card })
      else stale.push(String(roomId), this.lease(roomId))
    })
    // The cards of rooms whose holder lost the lease: whoever reads first clears them (unless taken again since).
    if (stale.length) await redis.cmd.send('EVAL', [SWEEP, '1', redis.key('hallway'), ...stale])
    return out.sort((a, b) => a.roomId - b.roomId)
  }

  private async renew() {
    const rooms = [...this.held]
    if (!rooms.length) return
    const { redis } = this
    const kept = (await redis.cmd.send('EVAL', [
      RENEW,
      String(rooms.length),
      ...rooms.map((r) => this.lease(r)),
      redis.id,
      String(redis.ttlMs),
    ])) as number[]
    rooms.forEach((r, i) => {
      if (Number(kept[i]) !== 1) this.held.delete(r)
    })
  }

  private async releaseAll() {
    for (const r of [...this.held]) await this.release(r)
  }
}
