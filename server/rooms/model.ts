// Rooms: t-schemas for HTTP and WebSocket input, rows, and the views sent to clients.
import { t } from 'elysia'
import type { PublicUser } from '../accounts/model'
import type { ParticipantKey, RoomRole } from '../contracts'

export const TITLE_MAX = 120
export const DESCRIPTION_MAX = 1000
export const LINK_MAX = 500
export const NAMED_MAX = 100
/** How far ahead a room may be scheduled. */
export const SCHEDULE_AHEAD_MAX_MS = 366 * 86_400_000
/** A start time closer than this is "now". */
export const SCHEDULE_MIN_LEAD_MS = 60_000
/** How many live rooms one member may have started and still host, and how many upcoming rooms they may schedule. */
export const LIVE_PER_HOST_MAX = 1
export const SCHEDULED_PER_HOST_MAX = 20

export const RoomKind = t.Union([t.Literal('open'), t.Literal('social'), t.Literal('closed')])
const Usernames = t.Array(t.String({ minLength: 1, maxLength: 20 }), { maxItems: NAMED_MAX })

export const CreateRoomBody = t.Object({
  title: t.String({ minLength: 1, maxLength: TITLE_MAX }),
  description: t.Optional(t.String({ maxLength: DESCRIPTION_MAX })),
  link: t.Optional(t.Union([t.String({ maxLength: LINK_MAX, pattern: '^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$' }), t.Literal(''), t.Null()])),
  kind: t.Optional(RoomKind),
  invited: t.Optional(Usernames),
  cohosts: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 20 }), { maxItems: 10 })),
  /** Start time (ms since epoch); omitted or within a minute from now: the room starts now. */
  startsAt: t.Optional(t.Union([t.Integer({ minimum: 0 }), t.Null()])),
})
export type CreateRoomInput = typeof CreateRoomBody.static

export const RoomIdParams = t.Object({ id: t.Numeric({ minimum: 1, maximum: 2 ** 53 }) })

// WebSocket requests: {id, type, roomId, …}
const Req = <T extends string, P extends Record<string, any>>(type: T, props: P) =>
  t.Object({ id: t.Any(), type: t.Literal(type), roomId: t.Integer({ minimum: 1 }), ...props })
const Target = { userId: t.Integer({ minimum: 1 }) }

export const WS = {
  join: Req('room.join', {}),
  leave: Req('room.leave', {}),
  hand: Req('room.hand', { up: t.Boolean() }),
  invite: Req('room.invite', Target),
  respond: Req('room.respond', { accept: t.Boolean() }),
  move: Req('room.move', Target),
  mute: Req('room.mute', { muted: t.Boolean(), userId: t.Optional(t.Integer({ minimum: 1 })) }),
  mod: Req('room.mod', { ...Target, on: t.Boolean() }),
  remove: Req('room.remove', Target),
  end: Req('room.end', {}),
  hallway: t.Object({ id: t.Any(), type: t.Literal('hallway.watch'), on: t.Boolean() }),
}

export type RoomState = 'scheduled' | 'live' | 'ended'
export type RoomKindT = 'open' | 'social' | 'closed'

export interface RoomRow {
  id: number; creator_id: number; host_id: number; title: string; description: string; link: string | null
  kind: RoomKindT; state: RoomState; starts_at: number | null; started_at: number | null; ended_at: number | null; created_at: number
}

export interface HistoryRow { user_id: number; username: string; display_name: string; avatar: string | null; role: RoomRole; from_at: number; to_at: number | null; end_reason: string | null }

/** A room as clients see it. */
export interface RoomView {
  id: number; title: string; description: string; link: string | null; kind: RoomKindT; state: RoomState
  startsAt: number | null; startedAt: number | null; endedAt: number | null; hostId: number; creatorId: number
}

/** A participant as clients see it. Guests are counted, not listed. */
export interface ParticipantView {
  key: ParticipantKey; user: PublicUser; role: RoomRole; muted: boolean
  /** Position marker in the hand queue (smaller raised earlier), null when the hand is down. */
  hand: number | null
  /** A moderator invited them to speak and they have not answered yet. */
  invited: boolean
  /** Their socket dropped; the seat is kept for the grace period. */
  away: boolean
  /** When they took their current role. */
  since: number
}

export const roomView = (r: RoomRow): RoomView => ({
  id: r.id, title: r.title, description: r.description, link: r.link, kind: r.kind, state: r.state,
  startsAt: r.starts_at, startedAt: r.started_at, endedAt: r.ended_at, hostId: r.host_id, creatorId: r.creator_id,
})
