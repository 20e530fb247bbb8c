// One live room in memory: its participants (seats), their roles, the hand queue, and the timers it owns.
// The room's lifecycle is a named state machine; a seat is 'present' or 'away' (socket dropped, kept for a grace
// period). `close()` releases every timer; the service persists what must outlive the process.
import type { ParticipantKey, ParticipantView, Pinned, PublicUser, RoomRole, RoomState } from '../protocol'
import type { ConnInfo } from '../realtime/bus'

/** A dropped socket keeps its seat and role this long, waiting for the client to resume. */
export const GRACE_MS = 20_000
/** After a restart, a live room keeps its participants' seats this long for them to come back (ROOM_RESUME_MS). */
export const RESUME_MS = 120_000
/**
 * The last host left with nobody on stage but people listening (R72): the room stays open this long for a host to
 * return (ROOM_HOSTLESS_MS), then ends.
 */
const HOSTLESS_MS = 60_000
/** A live room that nobody has joined (just created or started) ends after this. */
export const EMPTY_ROOM_MS = 120_000
/** Hallway change notices are coalesced into one per this interval. */
export const HALLWAY_THROTTLE_MS = 400
/**
 * The guest count goes to the room at most once per this interval (M50): a join costs the room O(1) messages, not
 * one to everyone per guest (N²/2 messages while N guests arrive).
 */
export const GUEST_COUNT_EVERY_MS = 1000

/** The room lifecycle: which state may follow which. */
export const ROOM_TRANSITIONS: Record<RoomState, readonly RoomState[]> = {
  scheduled: ['live', 'ended'],
  live: ['ended'],
  ended: [],
}
export const canTransition = (from: RoomState, to: RoomState) => ROOM_TRANSITIONS[from].includes(to)

type SeatState = 'present' | 'away'

export interface SavedSeat {
  userId: number
  role: RoomRole
  muted: boolean
  hand: number | null
  invited: boolean
  since: number
}
export interface SavedSession {
  pinned: Pinned | null
  seats: SavedSeat[]
}

/** Rank decides who may act on whom: a moderator acts on speakers and audience, the host on moderators too. */
export const RANK: Record<RoomRole, number> = { host: 3, moderator: 2, speaker: 1, audience: 0 }
export const onStage = (role: RoomRole) => role !== 'audience'
export const isModerator = (role: RoomRole) => RANK[role] >= RANK.moderator

export interface Seat {
  key: ParticipantKey
  userId: number | null
  user: PublicUser | null
  role: RoomRole
  muted: boolean
  hand: number | null
  invited: boolean
  state: SeatState
  /** When the current role began (seniority for succession). */
  since: number
  /** When the seat was taken on this node (a notice from another node leaves only older seats, W43). */
  seatedAt: number
  conns: Set<ConnInfo>
  graceTimer: ReturnType<typeof setTimeout> | null
}

export interface Timing {
  graceMs: number
  emptyMs: number
  /** The guest count's interval (default GUEST_COUNT_EVERY_MS). */
  guestCountMs?: number
  /** How long a room without a host waits for one (default HOSTLESS_MS, R72). */
  hostlessMs?: number
}

export class RoomSession {
  state: 'live' | 'ended' = 'live'
  readonly seats = new Map<ParticipantKey, Seat>()
  pinned: Pinned | null = null
  /** Whether a host has ever been seated (an empty room ends at once only after that). */
  hadHost = false
  /** The media plane takes no more listeners in this room now (M53; the hallway card says so). */
  audioFull = false
  /** Each speaker's latest answer to "Include your voice in the replay?" (RP8), by user id. */
  readonly consents = new Map<number, { consent: boolean; at: number }>()
  /** Recording is paused: the server's disk is low (RP16). */
  recordingPaused = false
  private handSeq = 0
  private emptyTimer: ReturnType<typeof setTimeout> | null = null
  /** The guest count last published, and the timer of the next publication while one is due. */
  private guestsSent = 0
  private guestsTimer: ReturnType<typeof setTimeout> | null = null
  /** R72: while the room waits for a host, when it ends (ms epoch), its timer, and who held the room last. */
  hostlessUntil: number | null = null
  private hostlessTimer: ReturnType<typeof setTimeout> | null = null
  lastHostId: number | null = null

  constructor(
    readonly roomId: number,
    private timing: Timing,
  ) {}

  seat(key: ParticipantKey) {
    return this.seats.get(key) ?? null
  }

  add(s: Omit<Seat, 'hand' | 'invited' | 'state' | 'since' | 'seatedAt' | 'graceTimer'>): Seat {
    const now = Date.now()
    const seat: Seat = {
      ...s,
      hand: null,
      invited: false,
      state: 'present',
      since: now,
      seatedAt: now,
      graceTimer: null,
    }
    this.seats.set(seat.key, seat)
    if (seat.role === 'host') this.hadHost = true
    this.disarmEmpty()
    return seat
  }

  /** Gives a seat a new role: the hand goes down, a pending invitation lapses; the audience is always muted. */
  setRole(seat: Seat, role: RoomRole) {
    seat.role = role
    seat.since = Date.now()
    seat.hand = null
    seat.invited = false
    if (!onStage(role)) seat.muted = true
    if (role === 'host') this.hadHost = true
  }

  raiseHand(seat: Seat, up: boolean) {
    if (up) seat.hand ??= ++this.handSeq
    else seat.hand = null
  }

  /** The hand queue, first raised first. */
  hands(): Seat[] {
    return [...this.seats.values()].filter((s) => s.hand !== null).sort((a, b) => a.hand! - b.hand!)
  }

  host(): Seat | null {
    for (const s of this.seats.values()) if (s.role === 'host') return s
    return null
  }

  /**
   * Who takes over from a host who is gone (R6, R33, R73): a moderator, else the longest-serving speaker; present
   * before away.
   */
  successor(): Seat | null {
    const order = (a: Seat, b: Seat) => (a.state === b.state ? a.since - b.since : a.state === 'present' ? -1 : 1)
    const members = [...this.seats.values()].filter((s) => s.userId !== null)
    return (
      members.filter((s) => s.role === 'moderator').sort(order)[0] ??
      members.filter((s) => s.role === 'speaker').sort(order)[0] ??
      null
    )
  }

  members(): Seat[] {
    return [...this.seats.values()].filter((s) => s.userId !== null)
  }
  guests(): number {
    let n = 0
    for (const s of this.seats.values()) if (s.userId === null) n++
    return n
  }

  /**
   * The guest count changed: `publish` runs once at the end of the current interval with the count then, and only
   * if it differs from the last one published (arrivals and departures within an interval are one message).
   */
  guestsChanged(publish: (count: number) => void) {
    if (this.guestsTimer || this.state === 'ended') return
    this.guestsTimer = setTimeout(() => {
      this.guestsTimer = null
      const n = this.guests()
      if (n === this.guestsSent) return
      this.guestsSent = n
      publish(n)
    }, this.timing.guestCountMs ?? GUEST_COUNT_EVERY_MS)
  }

  /** The socket(s) of a seat are gone: keep it for the grace period (or `ms`), then `expire` runs. */
  away(seat: Seat, expire: () => void, ms = this.timing.graceMs) {
    seat.state = 'away'
    if (seat.graceTimer) clearTimeout(seat.graceTimer)
    seat.graceTimer = setTimeout(() => {
      seat.graceTimer = null
      expire()
    }, ms)
  }

  /** A seat read back after a restart: its hand keeps its place in the queue, its role its seniority. */
  restore(seat: Seat, saved: { hand: number | null; invited: boolean; since: number }) {
    seat.hand = saved.hand
    seat.invited = saved.invited
    seat.since = saved.since
    if (saved.hand !== null) this.handSeq = Math.max(this.handSeq, saved.hand)
  }

  /** What a graceful stop saves of the session (members' seats only: guests come back as new guests). */
  saved(): SavedSession {
    return {
      pinned: this.pinned,
      seats: this.members().map((s) => ({
        userId: s.userId!,
        role: s.role,
        muted: s.muted,
        hand: s.hand,
        invited: s.invited,
        since: s.since,
      })),
    }
  }

  /** A socket came back for a seat. */
  back(seat: Seat, conn: ConnInfo) {
    seat.conns.add(conn)
    seat.state = 'present'
    if (seat.graceTimer) {
      clearTimeout(seat.graceTimer)
      seat.graceTimer = null
    }
  }

  drop(seat: Seat) {
    if (seat.graceTimer) {
      clearTimeout(seat.graceTimer)
      seat.graceTimer = null
    }
    this.seats.delete(seat.key)
  }

  /** The room has no host and nobody on stage (R72): it ends when `onEnd` runs, unless a host returns first. */
  armHostless(onEnd: () => void, ms = this.timing.hostlessMs ?? HOSTLESS_MS): number {
    this.disarmHostless()
    this.hostlessUntil = Date.now() + ms
    this.hostlessTimer = setTimeout(() => {
      this.hostlessTimer = null
      onEnd()
    }, ms)
    return this.hostlessUntil
  }
  /** A host is back: the room goes on. True when it was waiting. */
  disarmHostless(): boolean {
    const was = this.hostlessUntil !== null
    if (this.hostlessTimer) clearTimeout(this.hostlessTimer)
    this.hostlessTimer = null
    this.hostlessUntil = null
    return was
  }

  armEmpty(onEmpty: () => void) {
    this.disarmEmpty()
    this.emptyTimer = setTimeout(() => {
      this.emptyTimer = null
      onEmpty()
    }, this.timing.emptyMs)
  }
  disarmEmpty() {
    if (this.emptyTimer) {
      clearTimeout(this.emptyTimer)
      this.emptyTimer = null
    }
  }

  /** Timers owned by this session (0 after close). */
  timers() {
    let n = this.emptyTimer ? 1 : 0
    if (this.guestsTimer) n++
    if (this.hostlessTimer) n++
    for (const s of this.seats.values()) if (s.graceTimer) n++
    return n
  }

  /** Ends the session: releases every timer; the seats stay readable for the final events. */
  close() {
    this.state = 'ended'
    this.disarmEmpty()
    this.disarmHostless()
    if (this.guestsTimer) clearTimeout(this.guestsTimer)
    this.guestsTimer = null
    for (const s of this.seats.values())
      if (s.graceTimer) {
        clearTimeout(s.graceTimer)
        s.graceTimer = null
      }
  }

  view(seat: Seat): ParticipantView {
    return {
      key: seat.key,
      user: seat.user!,
      role: seat.role,
      muted: seat.muted,
      hand: seat.hand,
      invited: seat.invited,
      away: seat.state === 'away',
      since: seat.since,
      consent: seat.userId === null ? null : (this.consents.get(seat.userId)?.consent ?? null),
    }
  }
}
