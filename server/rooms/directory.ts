// The node's directory of rooms: every room's row, its invited members and co-hosts, removals, who was ever in it
// (and on its stage), who ever consented to its recording and its RSVPs, in memory, so that the reads other domains
// make of RoomsApi (room(), wasParticipant, wasRemoved, mayKnow, mayJoin, recording, everConsented, stageUsers,
// rsvps…) and the access checks of every join and hallway card stay synchronous and take no query. Loaded from the
// store at start (`load`, awaited by the rooms' start); kept current by the service, which reloads a room's entry from
// the store after each of its writes commits (`reload`); with several nodes each change is published (RoomsLink) and
// the other nodes reload the same room from the store. docs/ARCHITECTURE.md, "Stores". The same link carries the
// notices that take a member's or a guest's seats away on the other nodes (a ban, a join elsewhere: W41, W43, W48).
import type { Logger } from '../lib/log'
import type { RedisNode } from '../realtime/redis'
import type { RoomRow } from './model'
import type { PersonKind, RoomsSnapshot, RoomsStore } from './store'

/**
 * Seats on the other nodes go: a member's (`userId`, W41, W43) for a ban or an erasure (`except` null, as `removed`)
 * or a join of another room (`except` that room, as `left`); a guest's (`guest`, its connection id, unique across the
 * nodes: W48) for a join of another room. `at` is when it was sent: a seat taken after it stays.
 */
type SeatsNotice = ({ userId: number } | { guest: number }) & {
  except: number | null
  reason: 'left' | 'removed'
  at: number
}

/** How the nodes tell each other which room changed, and whose seats go (one node: none). */
export interface RoomsLink {
  publish(roomId: number): void
  /** Tells the other nodes to take the member's (or the guest's) seats in their rooms away. */
  seats(notice: SeatsNotice): void
  /**
   * Follows the other nodes' changes and seat notices; `resync` when some changes may have been missed (a
   * reconnection).
   */
  start(apply: (roomId: number) => void, resync: () => void, seats: (notice: SeatsNotice) => void): Promise<void>
}

/**
 * A room. Plain arrays of ids, made when first needed: a room holds a few hundred bytes and each member who was in it
 * about 10 (measured: a `Map` entry per participant cost ten times more); the lookups scan them, short for nearly
 * every room.
 */
interface Entry {
  row: RoomRow
  people?: { user_id: number; kind: PersonKind }[]
  removed?: number[]
  /** Everyone ever in the room, and (a subset) everyone ever on its stage. */
  was?: number[]
  stage?: number[]
  consented?: number[]
  /** The answers, in the order given. */
  rsvps?: { user_id: number; going: number }[]
}

const NONE: readonly never[] = Object.freeze([])
const push = <T>(list: T[] | undefined, item: T): T[] => {
  if (!list) return [item]
  list.push(item)
  return list
}

export class RoomsDirectory {
  private rooms = new Map<number, Entry>()
  private loaded = false
  constructor(private store: RoomsStore) {}

  /** Every room, from the store (start, and after a lost link to the other nodes). */
  async load() {
    const snap = await this.store.snapshot()
    this.rooms = new Map()
    this.fill(snap)
    this.loaded = true
  }

  /** One room again, from the store: after a write of this node commits, or another node's change. */
  async reload(roomId: number) {
    const snap = await this.store.snapshot(roomId)
    this.rooms.delete(roomId)
    this.fill(snap)
  }

  private fill(s: RoomsSnapshot) {
    for (const r of s.rooms) this.rooms.set(r.id, { row: Object.freeze({ ...r }) })
    // The snapshot's rows are unique per room and member: each is added as it comes.
    for (const p of s.people) {
      const e = this.rooms.get(p.room_id)
      if (e) e.people = push(e.people, { user_id: p.user_id, kind: p.kind })
    }
    for (const p of s.removals) {
      const e = this.rooms.get(p.room_id)
      if (e) e.removed = push(e.removed, p.user_id)
    }
    for (const p of s.participation) {
      const e = this.rooms.get(p.room_id)
      if (!e) continue
      e.was = push(e.was, p.user_id)
      if (p.stage === 1) e.stage = push(e.stage, p.user_id)
    }
    for (const p of s.consents) {
      const e = this.rooms.get(p.room_id)
      if (e) e.consented = push(e.consented, p.user_id)
    }
    for (const p of s.rsvps) {
      const e = this.rooms.get(p.room_id)
      if (e) e.rsvps = push(e.rsvps, { user_id: p.user_id, going: p.going })
    }
  }

  private get(roomId: number) {
    if (!this.loaded) throw new Error('rooms: the directory is read before it was loaded')
    return this.rooms.get(roomId)
  }

  /** A participation stretch this node wrote (joining, a role change): no reload for the hottest write. */
  participated(roomId: number, userId: number, stage: boolean) {
    const e = this.rooms.get(roomId)
    if (!e) return
    if (!e.was?.includes(userId)) e.was = push(e.was, userId)
    if (stage && !e.stage?.includes(userId)) e.stage = push(e.stage, userId)
  }
  /** A consent this node wrote. */
  consentAdded(roomId: number, userId: number, consent: boolean) {
    const e = this.rooms.get(roomId)
    if (e && consent && !e.consented?.includes(userId)) e.consented = push(e.consented, userId)
  }

  room(roomId: number): RoomRow | null {
    return this.get(roomId)?.row ?? null
  }
  person(roomId: number, userId: number): PersonKind | null {
    return this.get(roomId)?.people?.find((p) => p.user_id === userId)?.kind ?? null
  }
  /** Invited members and co-hosts (a copy). */
  people(roomId: number): readonly { user_id: number; kind: PersonKind }[] {
    return this.get(roomId)?.people?.slice() ?? NONE
  }
  isRemoved(roomId: number, userId: number) {
    return this.get(roomId)?.removed?.includes(userId) ?? false
  }
  wasParticipant(roomId: number, userId: number) {
    return this.get(roomId)?.was?.includes(userId) ?? false
  }
  /** Everyone who was ever on the room's stage, by id. */
  stageUsers(roomId: number): number[] {
    return [...(this.get(roomId)?.stage ?? NONE)].sort((a, b) => a - b)
  }
  everConsented(roomId: number): Set<number> {
    return new Set(this.get(roomId)?.consented)
  }
  /** The answers, in the order given (a copy). */
  rsvps(roomId: number): readonly { user_id: number; going: number }[] {
    return this.get(roomId)?.rsvps?.slice() ?? NONE
  }
  rsvpOf(roomId: number, userId: number): boolean | null {
    const r = this.get(roomId)?.rsvps?.find((x) => x.user_id === userId)
    return r ? r.going === 1 : null
  }
  /** The rooms matching `keep`, by id (a scan: the live rooms, the reminders' windows every 15 s). */
  where(keep: (r: RoomRow) => boolean): RoomRow[] {
    if (!this.loaded) throw new Error('rooms: the directory is read before it was loaded')
    const out: RoomRow[] = []
    for (const e of this.rooms.values()) if (keep(e.row)) out.push(e.row)
    return out
  }
}

/** The directory's link over Redis: one channel, `<prefix>rooms`, carrying room ids; a node ignores its own. */
export function roomsLink(node: RedisNode, nodeId: string, log: Logger): RoomsLink {
  const channel = node.key('rooms')
  // `<node> <room id>` for a change, `<node> seats <notice as JSON>` for a member's or a guest's seats.
  const send = (body: string, what: Record<string, unknown>) =>
    node.cmd.send('PUBLISH', [channel, `${nodeId} ${body}`]).catch((error: unknown) => {
      log.error('rooms: unable to tell the other nodes', { ...what, error })
    })
  return {
    publish(roomId) {
      send(String(roomId), { roomId })
    },
    seats(notice) {
      send(`seats ${JSON.stringify(notice)}`, { notice })
    },
    async start(apply, resync, seats) {
      const listener = (m: string) => {
        const [from, id] = m.split(' ', 2)
        if (from === nodeId) return
        if (id === 'seats') {
          const n = parseNotice(m.slice(from!.length + ' seats '.length))
          if (n) return seats(n)
        }
        const roomId = Number(id)
        if (Number.isSafeInteger(roomId)) apply(roomId)
        else log.error('rooms: a change from another node could not be read', { message: m })
      }
      await node.sub.subscribe(channel, listener)
      // The bus drops every subscription on a reconnection: ours again, then a full reload (changes were missed).
      node.onReconnect(async () => {
        await node.sub.subscribe(channel, listener)
        resync()
      })
    },
  }
}

/** A seat notice as another node sent it, checked (null when it is not one). */
function parseNotice(json: string): SeatsNotice | null {
  try {
    const n = JSON.parse(json) as Record<string, unknown>
    const who = Number.isSafeInteger(n.userId)
      ? { userId: n.userId as number }
      : Number.isSafeInteger(n.guest)
        ? { guest: n.guest as number }
        : null
    const except = n.except === null || Number.isSafeInteger(n.except) ? (n.except as number | null) : undefined
    const reason = n.reason === 'left' || n.reason === 'removed' ? n.reason : null
    const at = n.at as number
    return who && except !== undefined && reason && Number.isFinite(at) ? { ...who, except, reason, at } : null
  } catch {
    return null
  }
}
