// What the domains promise each other. Each domain's service implements its interface and is put on the Ctx in
// app.ts; other domains call it through the Ctx (optional where the domain may not be built in a given setup).
// Change an interface here only together with every caller. The wire types are the protocol's.
import type { ParticipantKey, Pinned, RoomKind, RoomRole, RoomState } from './protocol'

export type { ParticipantKey, RoomRole }

export const memberKey = (userId: number): ParticipantKey => `u:${userId}`
export const guestKey = (connId: number): ParticipantKey => `g:${connId}`
/** The key of whoever holds a socket: the member, or the guest of that one connection. */
export const connKey = (conn: { id: number; userId: number | null }): ParticipantKey =>
  conn.userId === null ? guestKey(conn.id) : memberKey(conn.userId)

export interface ParticipantInfo { key: ParticipantKey; userId: number | null; role: RoomRole; muted: boolean }
export interface RoomSummary { id: number; title: string; state: RoomState; kind: RoomKind; hostId: number; startsAt: number | null }

export interface RoomEvents {
  /** A participant's role changed (joining counts: from nothing to a role). Emitted after commit. */
  role: { roomId: number; key: ParticipantKey; userId: number | null; role: RoomRole }
  /** A speaker was muted or unmuted (by themselves or a moderator). */
  muted: { roomId: number; key: ParticipantKey; muted: boolean }
  /** A participant is gone for good (left, removed, or their grace period after a dropped socket ran out). */
  left: { roomId: number; key: ParticipantKey; userId: number | null }
  ended: { roomId: number }
}

/** server/rooms — ctx.rooms */
export interface RoomsApi {
  on<E extends keyof RoomEvents>(event: E, fn: (e: RoomEvents[E]) => void): void
  room(roomId: number): RoomSummary | null
  participant(roomId: number, key: ParticipantKey): ParticipantInfo | null
  participants(roomId: number): ParticipantInfo[]
  /** Whether a member is or ever was in the room (for reading its chat, backstage and Q&A after it ends). */
  wasParticipant(roomId: number, userId: number): boolean
  /** Whether a moderator removed the member from the room (they lose its chat, backstage and Q&A too). */
  wasRemoved(roomId: number, userId: number): boolean
  /** Whether a member may see a room at all (its page); false for an unknown room. */
  mayKnow(roomId: number, userId: number): boolean
  /** A moderator invites a member to the stage (Q&A "Bring to stage" uses it). Throws catalog errors. */
  inviteToSpeak(roomId: number, byUserId: number, userId: number): void
  /** Pins a text (a Q&A question) on the room for everyone in it; null unpins. */
  pin(roomId: number, pinned: Pinned | null): void
  /** Server ban: removes the member from every room at once. */
  removeUserEverywhere(userId: number): void
  /** Scheduled rooms whose start time falls in [from, to) (push reminders). */
  scheduledBetween(from: number, to: number): RoomSummary[]
  stats(): { liveRooms: number; participants: number }
}

/** server/media — ctx.media */
export interface MediaApi {
  stats(): { peers: number; forwardedPackets: number; forwardedBytes: number }
}

/** server/backchannel — ctx.backchannel */
export interface BackchannelApi {
  stats(): { messages: number; messagesToday: number }
  /** A message as a report shows it, if `viewerId` may read it (null: an admin working the reports queue). */
  reportedMessage(messageId: number, viewerId: number | null): { id: number; body: string; threadId: number; authorId: number | null; author: string | null } | null
}

export type PushKind = 'dm' | 'room_started' | 'room_reminder' | 'speak_invite'
/** server/push — ctx.push. notify() checks the member's settings and sends to each of their devices. */
export interface PushApi {
  notify(userId: number, kind: PushKind, message: { title: string; body: string; url: string; tag?: string }): Promise<void>
}

/** server/admin — ctx.audit: every admin and moderator action is recorded. */
export interface AuditEntry { actorId: number | null; action: string; targetType?: string; targetId?: number | string; details?: Record<string, unknown> }
export type AuditFn = (entry: AuditEntry) => void
