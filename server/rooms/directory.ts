// The node's directory of rooms: every room's row, its invited members and co-hosts, removals, who was ever in it
// (and on its stage), who ever consented to its recording and its RSVPs, in memory, so that the reads other domains
// make of RoomsApi (room(), wasParticipant, wasRemoved, mayKnow, mayJoin, recording, everConsented, stageUsers,
// rsvps…) and the access checks of every join and hallway card stay synchronous and take no query. Loaded from the
// store at start (`load`, awaited by the rooms' start); kept current by the service, which reloads a room's entry from
// the store after each of its writes commits (`reload`); with several nodes each change is published (RoomsLink) and
// the other nodes reload the same room from the store. docs/ARCHITECTURE.md, "Stores".
import type { Logger } from '../lib/log'
import type { RedisNode } from '../realtime/redis'
import type { RoomRow } from './model'
import type { PersonKind, RoomsSnapshot, RoomsStore } from './store'

/** How the nodes tell each other which room changed (one node: none). */
export interface RoomsLink {
  publish(roomId: number): void
  /** Follows the other nodes' changes; `resync` when some may have been missed (a reconnection). */
  start(apply: (roomId: number) => void, resync: () => void): Promise<void>
}

interface Entry {
  row: RoomRow
  people: Map<number, PersonKind>
  removed: Set<number>
  /** Everyone ever in the room: true when they were ever on its stage. */
  was: Map<number, boolean>
  consented: Set<number>
  /** user → going (1 yes, 0 no), in the order they answered. */
  rsvps: Map<number, number>
}

const entry = (row: RoomRow): Entry => ({
  row: Object.freeze({ ...row }),
  people: new Map(),
  removed: new Set(),
  was: new Map(),
  consented: new Set(),
  rsvps: new Map(),
})

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
    for (const r of s.rooms) this.rooms.set(r.id, entry(r))
    for (const p of s.people) this.rooms.get(p.room_id)?.people.set(p.user_id, p.kind)
    for (const p of s.removals) this.rooms.get(p.room_id)?.removed.add(p.user_id)
    for (const p of s.participation) this.rooms.get(p.room_id)?.was.set(p.user_id, p.stage === 1)
    for (const p of s.consents) this.rooms.get(p.room_id)?.consented.add(p.user_id)
    for (const p of s.rsvps) this.rooms.get(p.room_id)?.rsvps.set(p.user_id, p.going)
  }

  private get(roomId: number) {
    if (!this.loaded) throw new Error('rooms: the directory is read before it was loaded')
    return this.rooms.get(roomId)
  }

  /** A participation stretch this node wrote (joining, a role change): no reload for the hottest write. */
  participated(roomId: number, userId: number, stage: boolean) {
    const e = this.rooms.get(roomId)
    if (e) e.was.set(userId, (e.was.get(userId) ?? false) || stage)
  }
  /** A consent this node wrote. */
  consentAdded(roomId: number, userId: number, consent: boolean) {
    if (consent) this.rooms.get(roomId)?.consented.add(userId)
  }

  room(roomId: number): RoomRow | null {
    return this.get(roomId)?.row ?? null
  }
  person(roomId: number, userId: number): PersonKind | null {
    return this.get(roomId)?.people.get(userId) ?? null
  }
  people(roomId: number): { user_id: number; kind: PersonKind }[] {
    return [...(this.get(roomId)?.people ?? [])].map(([user_id, kind]) => ({ user_id, kind }))
  }
  isRemoved(roomId: number, userId: number) {
    return this.get(roomId)?.removed.has(userId) ?? false
  }
  wasParticipant(roomId: number, userId: number) {
    return this.get(roomId)?.was.has(userId) ?? false
  }
  /** Everyone who was ever on the room's stage, by id. */
  stageUsers(roomId: number): number[] {
    return [...(this.get(roomId)?.was ?? [])]
      .filter(([, stage]) => stage)
      .map(([id]) => id)
      .sort((a, b) => a - b)
  }
  everConsented(roomId: number): Set<number> {
    return new Set(this.get(roomId)?.consented)
  }
  /** The answers, in the order given. */
  rsvps(roomId: number): { user_id: number; going: number }[] {
    return [...(this.get(roomId)?.rsvps ?? [])].map(([user_id, going]) => ({ user_id, going }))
  }
  rsvpOf(roomId: number, userId: number): boolean | null {
    const going = this.get(roomId)?.rsvps.get(userId)
    return going === undefined ? null : going === 1
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
  return {
    publish(roomId) {
      node.cmd.send('PUBLISH', [channel, `${nodeId} ${roomId}`]).catch((error: unknown) => {
        log.error('rooms: unable to tell the other nodes of a change', { roomId, error })
      })
    },
    async start(apply, resync) {
      const listener = (m: string) => {
        const [from, id] = m.split(' ')
        if (from === nodeId) return
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
