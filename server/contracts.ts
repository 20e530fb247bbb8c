// What the domains promise each other. Each domain's constructor (`create<X>(deps)`, server/<x>/index.ts) returns
// its interface as `api`; app.ts passes it to the domains built after it. Change an interface here only together
// with every caller. The wire types are the protocol's.
import type {
  ActivityKind,
  EventChange,
  ParticipantKey,
  Pinned,
  PublicUser,
  ReminderLead,
  RoomKind,
  RoomRole,
  RoomState,
} from './protocol'
import type { Tx } from './db/store'

export type { ParticipantKey, RoomRole }

export const memberKey = (userId: number): ParticipantKey => `u:${userId}`
export const guestKey = (connId: number): ParticipantKey => `g:${connId}`
/** The key of whoever holds a socket: the member, or the guest of that one connection. */
export const connKey = (conn: { id: number; userId: number | null }): ParticipantKey =>
  conn.userId === null ? guestKey(conn.id) : memberKey(conn.userId)

export interface ParticipantInfo {
  key: ParticipantKey
  userId: number | null
  role: RoomRole
  muted: boolean
}
export interface RoomSummary {
  id: number
  title: string
  state: RoomState
  kind: RoomKind
  hostId: number
  startsAt: number | null
}

export interface RoomEvents {
  /** A participant's role changed (joining counts: from nothing to a role). Emitted after commit. */
  role: { roomId: number; key: ParticipantKey; userId: number | null; role: RoomRole }
  /** A speaker was muted or unmuted (by themselves or a moderator). */
  muted: { roomId: number; key: ParticipantKey; muted: boolean }
  /** A participant is gone for good (left, removed, or their grace period after a dropped socket ran out). */
  left: { roomId: number; key: ParticipantKey; userId: number | null }
  ended: { roomId: number }
  /**
   * Several nodes: a live room came to this node (`here`: a draining node handed it over, or its node died and this
   * one adopted it) or left it for another node without ending (a drain's handover, W45).
   */
  moved: { roomId: number; here: boolean }
  /** The host edited a scheduled room; `userIds`: who was told (those who said yes, co-hosts), never the editor. */
  eventChanged: { roomId: number; byUserId: number; title: string; changes: EventChange[]; userIds: number[] }
  /** The host cancelled a scheduled room (`ended` is emitted too); `userIds`: who was told. */
  eventCancelled: { roomId: number; byUserId: number; title: string; userIds: number[] }
  /** A reminder went out (10 minutes before: `soon`, at the start: `start`) to `userIds`. */
  eventReminder: { roomId: number; title: string; lead: ReminderLead; startsAt: number; userIds: number[] }
  /** A moderator invited a member in the room to speak. */
  speakInvite: { roomId: number; byUserId: number; userId: number }
  /** A room went live (created live, or a scheduled room started): its creator's followers may be told. */
  started: { roomId: number; hostId: number }
  /** A room was scheduled for later. */
  scheduled: { roomId: number; hostId: number }
  /** Members were invited to a closed room (at its creation). */
  invited: { roomId: number; byUserId: number; userIds: number[] }
  /** The host turned a live room's recording on or off, or the admin turned recording off on the server (RP3, RP5). */
  recording: { roomId: number; on: boolean }
  /** A speaker answered "Include your voice in the replay?" (RP8); `at` is the time kept with the answer. */
  consent: { roomId: number; userId: number; consent: boolean; at: number }
}

/** server/rooms */
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
  /** Whether a member may join the room now (the room's kind and who follows whom), e.g. to be told it started. */
  mayJoin(roomId: number, userId: number): boolean
  /** A moderator invites a member to the stage (Q&A "Bring to stage" uses it). Throws catalog errors. */
  inviteToSpeak(roomId: number, byUserId: number, userId: number): void
  /** Pins a text (a Q&A question) on the room for everyone in it; null unpins. */
  pin(roomId: number, pinned: Pinned | null): void
  /**
   * Server ban, suspension, erasure: removes the member from every room at once, this node's now and, with several
   * nodes, every other node's as soon as it hears (W41).
   */
  removeUserEverywhere(userId: number): Promise<void>
  /** The media plane says whether the room's audio takes more listeners (the hallway card shows "Full", M53). */
  setAudioFull(roomId: number, full: boolean): void
  /** Scheduled rooms whose start time falls in [from, to) (push reminders). */
  scheduledBetween(from: number, to: number): RoomSummary[]
  /** Scheduled or live rooms whose planned start falls in [from, to) (the reminders at the start). */
  startingBetween(from: number, to: number): RoomSummary[]
  /** Who said yes to a room ("Remind me"), and who said no. */
  rsvps(roomId: number): { yes: number[]; no: number[] }
  /** The reminders' timer tells the rooms a reminder went out: in-app to those members, and `eventReminder`. */
  announceReminder(e: { roomId: number; lead: ReminderLead; userIds: number[] }): void
  /** This node's live rooms and the people in them (`/metrics`, per node). */
  stats(): { liveRooms: number; participants: number }
  /** The community's: every node's live rooms and the people in them, from the registry's cards (W42). */
  liveStats(): Promise<{ liveRooms: number; participants: number }>
  /** The live rooms recorded now (a restart records them again, RP17). */
  recordedRooms(): number[]
  /** Whether the room is live and recorded now (its host's switch and the admin's setting; RP1–RP5). */
  recording(roomId: number): boolean
  /** A speaker's current answer in a live room (RP8), with its time; null when they have not answered. */
  consent(roomId: number, userId: number): { consent: boolean; at: number } | null
  /** Who said yes at least once in the room (RP18). */
  everConsented(roomId: number): Set<number>
  /** Everyone who was ever on the room's stage (RP18). */
  stageUsers(roomId: number): number[]
  /** The recorder paused (disk low) or went on: the room is told (RP16). */
  setRecordingPaused(roomId: number, paused: boolean): void
}

export interface ReplayEvents {
  /** A recorded room ended with audio in it: its replay row is in state 'pending', waiting for the mix (RP19). */
  pending: { replayId: number; roomId: number }
  /**
   * A replay's mix started, moved on (progress 0..1, every 2 %), or ended (RP30): for the host's progress. Emitted
   * after the row is written.
   */
  mix: { replayId: number; roomId: number; state: 'mixing' | 'ready' | 'failed'; progress: number }
  /** A replay is ready to hear (mixed, or mixed again): `speakers`, the members heard in it. */
  ready: { replayId: number; roomId: number; speakers: number[] }
}

/** server/replays */
export interface ReplaysApi {
  on<E extends keyof ReplayEvents>(event: E, fn: (e: ReplayEvents[E]) => void): void
  /** A replay was set back to 'pending' (a speaker withdrew): the mix job mixes it again now (RP32). */
  remix(): void
}

/** server/replays/domain.ts: the replays as members see them (the library). */
export interface ReplayLibraryApi {
  /** A deleted account: withdrawn from every replay (mixed again without them), capture files, clips and feed gone. */
  eraseMember(userId: number): Promise<void>
}

/** One speaker's packet as an uplink tap sees it (M54): a copy, with its arrival time and level. */
export interface TapPacket {
  readonly roomId: number
  /** The speaker's participant key and user id. */
  readonly key: ParticipantKey
  readonly userId: number | null
  /** The uplink's own RTP sequence number and timestamp. */
  readonly seq: number
  readonly timestamp: number
  /** The RTP payload (Opus), copied: the tap may keep it. */
  readonly payload: Buffer
  /** When the packet arrived (epoch ms, sub-millisecond). */
  readonly arrivedAt: number
  /** The packet's own RFC 6464 level and the speaker's smoothed level (the ranking's), both 0..1. */
  readonly level: number
  readonly smoothedLevel: number
}

/** A room's listener-side audio quality from RTCP receiver reports (M56). */
export interface RoomAudioQuality {
  roomId: number
  /** Slots with a receiver report in the last 15 s. */
  reports: number
  /** Mean fraction of packets lost (0..1) and mean interarrival jitter (seconds) over those reports. */
  lossRatio: number
  jitterSeconds: number
}

/** server/media */
export interface MediaApi {
  stats(): {
    peers: number
    forwardedPackets: number
    forwardedBytes: number
    /** Forwarded packets per second over the last second, and the listeners taken in all rooms. */
    packetsPerSecond: number
    listeners: number
    /**
     * The origin → edge relays (M64–M66): datagrams sent to edge nodes, and, as an edge, taken and refused (an
     * unknown relay, a wrong tag, a replayed counter).
     */
    relaySent: number
    relayReceived: number
    relayRefused: number
  }
  /**
   * Receives every packet of the room's speakers that is forwarded (recording): called off the per-packet path, in
   * a microtask after the packet went out. Works before the room's audio starts. Returns the unsubscribe function.
   */
  tap(roomId: number, listener: (packet: TapPacket) => void): () => void
  /** RTCP feedback per room with audio now (for /metrics). */
  quality(): RoomAudioQuality[]
}

export interface BackchannelEvents {
  /**
   * A message was committed in a thread (1:1, group, a room's chat or backstage). `requested`: the members who have
   * not accepted the thread yet (a message request).
   */
  sent: {
    threadId: number
    messageId: number
    authorId: number
    kind: 'dm' | 'group' | 'room_chat' | 'backstage'
    title: string
    roomId: number | null
    body: string
    requested: number[]
  }
}

/** server/backchannel */
export interface BackchannelApi {
  on<E extends keyof BackchannelEvents>(event: E, fn: (e: BackchannelEvents[E]) => void): void
  /** Whether a member may read a thread now (its members; a room's chat by the room's rules). */
  canRead(threadId: number, userId: number): Promise<boolean>
  /** Messages stored, sent today, and sent since this process started (a counter for /metrics). */
  stats(): Promise<{ messages: number; messagesToday: number; sent: number }>
  /** A message as a report shows it, if `viewerId` may read it (null: an admin working the reports queue). */
  reportedMessage(
    messageId: number,
    viewerId: number | null,
  ): Promise<{ id: number; body: string; threadId: number; authorId: number | null; author: string | null } | null>
  /** A member's own Backchannel data for their export (uploads with their file on disk). */
  exportOf(userId: number): Promise<{
    threads: unknown[]
    messages: unknown[]
    uploads: { name: string; file: string }[]
  }>
  /** A deleted account: its messages outside 1:1 threads become tombstones. Returns how many. */
  eraseMember(userId: number): Promise<number>
  /** A room's Q&A questions that were brought to the stage, by the time they were (a replay's chapters). */
  stagedQuestions(roomId: number): Promise<{ stagedAt: number; body: string; authorId: number | null }[]>
}

export type PushKind = 'dm' | 'room_started' | 'room_reminder' | 'speak_invite' | 'activity'
/** server/push */
export interface PushApi {
  /** Checks the member's settings and sends to each of their devices. Never throws. */
  notify(
    userId: number,
    kind: PushKind,
    message: { title: string; body: string; url: string; tag?: string },
  ): Promise<void>
  /** Whether the member has a device notify() would send to (a synchronous check; false for most members). */
  hasDevice(userId: number): boolean
  /** Forgets every device of a member (a ban). */
  removeDevices(userId: number): Promise<void>
  /** For /metrics: subscribed devices, and sends accepted and failed since the start (this node's). */
  stats(): Promise<{ subscriptions: number; sent: number; failed: number }>
}

/** server/activity: the activity inbox (built after backchannel; admin and invites' callers post to it). */
export interface ActivityApi {
  /**
   * Adds an item to a member's inbox, told live and pushed per their settings. Nothing happens when it is not due:
   * to oneself, to a member who is not active, when either blocked the other, or a second time for one `dedupe`.
   * Returns at once: the write follows (fire-and-forget, a failure logged, never thrown into the caller).
   */
  add(
    userId: number,
    item: {
      kind: ActivityKind
      actorId: number | null
      text: string
      detail: string
      url: string
      dedupe: string
    },
  ): void
}

/** server/admin (the audit log, built before the other domains): every admin and moderator action is recorded. */
export interface AuditEntry {
  actorId: number | null
  action: string
  targetType?: string
  targetId?: number | string
  details?: Record<string, unknown>
}
/** Returns at once: the entry is written after (a failure logged). Not for use inside a store transaction. */
export type AuditFn = (entry: AuditEntry) => void

// ── server/accounts ──

type AccountRole = 'member' | 'admin'
export type AccountStatus = 'active' | 'suspended' | 'banned'

/** A member's account as other domains see it (never the password hash). */
export interface Account {
  id: number
  username: string
  /** The name shown: the display name, or the username when they set none. */
  displayName: string
  /** The avatar's URL, or null. */
  avatar: string | null
  role: AccountRole
  status: AccountStatus
  bio: string
  invitedBy: number | null
  /** The invite the member joined with. */
  inviteId: number | null
  inviteQuota: number
  createdAt: number
}

/** A row of the admin console's member list. */
export interface MemberRecord extends Account {
  /** The username of who invited them. */
  inviter: string | null
  /** The last time one of their sessions was used. */
  lastSeenAt: number | null
}

/** A member's own view of their account (GET /api/me). */
export interface OwnAccount extends PublicUser {
  bio: string
  inviteQuota: number
  status: AccountStatus
  createdAt: number
}

interface AccountExport {
  avatar: string | null
  profile: {
    username: string
    displayName: string
    bio: string
    role: string
    joined: string
    invitedBy: string | null
  }
  following: { username: string; since: string }[]
  followers: { username: string; since: string }[]
  blocking: { username: string; since: string }[]
}

/** Who is asking: a valid session of an active member (http/session.ts derives it for every request). */
export interface Viewer {
  session: { id: number }
  user: Account
}

/** Why every session of a member ended, when an admin ended them: their open tabs say so (close reason). */
export type EndReason = 'banned' | 'suspended'

export interface AccountsEvents {
  /** A session or a member's sessions ended (sign-out, password change, suspension): their sockets close. */
  sessionsEnded: { userId: number; sessionId?: number; exceptSession?: number; reason?: EndReason }
  /** A member followed another (not emitted when they already did); `invited`: a new member followed their inviter. */
  followed: { followerId: number; followeeId: number; invited?: boolean }
}

/**
 * server/accounts. The lookups (an account by id or name, who follows or blocked whom, `all`, `counts`) are
 * synchronous: they read the node's directory (server/accounts/directory.ts), current once a write here has committed
 * (and soon after on the other nodes). What reads sessions, lists or searches the store, and every write, is async.
 */
export interface AccountsApi {
  on<E extends keyof AccountsEvents>(event: E, fn: (e: AccountsEvents[E]) => void): void

  // sessions
  /** The session and member a cookie's token belongs to, if the session is valid and the member active. */
  resolve(token: string | undefined): Promise<Viewer | null>
  /** Starts a session for a member who just proved who they are (or just signed up). */
  startSession(userId: number, userAgent: string): Promise<{ token: string; sessionId: number; expires: number }>
  /** A member's own view of their account (what sign-in and sign-up answer). */
  me(userId: number): OwnAccount
  /** Ends every session of a member (their sockets close through `sessionsEnded`, with the reason if given). */
  logoutEverywhere(userId: number, reason?: EndReason): Promise<void>
  /** Sets a new password (a reset link); every session ends. */
  resetPassword(userId: number, password: string): Promise<void>
  /** `wrong_password` unless it is the member's password. */
  checkPassword(userId: number, password: string): Promise<void>
  /** A member's own data for their export: profile, follows both ways, blocks; and the avatar's file name. */
  exportOf(userId: number): Promise<AccountExport | null>
  /** Erases a member's account (kept as a "Deleted member" row that never signs in); their sessions end. */
  erase(userId: number): Promise<void>
  /** Where an avatar file is on disk (null for a name that is not one). */
  avatarFile(name: string): string | null

  // creating accounts
  /**
   * Creates a member account: the password is hashed, then in one transaction the name is checked (username_taken),
   * `redeem` runs (it spends an invite, or throws to refuse) with that transaction's `tx` (the accounts store's:
   * core.gate on SQLite), and the account is written. Returns the new id.
   */
  createMember(
    input: { username: string; password: string; displayName?: string },
    redeem: ((tx: Tx) => Promise<{ inviteId: number; invitedBy: number | null } | null>) | null,
  ): Promise<number>
  /** Whether the first-run admin setup is still open (no admin yet). */
  needsSetup(): Promise<boolean>

  // lookups
  byId(id: number): Account | null
  byName(username: string): Account | null
  /** Accounts by id (unknown ids are left out). */
  byIds(ids: Iterable<number>): Map<number, Account>
  /** Usernames by id (unknown ids are left out). */
  usernames(ids: Iterable<number>): Map<number, string>
  publicUser(id: number): PublicUser | null
  /**
   * As publicUser, reading the store when this node's directory does not know the member yet (made on another node
   * a moment ago, before this node heard of it: W28, W44).
   */
  loadPublicUser(id: number): Promise<PublicUser | null>
  /** Active members whose username or display name starts with `q`, minus those who blocked the viewer. */
  search(viewerId: number, q: string, limit?: number): Promise<(PublicUser & { isFollowing: boolean })[]>
  /** Public views by id (unknown ids are left out). */
  publicUsers(ids: Iterable<number>): Map<number, PublicUser>
  /** The member a viewer names (not found: unknown or banned; conflict: themselves). */
  target(viewerId: number, username: string): Account
  /** Every account, by id (the invite tree). */
  all(): Account[]
  /** Who joined with each of these invites: usernames by invite id. */
  joinedWith(inviteIds: Iterable<number>): Promise<Map<number, string[]>>
  /** The admin console's member search: `status` is a status, 'admin' or 'all'. */
  members(q: string, status: string, limit: number, offset: number): Promise<MemberRecord[]>
  member(id: number): Promise<MemberRecord | null>
  /** Accounts by status and role, and how many joined since `since`. */
  counts(since: number): {
    members: number
    active: number
    suspended: number
    banned: number
    admins: number
    joinedToday: number
  }

  // follows and blocks
  /** Followers of a member (the 500 most recent), any status. */
  followers(userId: number): Account[]
  followingIds(userId: number): Set<number>
  isFollowing(followerId: number, followeeId: number): boolean
  hasBlocked(blockerId: number, blockedId: number): boolean
  /** True when either has blocked the other. */
  blockedEither(a: number, b: number): boolean
  /** Who has blocked this member (a message's recipients are checked against it). */
  blockersOf(userId: number): readonly number[]

  // the admin's levers
  /** Sets a status (no sessions end here: the admin ends them). */
  setStatus(userId: number, status: AccountStatus): Promise<void>
  setRole(userId: number, role: AccountRole): Promise<void>
  /**
   * Adds to (or, negative, spends from) a member's invite quota, inside the invite's transaction `tx`: false (nothing
   * written) when it would go below 0, so two spends at once cannot both take the last invite.
   */
  addInviteQuota(userId: number, delta: number, tx?: Tx): Promise<boolean>
}

// ── server/invites ──

export interface InviteTreeNode {
  id: number
  username: string
  displayName: string
  status: AccountStatus
  role: AccountRole
  joinedAt: number
  children: InviteTreeNode[]
}

/** server/invites: what the admin console uses. */
export interface InvitesApi {
  /** The whole invite tree: roots are the people nobody invited (the first admin, CLI invites). */
  tree(): InviteTreeNode[]
  /** Members' invites that can still be used, with who made them. */
  pending(): Promise<{ id: number; creatorId: number }[]>
  /** Revokes an invite (a member's own get their unused uses back); false if it was already revoked. */
  revoke(id: number, by: { id: number; role: string }): Promise<boolean>
}
