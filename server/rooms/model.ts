// Rooms: t-schemas for HTTP input and the rows. The views and the WebSocket requests are the protocol's
// (server/protocol/rooms.ts).
import { t } from 'elysia'
import { RoomKind, type RoomRole, type RoomState, type RoomView } from '../protocol'
import { IdParams } from '../http/params'

const TITLE_MAX = 120
const DESCRIPTION_MAX = 1000
const LINK_MAX = 500
const NAMED_MAX = 100
/** How far ahead a room may be scheduled. */
export const SCHEDULE_AHEAD_MAX_MS = 366 * 86_400_000
/** A start time closer than this is "now". */
export const SCHEDULE_MIN_LEAD_MS = 60_000
const Usernames = t.Array(t.String({ minLength: 1, maxLength: 20 }), { maxItems: NAMED_MAX })

export const CreateRoomBody = t.Object({
  title: t.String({ minLength: 1, maxLength: TITLE_MAX }),
  description: t.Optional(t.String({ maxLength: DESCRIPTION_MAX })),
  link: t.Optional(
    t.Union([t.String({ maxLength: LINK_MAX, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$' }), t.Literal(''), t.Null()]),
  ),
  kind: t.Optional(RoomKind),
  invited: t.Optional(Usernames),
  cohosts: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 20 }), { maxItems: 10 })),
  /** Start time (ms since epoch); omitted or within a minute from now: the room starts now. */
  startsAt: t.Optional(t.Union([t.Integer({ minimum: 0 }), t.Null()])),
  /** Record the room (RP4); off by default. Refused while the admin's `recording` setting is off. */
  recording: t.Optional(t.Boolean()),
})
export type CreateRoomInput = typeof CreateRoomBody.static

/** A host's edit of a scheduled room: any of title, description, start time, co-hosts (the whole new list). */
export const EditRoomBody = t.Object({
  title: t.Optional(t.String({ minLength: 1, maxLength: TITLE_MAX })),
  description: t.Optional(t.String({ maxLength: DESCRIPTION_MAX })),
  startsAt: t.Optional(t.Integer({ minimum: 0 })),
  cohosts: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 20 }), { maxItems: 10 })),
})
export type EditRoomInput = typeof EditRoomBody.static

/** An RSVP: yes ("Remind me"), no ("Not going"), or null (take the answer back). */
export const RsvpBody = t.Object({ answer: t.Union([t.Literal('yes'), t.Literal('no'), t.Null()]) })

/** Starting a scheduled room: the host may turn its recording on or off then (RP4). */
export const StartRoomBody = t.Optional(t.Object({ recording: t.Optional(t.Boolean()) }))

export const SearchQuery = t.Object({ q: t.String({ minLength: 1, maxLength: 100 }) })

export const RoomIdParams = IdParams

export interface RoomRow {
  id: number
  creator_id: number
  host_id: number
  title: string
  description: string
  link: string | null
  kind: RoomKind
  state: RoomState
  starts_at: number | null
  started_at: number | null
  ended_at: number | null
  created_at: number
  peak_listeners: number
  revision: number
  cancelled: number
  recording: number
}

/** A participation stretch: who (looked up through AccountsApi), in which role, from when to when, and why it ended. */
export interface HistoryRow {
  user_id: number
  role: RoomRole
  from_at: number
  to_at: number | null
  end_reason: string | null
}

export const roomView = (r: RoomRow): RoomView => ({
  id: r.id,
  title: r.title,
  description: r.description,
  link: r.link,
  kind: r.kind,
  state: r.state,
  startsAt: r.starts_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  hostId: r.host_id,
  creatorId: r.creator_id,
  cancelled: r.cancelled === 1,
  recording: r.recording === 1,
})
