// Rooms on the wire: the views (a room, a participant, a hallway card), the requests `room.*` and `hallway.watch`,
// the events on topic `room:<id>` and `hallway`, and the rooms' refusals.
import { Type as t, type Static } from '@sinclair/typebox'
import { Empty, event, PublicUser, request, type ErrorSpec } from './common'

/** How many live rooms one member may have started and still host, and how many upcoming rooms they may schedule. */
export const LIVE_PER_HOST_MAX = 1
export const SCHEDULED_PER_HOST_MAX = 20

export const RoomKind = t.Union([t.Literal('open'), t.Literal('social'), t.Literal('closed')])
export type RoomKind = Static<typeof RoomKind>
export const RoomState = t.Union([t.Literal('scheduled'), t.Literal('live'), t.Literal('ended')])
export type RoomState = Static<typeof RoomState>
export const RoomRole = t.Union([
  t.Literal('host'),
  t.Literal('moderator'),
  t.Literal('speaker'),
  t.Literal('audience'),
])
export type RoomRole = Static<typeof RoomRole>
/** A participant's key in a room: `u:<userId>` for members, `g:<connId>` for guests (listen-only). */
export const ParticipantKey = t.String()
export type ParticipantKey = Static<typeof ParticipantKey>
/** The reactions offered in a room. */
export const ROOM_REACTIONS = ['👏', '❤️', '😂', '🔥', '💯', '🙌', '😮', '👍'] as const

export const LeaveReason = t.Union([t.Literal('left'), t.Literal('removed'), t.Literal('timeout'), t.Literal('ended')])
export type LeaveReason = Static<typeof LeaveReason>

/** A room as clients see it. */
export const RoomView = t.Object({
  id: t.Integer(),
  title: t.String(),
  description: t.String(),
  link: t.Union([t.String(), t.Null()]),
  kind: RoomKind,
  state: RoomState,
  startsAt: t.Union([t.Integer(), t.Null()]),
  startedAt: t.Union([t.Integer(), t.Null()]),
  endedAt: t.Union([t.Integer(), t.Null()]),
  hostId: t.Integer(),
  creatorId: t.Integer(),
  /** A scheduled room its host cancelled (its state is `ended`; it never started). */
  cancelled: t.Boolean(),
  /** The host records the room (RP4): a REC badge in the room, "Recorded" on the hallway card. */
  recording: t.Boolean(),
})
export type RoomView = Static<typeof RoomView>

/** An answer to a scheduled room: "Remind me" (yes) or "Not going" (no). */
export const Rsvp = t.Union([t.Literal('yes'), t.Literal('no')])
export type Rsvp = Static<typeof Rsvp>
/** Who is coming to a room: how many said yes, the first of them (people I follow first), and my answer. */
export const RsvpView = t.Object({
  going: t.Integer(),
  people: t.Array(PublicUser),
  mine: t.Union([Rsvp, t.Null()]),
})
export type RsvpView = Static<typeof RsvpView>
/** Which reminder: 10 minutes before the start, or at the start. */
export const ReminderLead = t.Union([t.Literal('soon'), t.Literal('start')])
export type ReminderLead = Static<typeof ReminderLead>
/** What an edit of a scheduled room changed. */
export const EventChange = t.Union([
  t.Literal('title'),
  t.Literal('description'),
  t.Literal('startsAt'),
  t.Literal('cohosts'),
])
export type EventChange = Static<typeof EventChange>

/** A participant as clients see it. Guests are counted, not listed. */
export const ParticipantView = t.Object({
  key: ParticipantKey,
  user: PublicUser,
  role: RoomRole,
  muted: t.Boolean(),
  /** Position marker in the hand queue (smaller raised earlier), null when the hand is down. */
  hand: t.Union([t.Integer(), t.Null()]),
  /** A moderator invited them to speak and they have not answered yet. */
  invited: t.Boolean(),
  /** Their socket dropped; the seat is kept for the grace period. */
  away: t.Boolean(),
  /** When they took their current role. */
  since: t.Integer(),
  /**
   * Their answer to "Include your voice in the replay?" in this room (RP8): true yes, false no, null not answered.
   * Only a speaker whose answer is true is recorded.
   */
  consent: t.Union([t.Boolean(), t.Null()]),
})
export type ParticipantView = Static<typeof ParticipantView>

/** A room in the hallway: the room, its host, the first speakers and the counts. */
export const HallwayRoom = t.Composite([
  RoomView,
  t.Object({
    host: PublicUser,
    speakers: t.Array(PublicUser),
    speakerCount: t.Integer(),
    listenerCount: t.Integer(),
    /** How many people the viewer follows are on stage. */
    followedOnStage: t.Integer(),
    cohosts: t.Array(PublicUser),
    rsvp: RsvpView,
    /** The room's audio takes no more listeners now (M53): joining shows "This room is full". */
    full: t.Boolean(),
  }),
])
export type HallwayRoom = Static<typeof HallwayRoom>

/** A text pinned on the room (a Q&A question brought to the stage). */
export const Pinned = t.Object({ kind: t.Literal('question'), id: t.Integer(), text: t.String(), by: t.String() })
export type Pinned = Static<typeof Pinned>

/** What a socket learns on joining: the room, everyone in it, and its own seat. */
export const RoomSnapshot = t.Object({
  room: RoomView,
  participants: t.Array(ParticipantView),
  guests: t.Integer(),
  pinned: t.Union([Pinned, t.Null()]),
  /** This socket's own seat (a guest's key is `g:<connId>`). */
  me: t.Object({
    key: ParticipantKey,
    role: RoomRole,
    muted: t.Boolean(),
    hand: t.Union([t.Integer(), t.Null()]),
    invited: t.Boolean(),
  }),
  /** R72: the room has no host and ends at this time (ms epoch) unless one returns; absent otherwise. */
  hostlessUntil: t.Optional(t.Integer()),
  /** RP16: recording is on but paused (the server's disk is low). */
  recordingPaused: t.Boolean(),
})
export type RoomSnapshot = Static<typeof RoomSnapshot>

const RoomId = t.Integer({ minimum: 1 })
const UserId = t.Integer({ minimum: 1 })

export const RoomRequests = {
  /** Join (or rejoin after a dropped socket); guests may join open rooms when the admin allows guests. */
  'room.join': request({ roomId: RoomId }, RoomSnapshot, { guest: true }),
  /** Leave quietly: every tab of this member leaves the room. */
  'room.leave': request({ roomId: RoomId }, Empty, { guest: true }),
  'room.hand': request({ roomId: RoomId, up: t.Boolean() }, Empty),
  'room.invite': request({ roomId: RoomId, userId: UserId }, Empty),
  /** Answer an invitation to speak; `muted: true` goes on stage muted (live, unmuted, by default). */
  'room.respond': request({ roomId: RoomId, accept: t.Boolean(), muted: t.Optional(t.Boolean()) }, Empty),
  /** Move someone (or oneself) from the stage to the audience. */
  'room.move': request({ roomId: RoomId, userId: UserId }, Empty),
  /** Mute or unmute oneself, or mute someone of lower rank (userId). */
  'room.mute': request({ roomId: RoomId, muted: t.Boolean(), userId: t.Optional(UserId) }, Empty),
  'room.mod': request({ roomId: RoomId, userId: UserId, on: t.Boolean() }, Empty),
  'room.remove': request({ roomId: RoomId, userId: UserId }, Empty),
  'room.end': request({ roomId: RoomId }, Empty),
  /** The host hands the room to someone on stage (they become host, the old host a moderator). */
  'room.handover': request({ roomId: RoomId, userId: UserId }, Empty),
  /** An emoji reaction floating over the stage for everyone in the room (rate-limited per member). */
  'room.react': request({ roomId: RoomId, emoji: t.String({ minLength: 1, maxLength: 16 }) }, Empty),
  /** A speaker answers "Include your voice in the replay?" (RP8–RP11); they may change their answer at any time. */
  'room.consent': request({ roomId: RoomId, consent: t.Boolean() }, Empty),
  /** The host turns the room's recording on or off while it is live (RP5). */
  'room.recording': request({ roomId: RoomId, on: t.Boolean() }, Empty),
  /** Follow (or stop following) `hallway.changed`. */
  'hallway.watch': request({ on: t.Boolean() }, Empty, { guest: true }),
}

export const RoomEvents = {
  'room.joined': event({ roomId: t.Integer(), participant: ParticipantView }),
  'room.participant': event({ roomId: t.Integer(), participant: ParticipantView }),
  'room.left': event({ roomId: t.Integer(), key: ParticipantKey, userId: t.Integer(), reason: LeaveReason }),
  'room.guests': event({ roomId: t.Integer(), count: t.Integer() }),
  'room.pinned': event({ roomId: t.Integer(), pinned: t.Union([Pinned, t.Null()]) }),
  'room.ended': event({ roomId: t.Integer() }),
  /**
   * Several nodes: the node holding the room is stopping (SIGTERM) and no other node could take it (W25); the room
   * ends at `endsAt`.
   */
  'room.closing': event({ roomId: t.Integer(), endsAt: t.Integer() }),
  /**
   * Several nodes: the node holding the room is stopping (SIGTERM) and another node took the room over (W45): its
   * seats wait there; each member joins it again (`room.join` finds the seat) and connects its audio again.
   */
  'room.moving': event({ roomId: t.Integer() }),
  /**
   * R72: the last host left with nobody on stage; the room ends at `endsAt` (ms epoch) unless a host returns.
   * `endsAt: null`: a host is back, the room goes on.
   */
  'room.hostless': event({ roomId: t.Integer(), endsAt: t.Union([t.Integer(), t.Null()]) }),
  /**
   * The room's recording changed (RP5, RP3) or paused / went on again (RP16): `recording` is the host's choice as it
   * stands, `paused` true while the server's disk is too full to record.
   */
  'room.recording': event({ roomId: t.Integer(), recording: t.Boolean(), paused: t.Boolean() }),
  /** To the removed member's sockets only. */
  'room.removed': event({ roomId: t.Integer() }),
  'room.reaction': event({ roomId: t.Integer(), key: ParticipantKey, emoji: t.String() }),
  /** On the hallway topic, coalesced: refetch GET /api/rooms. */
  'hallway.changed': Empty,
  /** To those who said yes and the co-hosts: the host edited a scheduled room. */
  'room.updated': event({ room: RoomView, changes: t.Array(EventChange) }),
  /** To those who said yes and the co-hosts: the host cancelled a scheduled room. */
  'room.cancelled': event({ roomId: t.Integer(), title: t.String() }),
  /** To those who said yes, the host and (10 minutes before) the host's followers: a room starts soon or now. */
  'room.reminder': event({ roomId: t.Integer(), title: t.String(), lead: ReminderLead, startsAt: t.Integer() }),
}

export const RoomErrors = {
  room_not_found: [404, 'No such room.'],
  room_not_live: [409, 'This room has not started yet.'],
  /** Several nodes: the node holding the room did not answer a forwarded request in time (it may have stopped). */
  /** Several nodes: this node is stopping and makes no room live; another node does (the client tries again). */
  node_draining: [503, 'This server is restarting; try again in a moment.'],
  room_holder_unreachable: [503, 'The server holding this room does not answer; try again shortly.'],
  room_ended: [410, 'This room has ended.'],
  room_sign_in: [401, 'Sign in to join this room.'],
  room_invite_only: [403, 'This room is for invited members only.'],
  room_followers_only: [403, 'This room is for people the moderators follow.'],
  removed_from_room: [403, 'You were removed from this room.'],
  not_in_room: [409, 'Join the room first.'],
  room_target_absent: [409, 'They are not in this room.'],
  on_stage: [409, 'Already on the stage.'],
  not_on_stage: [409, 'Only people on the stage can do that.'],
  no_invitation: [409, 'There is no invitation to speak to answer.'],
  room_live_limit: [409, 'You already host a live room: leave or end it first.'],
  room_scheduled_limit: [409, `You can have at most ${SCHEDULED_PER_HOST_MAX} upcoming rooms.`],
  room_start_forbidden: [403, 'Only the host or a co-host starts this room.'],
  room_cancel_forbidden: [403, 'Only the host cancels a scheduled room.'],
  room_cancel_not_scheduled: [409, 'Only a scheduled room can be cancelled; end a live room from inside it.'],
  room_invite_forbidden: [403, 'Only moderators invite people to speak.'],
  room_move_forbidden: [403, 'Only moderators move people.'],
  room_mute_forbidden: [403, 'Only moderators mute people.'],
  room_mod_forbidden: [403, 'Only moderators make moderators.'],
  room_unmod_forbidden: [403, 'Only moderators unmake moderators.'],
  room_remove_forbidden: [403, 'Only moderators remove people.'],
  room_end_forbidden: [403, 'Only moderators end the room.'],
  /** The message names the target's role: "Only someone above a moderator may do that." */
  room_outranked: [403, 'Only someone above them may do that.'],
  room_host_on_stage: [403, 'The host leaves the stage by leaving the room.'],
  room_unmute_other: [403, 'Only they can unmute themselves.'],
  room_not_moderator: [409, 'They are not a moderator.'],
  room_edit_forbidden: [403, 'Only the host edits this room.'],
  room_edit_not_scheduled: [409, 'Only an upcoming room can be edited.'],
  room_rsvp_not_scheduled: [409, 'Only an upcoming room takes answers.'],
  room_rsvp_host: [409, 'Hosts are coming anyway.'],
  room_handover_forbidden: [403, 'Only the host hands the room over.'],
  room_handover_target: [409, 'Hand the room to someone on the stage.'],
  /** The message lists the reactions: "React with one of 👏 ❤️ …". */
  room_reaction_unknown: [422, 'That reaction is not offered.'],
  room_reaction_rate: [429, 'Slow down with the reactions.'],
  recording_disabled: [403, 'Recording is turned off on this server.'],
  room_not_recorded: [409, 'This room is not recorded.'],
  room_recording_forbidden: [403, 'Only the host turns recording on or off.'],
} as const satisfies Record<string, ErrorSpec>
