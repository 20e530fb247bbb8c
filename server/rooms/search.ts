// Finding rooms: live, upcoming and past rooms by title and description (the store's full-text search: FTS5 on
// SQLite, the `search` tsvector on Postgres) and by host or co-host (a name that starts with the query), grouped, and
// only the rooms the viewer may see: live and upcoming ones they may join, ended ones they may know (open, or they
// were in it). Cancelled rooms are left out.
import type { AccountsApi } from '../contracts'
import type { PublicUser, RoomView } from '../protocol'
import { roomView, type RoomRow } from './model'
import type { RoomsService } from './service'

/** Results per group. */
const GROUP_MAX = 20
/** Candidates read before the visibility filter. */
const CANDIDATES = 400

interface RoomHit extends RoomView {
  host: PublicUser
}
export interface RoomSearchResults {
  live: RoomHit[]
  upcoming: RoomHit[]
  past: RoomHit[]
}

/** The words of a query (letters, digits, `_`; eight at most): the store matches each, the last one as a prefix. */
const words = (q: string) => (q.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, 8)

export async function searchRooms(rooms: RoomsService, accounts: AccountsApi, viewerId: number, q: string) {
  const found = new Map<number, RoomRow>()
  for (const r of await rooms.store.search(words(q), CANDIDATES)) found.set(r.id, r)
  const hosts = (await accounts.search(viewerId, q.trim().replace(/^@/, ''), 20)).map((u) => u.id)
  for (const r of await rooms.store.byHosts(hosts, CANDIDATES)) found.set(r.id, r)
  const out: RoomSearchResults = { live: [], upcoming: [], past: [] }
  const users = accounts.publicUsers(new Set([...found.values()].map((r) => r.host_id)))
  for (const r of found.values()) {
    const may = r.state === 'ended' ? rooms.access.mayKnow(r, viewerId) : rooms.access.joinRefusal(r, viewerId) === null
    const host = users.get(r.host_id)
    if (!may || !host) continue
    const hit = { ...roomView(r), host }
    ;(r.state === 'live' ? out.live : r.state === 'scheduled' ? out.upcoming : out.past).push(hit)
  }
  out.upcoming.sort((a, b) => (a.startsAt ?? 0) - (b.startsAt ?? 0))
  out.past.sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))
  return {
    live: out.live.slice(0, GROUP_MAX),
    upcoming: out.upcoming.slice(0, GROUP_MAX),
    past: out.past.slice(0, GROUP_MAX),
  }
}
