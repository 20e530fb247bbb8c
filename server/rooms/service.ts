// Rooms: creating and scheduling, who may join, the live sessions (seats, roles, hands, mutes), moderation,
// host succession, and the events other domains and clients follow. Persisted first, published after commit (on
// core.bus; a removed member's tabs get `room.removed` through bus.toConn).
import {
  connKey,
  guestKey,
  memberKey,
  type AccountsApi,
  type AuditFn,
  type ParticipantInfo,
  type ParticipantKey,
  type PushApi,
  type RoomEvents,
  type RoomRole,
  type RoomSummary,
  type RoomsApi,
} from '../contracts'
import type { Core } from '../core'
import type { Tx } from '../db/store'
import { fail, type ErrorCode } from '../errors'
import { Emitter } from '../lib/events'
import type { RateLimiter } from '../lib/ratelimit'
import {
  LIVE_PER_HOST_MAX,
  ROOM_REACTIONS,
  SCHEDULED_PER_HOST_MAX,
  type LeaveReason,
  type Pinned,
  type ReminderLead,
  type RoomSnapshot,
  type ServerEvent,
} from '../protocol'
import { roomTopic, type ConnInfo } from '../realtime/bus'
import { roomView, SCHEDULE_AHEAD_MAX_MS, SCHEDULE_MIN_LEAD_MS, type CreateRoomInput, type RoomRow } from './model'
import {
  canTransition,
  EMPTY_ROOM_MS,
  GRACE_MS,
  GUEST_COUNT_EVERY_MS,
  isModerator,
  onStage,
  RANK,
  RESUME_MS,
  RoomSession,
  type SavedSeat,
  type SavedSession,
  type Seat,
  type Timing,
} from './session'
import type { RoomsStore } from './store'
import { RoomsDirectory, type RoomsLink } from './directory'
import type { HandoverLink } from './handover'
import { RoomAccess } from './access'
import { mayConsent, type Consent } from './recording'
import { Schedule } from './schedule'

/** conn.state key: the room this socket has joined. */
const CONN_ROOM = 'rooms.room'

export interface RoomsDeps {
  core: Core
  accounts: AccountsApi
  push: PushApi
  audit: AuditFn
  /** Called when the hallway may have changed (the hallway feed coalesces and publishes). */
  hallwayChanged: () => void
  timing?: Partial<ServiceTiming>
  /** The rooms store (the dialect's own on core.conn, rooms/index.ts). */
  store: RoomsStore
  /** Several nodes: how their directories of rooms hear of each other's changes (directory.ts roomsLink). */
  link?: RoomsLink | null
  /** Several nodes: how a draining node hands its live rooms to another (handover.ts; null: they end, W25). */
  handover?: HandoverLink | null
}

/** The sessions' timing, and how long seats wait for their owners after a restart. */
type ServiceTiming = Timing & { resumeMs: number }

export class RoomsService implements RoomsApi {
  /** The rooms store (the contract): every write and the routes' reads await it. */
  readonly store: RoomsStore
  /** Every room in memory (directory.ts): RoomsApi's and the access checks' synchronous reads. */
  readonly directory: RoomsDirectory
  readonly timing: ServiceTiming
  readonly access: RoomAccess
  /** Rooms as events: RSVPs, edits, cancelling, calendars, recaps (schedule.ts). */
  readonly schedule: Schedule
  private sessions = new Map<number, RoomSession>()
  /** This node's claim on each of its live rooms in the registry (core.registry): resolved true once it holds it. */
  private claims = new Map<number, Promise<boolean>>()
  /** This node is stopping (SIGTERM with several nodes): it makes no room live (W25). */
  private draining = false
  /** The most people each live room held at once (written to the room when it grows). */
  private peaks = new Map<number, number>()
  /** Emoji reactions per member and room: a burst of 10, then two a second. */
  private reactions: RateLimiter
  private events: Emitter<RoomEvents>
  private core: Core
  private accounts: AccountsApi

  constructor(private deps: RoomsDeps) {
    this.core = deps.core
    this.reactions = deps.core.limiter('reactions', 10, 2)
    this.accounts = deps.accounts
    this.store = deps.store
    this.directory = new RoomsDirectory(this.store)
    this.timing = {
      graceMs: GRACE_MS,
      emptyMs: EMPTY_ROOM_MS,
      resumeMs: RESUME_MS,
      guestCountMs: GUEST_COUNT_EVERY_MS,
      ...deps.timing,
    }
    this.access = new RoomAccess(deps, this.directory, (roomId) => this.sessions.get(roomId)?.seats.values() ?? [])
    this.events = new Emitter('rooms', deps.core.log)
    this.schedule = new Schedule({
      ...deps,
      store: this.store,
      directory: this.directory,
      changed: (roomId) => this.roomChanged(roomId),
      access: this.access,
      emit: (event, e) => this.emit(event, e),
    })
    deps.core.settings.onChange((now, before) => {
      if (before.recording && !now.recording) this.later(this.recordingDisabled(), 'turning recording off')
    })
  }

  /** Loads the directory of rooms and follows the other nodes' changes (the rooms' start, before resuming). */
  async load() {
    await this.directory.load()
    await this.deps.link?.start(
      (roomId) => this.later(this.directory.reload(roomId), 'applying a change from another node'),
      () => this.later(this.directory.load(), 'reloading the directory'),
      (n) => {
        const key = 'guest' in n ? guestKey(n.guest) : memberKey(n.userId)
        this.later(this.leaveSeats(key, n.except, n.reason, n.at), "taking another node's seats away")
      },
    )
  }

  /**
   * After a write of a room commits (at once without `tx`, else when `tx` commits): the directory reloads the room
   * from the store, then the other nodes are told to do the same.
   */
  private async roomChanged(roomId: number, tx?: Tx) {
    const apply = async () => {
      await this.directory.reload(roomId)
      this.deps.link?.publish(roomId)
    }
    if (tx) tx.afterCommit(apply)
    else await apply()
  }

  /** A write this node made that the directory patched itself for (participation, consents): the others reload. */
  private told(roomId: number) {
    this.deps.link?.publish(roomId)
  }

  /** Runs what a timer or an event started, logging a failure (nothing awaits it). */
  private later(p: Promise<unknown>, what: string) {
    p.catch((error: unknown) => this.core.log.error(`rooms: ${what} failed`, { error }))
  }

  // ── RoomsApi ──────────────────────────────────────────────────────────────────────────────────────────
  on<E extends keyof RoomEvents>(event: E, fn: (e: RoomEvents[E]) => void) {
    this.events.on(event, fn)
  }

  room(roomId: number): RoomSummary | null {
    const r = this.directory.room(roomId)
    return r
      ? { id: r.id, title: r.title, state: r.state, kind: r.kind, hostId: r.host_id, startsAt: r.starts_at }
      : null
  }

  participant(roomId: number, key: ParticipantKey): ParticipantInfo | null {
    const s = this.sessions.get(roomId)?.seat(key)
    return s ? info(s) : null
  }

  participants(roomId: number): ParticipantInfo[] {
    return [...(this.sessions.get(roomId)?.seats.values() ?? [])].map(info)
  }

  wasParticipant(roomId: number, userId: number) {
    return this.directory.wasParticipant(roomId, userId)
  }

  wasRemoved(roomId: number, userId: number) {
    return this.directory.isRemoved(roomId, userId)
  }

  mayKnow(roomId: number, userId: number) {
    const r = this.directory.room(roomId)
    return !!r && this.access.mayKnow(r, userId)
  }

  mayJoin(roomId: number, userId: number) {
    const r = this.directory.room(roomId)
    return !!r && this.access.mayKnow(r, userId) && !this.access.joinRefusal(r, userId)
  }

  inviteToSpeak(roomId: number, byUserId: number, userId: number) {
    const { session, seat: by } = this.actor(roomId, byUserId)
    if (!isModerator(by.role)) fail('room_invite_forbidden')
    const target = this.target(session, userId)
    if (onStage(target.role)) fail('on_stage')
    if (target.invited) return
    target.invited = true
    this.changed(session, target)
    // Always pushed: a phone in the background may still hold its socket; the service worker shows nothing
    // when the app is open and in front (the page gets the invitation over the socket).
    const room = this.directory.room(roomId)!
    this.notify(userId, 'speak_invite', {
      title: `${by.user!.displayName} invites you to speak`,
      body: room.title,
      url: `/rooms/${roomId}`,
    })
    this.emit('speakInvite', { roomId, byUserId, userId })
  }

  pin(roomId: number, pinned: Pinned | null) {
    const session = this.sessions.get(roomId)
    if (!session) fail('room_not_live')
    session.pinned = pinned
    this.core.bus.publish(roomTopic(roomId), { type: 'room.pinned', roomId, pinned })
  }

  async removeUserEverywhere(userId: number) {
    // Every node's rooms (W41): the others take the member's seats away when they hear of it, this one at once.
    this.deps.link?.seats({ userId, except: null, reason: 'removed', at: Date.now() })
    await this.leaveSeats(memberKey(userId), null, 'removed')
  }

  setAudioFull(roomId: number, full: boolean) {
    const session = this.sessions.get(roomId)
    if (!session || session.audioFull === full) return
    session.audioFull = full
    this.deps.hallwayChanged()
  }

  scheduledBetween(from: number, to: number): RoomSummary[] {
    return this.directory
      .where((r) => r.state === 'scheduled' && r.starts_at !== null && r.starts_at >= from && r.starts_at < to)
      .sort((a, b) => a.starts_at! - b.starts_at! || a.id - b.id)
      .map((r) => this.room(r.id)!)
  }

  startingBetween(from: number, to: number): RoomSummary[] {
    return this.directory
      .where((r) => r.state !== 'ended' && r.starts_at !== null && r.starts_at >= from && r.starts_at < to)
      .sort((a, b) => a.starts_at! - b.starts_at! || a.id - b.id)
      .map((r) => this.room(r.id)!)
  }

  rsvps(roomId: number) {
    return { yes: this.schedule.attendees(roomId), no: this.schedule.declined(roomId) }
  }

  announceReminder(e: { roomId: number; lead: ReminderLead; userIds: number[] }) {
    this.schedule.announceReminder(e)
  }

  recordedRooms() {
    if (!this.core.settings.get().recording) return []
    return this.directory.where((r) => r.state === 'live' && r.recording === 1).map((r) => r.id)
  }

  recording(roomId: number) {
    const r = this.directory.room(roomId)
    return !!r && r.state === 'live' && r.recording === 1 && this.core.settings.get().recording
  }

  consent(roomId: number, userId: number): Consent | null {
    return this.sessions.get(roomId)?.consents.get(userId) ?? null
  }

  everConsented(roomId: number) {
    return this.directory.everConsented(roomId)
  }

  stageUsers(roomId: number) {
    return this.directory.stageUsers(roomId)
  }

  setRecordingPaused(roomId: number, paused: boolean) {
    const session = this.sessions.get(roomId)
    if (!session || session.recordingPaused === paused) return
    session.recordingPaused = paused
    this.publishRecording(roomId)
  }

  stats() {
    let participants = 0
    for (const s of this.sessions.values()) participants += s.seats.size
    return { liveRooms: this.sessions.size, participants }
  }

  async liveStats() {
    // This node's rooms from its sessions (current), the others' from the cards their holders published.
    let { liveRooms, participants } = this.stats()
    for (const { node, card } of await this.core.registry.hallway()) {
      if (node === this.core.registry.node) continue
      const c = card as { speakerCount: number; listenerCount: number }
      liveRooms++
      participants += c.speakerCount + c.listenerCount
    }
    return { liveRooms, participants }
  }

  // ── Creating, starting, ending ────────────────────────────────────────────────────────────────────────
  async create(creatorId: number, input: CreateRoomInput) {
    const now = Date.now()
    const startsAt = input.startsAt ?? null
    const scheduled = startsAt !== null && startsAt > now + SCHEDULE_MIN_LEAD_MS
    if (startsAt !== null && startsAt > now + SCHEDULE_AHEAD_MAX_MS)
      fail('validation', 'startsAt: at most a year ahead')
    const title = input.title.trim()
    if (!title) fail('validation', 'title: must not be blank')
    const link = input.link ? safeLink(input.link) : null
    const kind = input.kind ?? 'open'
    const named = (names: string[] | undefined, field: string) =>
      [...new Set((names ?? []).map((n) => n.toLowerCase()))]
        .map((n) => {
          const u = this.accounts.byName(n)
          if (u?.status !== 'active') fail('validation', `${field}: no member @${n}`)
          return u.id
        })
        .filter((id) => id !== creatorId)
    if (scheduled && (await this.store.countByHost(creatorId, 'scheduled')) >= SCHEDULED_PER_HOST_MAX)
      fail('room_scheduled_limit')
    if (!scheduled && this.draining) fail('node_draining')
    if (!scheduled && (await this.store.countByHost(creatorId, 'live')) >= LIVE_PER_HOST_MAX) fail('room_live_limit')
    if (input.recording && !this.core.settings.get().recording) fail('recording_disabled')
    const invited = named(input.invited, 'invited')
    const cohosts = named(input.cohosts, 'cohosts')
    const store = this.store
    const id = await store.transaction(async (tx) => {
      const id = await store.insert(
        {
          creatorId,
          title,
          description: (input.description ?? '').trim(),
          link,
          kind,
          startsAt: scheduled ? startsAt : null,
          live: !scheduled,
        },
        tx,
      )
      if (input.recording) await store.setRecording(id, true, tx)
      for (const u of invited) await store.addPerson(id, u, 'invited', tx)
      for (const u of cohosts) await store.addPerson(id, u, 'cohost', tx)
      await this.roomChanged(id, tx)
      return id
    })
    if (!scheduled) this.wentLive(id)
    else this.emit('scheduled', { roomId: id, hostId: creatorId })
    if (invited.length) this.emit('invited', { roomId: id, byUserId: creatorId, userIds: invited })
    this.deps.hallwayChanged()
    return roomView(this.directory.room(id)!)
  }

  /** A host or co-host starts a scheduled room. */
  async start(userId: number, roomId: number, opts: { recording?: boolean } = {}) {
    const room = this.directory.room(roomId)
    if (!room || !this.access.mayKnow(room, userId)) fail('not_found')
    if (!this.access.isHostly(room, userId)) fail('room_start_forbidden')
    if (room.state === 'live') return roomView(room)
    if (!canTransition(room.state, 'live')) fail('room_ended')
    if (this.draining) fail('node_draining')
    if (opts.recording && !this.core.settings.get().recording) fail('recording_disabled')
    const store = this.store
    const won = await store.transaction(async (tx) => {
      // Two starts at once (a double click, two co-hosts): one wins, the other finds the room live.
      if (!(await store.start(roomId, tx))) return false
      if (opts.recording !== undefined) await store.setRecording(roomId, opts.recording, tx)
      await this.roomChanged(roomId, tx)
      return true
    })
    if (!won) {
      await this.roomChanged(roomId)
      const now = this.directory.room(roomId)!
      if (now.state === 'live') return roomView(now)
      fail('room_ended')
    }
    this.wentLive(roomId)
    this.deps.hallwayChanged()
    return roomView(this.directory.room(roomId)!)
  }

  private wentLive(roomId: number) {
    const session = new RoomSession(roomId, this.timing)
    this.sessions.set(roomId, session)
    this.hold(roomId)
    session.armEmpty(() => this.later(this.end(roomId, null), 'ending an empty room'))
    const room = this.directory.room(roomId)!
    const host = this.accounts.byId(room.creator_id)!
    for (const f of this.accounts.followers(host.id)) {
      if (f.status !== 'active' || this.access.joinRefusal(room, f.id)) continue
      const title = `${host.displayName} started a room`
      this.notify(f.id, 'room_started', { title, body: room.title, url: `/rooms/${roomId}` })
    }
    this.emit('started', { roomId, hostId: host.id })
  }

  /** Ends a live room (or cancels a scheduled one): everyone leaves, history is closed, `ended` is emitted. */
  async end(roomId: number, byUserId: number | null) {
    const room = this.directory.room(roomId)
    if (!room || room.state === 'ended') return
    const session = this.sessions.get(roomId)
    session?.close()
    this.sessions.delete(roomId)
    this.peaks.delete(roomId)
    if (session) this.letGo(roomId)
    // Ended once: a second call meanwhile (a timer, a request, another node) finds it ended and says nothing.
    const won = await this.store.end(roomId)
    await this.roomChanged(roomId)
    if (!won && !session) return
    if (session) {
      this.core.bus.publish(roomTopic(roomId), { type: 'room.ended', roomId })
      for (const seat of session.seats.values()) {
        this.detach(roomId, seat)
        this.emit('left', { roomId, key: seat.key, userId: seat.userId })
      }
    }
    this.emit('ended', { roomId })
    if (byUserId !== null)
      this.deps.audit({ actorId: byUserId, action: 'room.end', targetType: 'room', targetId: roomId })
    this.deps.hallwayChanged()
  }

  // ── Which node holds a room (core.registry) ─────────────────────────────────────────────────────────────
  /** The room lives on this node: it claims it in the registry (renewed on the heartbeat while held). */
  private hold(roomId: number) {
    const claim = this.core.registry.claim(roomId).catch((error) => {
      this.core.log.error('rooms: claiming a room failed', { roomId, error })
      return false
    })
    this.claims.set(roomId, claim)
  }

  /** The room ended here: its lease and its hallway card go. */
  private letGo(roomId: number) {
    const claim = this.claims.get(roomId)
    this.claims.delete(roomId)
    void (claim ?? Promise.resolve(false))
      .then(() => this.core.registry.release(roomId))
      .catch((error) => this.core.log.error('rooms: releasing a room failed', { roomId, error }))
  }

  /** Resolves once this node's claim on a room it made live is settled: true when this node holds it. */
  held(roomId: number): Promise<boolean> {
    return this.claims.get(roomId) ?? Promise.resolve(false)
  }

  /**
   * With several nodes: the live rooms this node may resume (those no live node holds: it claims them); the others
   * live on the node that holds them.
   */
  async claimLive(): Promise<Set<number>> {
    const mine = new Set<number>()
    for (const room of await this.store.live()) if (await this.core.registry.claim(room.id)) mine.add(room.id)
    return mine
  }

  /**
   * The node is stopping (W25): it makes no room live from now on and takes no room from another node; each of its
   * live rooms is handed over to another node (W45), else told it ends in `ms` (the node ends it then: endAll).
   */
  async drain(ms: number) {
    this.draining = true
    const { handover } = this.deps
    if (handover) {
      await handover.stop()
      const live = [...this.sessions].filter(([, s]) => s.state === 'live').map(([id]) => id)
      await Promise.all(live.map((id) => this.moveOut(handover, id)))
    }
    const endsAt = Date.now() + ms
    for (const [roomId, session] of this.sessions)
      if (session.state === 'live') this.core.bus.publish(roomTopic(roomId), { type: 'room.closing', roomId, endsAt })
  }

  /**
   * W45: a live room leaves this node without ending. Saved as a graceful stop saves it, dropped from memory, its lease
   * let go, then offered to the other nodes: one claims and resumes it, and its members are told (`room.moving`) to
   * join it again there. Nobody took it in time: this node takes it back, unless another node holds it by now (it took
   * it late), so the room is never both moved and ended, nor held twice.
   */
  private async moveOut(handover: HandoverLink, roomId: number) {
    const session = this.sessions.get(roomId)!
    const state = session.saved()
    // From here a request for the room finds no session here (room_not_live) until its new holder has it.
    this.sessions.delete(roomId)
    session.close()
    this.emit('moved', { roomId, here: false })
    let by: string | null = null
    try {
      await this.store.saveResume([{ roomId, state }])
      await this.held(roomId)
      this.claims.delete(roomId)
      await this.core.registry.release(roomId)
      by = await handover.offer(roomId)
    } catch (error) {
      this.core.log.error('rooms: handing a room over failed', { roomId, error })
    }
    if (by === null && (await this.core.registry.claim(roomId).catch(() => false))) {
      this.core.log.warn('rooms: no node took the room over; it ends here', { roomId })
      await this.resume(new Set([roomId]))
      if (this.sessions.has(roomId)) this.emit('moved', { roomId, here: true })
      return
    }
    this.core.log.info('rooms: room handed over', { roomId, to: by ?? 'another node (late)' })
    this.core.bus.publish(roomTopic(roomId), { type: 'room.moving', roomId })
  }

  /** W45: a draining node offers a live room (its lease let go): this node claims it and resumes it at once. */
  async takeOver(roomId: number): Promise<boolean> {
    if (this.draining || this.sessions.has(roomId) || !(await this.core.registry.claim(roomId))) return false
    const resumed = this.resume(new Set([roomId]))
    this.adopting.set(roomId, resumed)
    try {
      await resumed
    } finally {
      this.adopting.delete(roomId)
    }
    if (!this.sessions.has(roomId)) {
      // It ended meanwhile: nothing to hold.
      await this.core.registry.release(roomId)
      return false
    }
    this.core.log.info('rooms: took over a room from a draining node', { roomId })
    this.emit('moved', { roomId, here: true })
    return true
  }

  /** Ends every live room this node holds (the end of a drain). */
  async endAll() {
    for (const roomId of [...this.sessions.keys()]) await this.end(roomId, null)
  }

  /** Live rooms no node held at the last look for orphans (adopted if still unheld at the next). */
  private orphans = new Set<number>()
  /** Rooms this node claimed as orphans and is resuming: their sessions are ready when the promise settles. */
  private adopting = new Map<number, Promise<unknown>>()

  /**
   * Several nodes: a live room whose node died (its lease expired, nobody holds it) is adopted by the first node to
   * claim it, as a start resumes it (R14): its seats wait, away, for their members to rejoin, who reach it through
   * their own node. A room must be found unheld at two looks in a row: one just made live elsewhere is not taken
   * between its insert and its holder's claim.
   */
  async adoptOrphans() {
    if (this.draining) return
    const unheld = new Set<number>()
    for (const room of await this.store.live())
      if (!this.sessions.has(room.id) && (await this.core.registry.holder(room.id)) === null) unheld.add(room.id)
    const mine = new Set<number>()
    for (const id of unheld)
      if (this.orphans.has(id) && !this.sessions.has(id) && (await this.core.registry.claim(id))) mine.add(id)
    this.orphans = new Set([...unheld].filter((id) => !mine.has(id)))
    if (!mine.size) return
    this.core.log.info('rooms: adopted the live rooms of a node that stopped', { rooms: [...mine] })
    // Held from the claim on, ready once resumed: a join that comes between waits for it (W26).
    const resumed = this.resume(mine)
    for (const id of mine) this.adopting.set(id, resumed)
    try {
      await resumed
    } finally {
      for (const id of mine) this.adopting.delete(id)
    }
    for (const id of mine) if (this.sessions.has(id)) this.emit('moved', { roomId: id, here: true })
  }

  /** Publishes the hallway card of each live room this node holds (for every node's hallway). */
  async publishCards(card: (session: RoomSession) => unknown) {
    for (const [roomId, session] of this.sessions) {
      if (session.state !== 'live' || !(await this.held(roomId))) continue
      await this.core.registry.setCard(roomId, card(session))
    }
  }

  // ── Joining, leaving, the grace period ────────────────────────────────────────────────────────────────
  async join(conn: ConnInfo, roomId: number): Promise<RoomSnapshot> {
    const room = this.directory.room(roomId)
    if (!room) fail('not_found')
    await this.adopting.get(roomId)?.catch(() => {})
    const session = this.sessions.get(roomId)
    if (!session) fail(room.state === 'ended' ? 'room_ended' : 'room_not_live')
    const userId = conn.userId
    const key = connKey(conn)
    let seat = session.seat(key)
    if (seat) {
      const wasAway = seat.state === 'away'
      session.back(seat, conn)
      if (wasAway) this.changed(session, seat)
    } else {
      const refusal = this.access.joinRefusal(room, userId)
      if (refusal) fail(refusal)
      // Made on another node a moment ago, the member may not be in this node's directory yet (W44): read it.
      const user = userId === null ? null : await this.accounts.loadPublicUser(userId)
      if (userId !== null && !user) fail('not_found')
      await this.leaveOtherRooms(conn, roomId)
      const previous = conn.state.get(CONN_ROOM) as number | undefined
      if (previous !== undefined && previous !== roomId) await this.leaveConn(conn, previous)
      // Left meanwhile (the awaits above): the room may have ended, or the socket taken its seat back.
      if (this.sessions.get(roomId) !== session) fail('room_ended')
      if (session.seat(key)) return this.join(conn, roomId)
      // A host or co-host joins as host when no host is seated (R22); so does whoever held the room last while it
      // waits for a host (R72).
      const hostly =
        userId !== null &&
        (this.access.isHostly(room, userId) || (session.hostlessUntil !== null && session.lastHostId === userId))
      const role: RoomRole = !hostly ? 'audience' : session.host() ? 'moderator' : 'host'
      seat = session.add({ key, userId, user, role, muted: true, conns: new Set([conn]) })
      const peak = session.seats.size > (this.peaks.get(roomId) ?? 0) ? session.seats.size : null
      if (peak !== null) this.peaks.set(roomId, peak)
      if (userId !== null) {
        const store = this.store
        const newHost = role === 'host' && room.host_id !== userId
        await store.transaction(async (tx) => {
          await store.openStint(roomId, userId, role, tx)
          if (newHost) await store.setHost(roomId, userId, tx)
          if (peak !== null) await store.peak(roomId, peak, tx)
        })
        // Ended while the stretch was written: its end took the seat with the others.
        if (this.sessions.get(roomId) !== session) fail('room_ended')
        // The directory adds the stretch itself (the peak is the routes', read from the store); a new host reloads.
        this.directory.participated(roomId, userId, onStage(role))
        if (newHost) await this.roomChanged(roomId)
        else this.told(roomId)
        this.core.bus.publish(roomTopic(roomId), { type: 'room.joined', roomId, participant: session.view(seat) })
      } else {
        if (peak !== null) await this.store.peak(roomId, peak)
        if (this.sessions.get(roomId) !== session) fail('room_ended')
        this.publishGuests(session)
      }
      this.emit('role', { roomId, key, userId, role })
      if (role === 'host') this.hostBack(session)
      this.deps.hallwayChanged()
    }
    conn.state.set(CONN_ROOM, roomId)
    this.core.bus.subscribe(conn.id, roomTopic(roomId))
    return this.snapshot(session, room, seat)
  }

  snapshot(session: RoomSession, room: RoomRow, seat: Seat): RoomSnapshot {
    return {
      room: roomView(this.directory.room(room.id)!),
      participants: session.members().map((s) => session.view(s)),
      guests: session.guests(),
      pinned: session.pinned,
      me: { key: seat.key, role: seat.role, muted: seat.muted, hand: seat.hand, invited: seat.invited },
      ...(session.hostlessUntil !== null ? { hostlessUntil: session.hostlessUntil } : {}),
      recordingPaused: session.recordingPaused,
    }
  }

  /** Leave quietly (all of this member's tabs leave the room). */
  async leaveRequest(conn: ConnInfo, roomId: number) {
    const held = this.seatOf(conn, roomId)
    if (!held) fail('not_in_room')
    await this.leave(held.session, held.seat, 'left')
    return {}
  }

  private async leaveConn(conn: ConnInfo, roomId: number) {
    const held = this.seatOf(conn, roomId)
    if (held) await this.leave(held.session, held.seat, 'left')
    else {
      conn.state.delete(CONN_ROOM)
      this.core.bus.unsubscribe(conn.id, roomTopic(roomId))
    }
  }

  /** The live session and the seat of whoever holds this socket, if they are in the room. */
  private seatOf(conn: ConnInfo, roomId: number) {
    const session = this.sessions.get(roomId)
    const seat = session?.seat(connKey(conn))
    return session && seat ? { session, seat } : null
  }

  /**
   * One member, one room (W43), one guest's socket, one room (W48): joining a room leaves the seats in the others, on
   * this node and every other. A guest's seat on this node goes by its socket's room (CONN_ROOM, in `join`).
   */
  private async leaveOtherRooms(conn: ConnInfo, except: number) {
    const at = Date.now()
    const userId = conn.userId
    this.deps.link?.seats({ ...(userId === null ? { guest: conn.id } : { userId }), except, reason: 'left', at })
    if (userId !== null) await this.leaveSeats(memberKey(userId), except, 'left')
  }

  /** The seat `key` in this node's rooms but `except` goes (if taken before `before`, when another node said). */
  private async leaveSeats(key: ParticipantKey, except: number | null, reason: LeaveReason, before = Infinity) {
    for (const s of [...this.sessions.values()]) {
      const seat = s.roomId !== except ? s.seat(key) : null
      if (seat && seat.seatedAt <= before) await this.leave(s, seat, reason)
    }
  }

  /** A seat is gone for good: history closed, succession if it held the room, the room ends when nobody is left. */
  private async leave(session: RoomSession, seat: Seat, reason: LeaveReason) {
    const roomId = session.roomId
    session.drop(seat)
    const wasHost = seat.role === 'host'
    const next = wasHost ? session.successor() : null
    // The successor takes the seat at once (a request meanwhile sees the room's new host); told after the commit.
    if (next) session.setRole(next, 'host')
    if (seat.userId !== null) {
      const store = this.store
      await store.transaction(async (tx) => {
        await store.closeStint(roomId, seat.userId!, reason, tx)
        if (next) {
          await store.changeRole(roomId, next.userId!, 'host', tx)
          await store.setHost(roomId, next.userId!, tx)
        }
      })
      if (next) {
        this.directory.participated(roomId, next.userId!, true)
        await this.roomChanged(roomId)
      }
    }
    this.detach(roomId, seat)
    if (seat.userId !== null)
      this.core.bus.publish(roomTopic(roomId), {
        type: 'room.left',
        roomId,
        key: seat.key,
        userId: seat.userId,
        reason,
      })
    else this.publishGuests(session)
    this.emit('left', { roomId, key: seat.key, userId: seat.userId })
    if (next) {
      this.changed(session, next)
      this.emit('role', { roomId, key: next.key, userId: next.userId, role: 'host' })
    }
    // The room ended while the write was awaited: nothing of it is left to arm.
    if (this.sessions.get(roomId) !== session) return
    if (wasHost && seat.userId !== null) session.lastHostId = seat.userId
    const stageLeft = [...session.seats.values()].some((s) => s.userId !== null && onStage(s.role))
    if ((wasHost && !next) || (session.hadHost && !stageLeft)) {
      // Nobody on stage to take over (R72): with nobody left the room ends; with people listening it waits for a
      // host, and they are told when it will end.
      if (session.seats.size === 0) await this.end(roomId, null)
      else if (session.hostlessUntil === null) {
        // Only a host brings people on stage: invitations made before lapse.
        for (const s of session.seats.values())
          if (s.invited) {
            s.invited = false
            this.changed(session, s)
          }
        const endsAt = session.armHostless(() => this.later(this.end(roomId, null), 'ending a hostless room'))
        this.core.bus.publish(roomTopic(roomId), { type: 'room.hostless', roomId, endsAt })
      }
    } else if (session.members().length === 0)
      session.armEmpty(() => this.later(this.end(roomId, null), 'ending an empty room'))
    this.deps.hallwayChanged()
  }

  /** A host is seated again while the room waited for one (R72): it goes on, and the room is told. */
  private hostBack(session: RoomSession) {
    if (session.disarmHostless())
      this.core.bus.publish(roomTopic(session.roomId), { type: 'room.hostless', roomId: session.roomId, endsAt: null })
  }

  /** Unsubscribes a seat's sockets from the room. */
  private detach(roomId: number, seat: Seat) {
    for (const c of seat.conns) {
      if (c.state.get(CONN_ROOM) === roomId) c.state.delete(CONN_ROOM)
      this.core.bus.unsubscribe(c.id, roomTopic(roomId))
    }
    seat.conns.clear()
  }

  /** A socket closed (core.sockets.onClose): once a seat's last socket is gone, it stays for the grace period. */
  connClosed(conn: ConnInfo) {
    const roomId = conn.state.get(CONN_ROOM) as number | undefined
    const held = roomId === undefined ? null : this.seatOf(conn, roomId)
    if (!held) return
    const { session, seat } = held
    seat.conns.delete(conn)
    if (seat.conns.size > 0) return
    if (seat.userId === null) return this.later(this.leave(session, seat, 'left'), 'a guest leaving')
    session.away(seat, () => {
      if (session.seat(seat.key) === seat) this.later(this.leave(session, seat, 'timeout'), 'a seat timing out')
    })
    this.changed(session, seat)
  }

  // ── Actions in a room ─────────────────────────────────────────────────────────────────────────────────
  /** The live session and the acting member's seat. */
  actor(roomId: number, userId: number) {
    const session = this.sessions.get(roomId)
    if (!session) {
      const room = this.directory.room(roomId)
      fail(!room ? 'not_found' : room.state === 'ended' ? 'room_ended' : 'room_not_live')
    }
    const seat = session.seat(memberKey(userId))
    if (!seat) fail('not_in_room')
    return { session, seat }
  }

  private target(session: RoomSession, userId: number) {
    const seat = session.seat(memberKey(userId))
    if (!seat) fail('room_target_absent')
    return seat
  }

  /**
   * A moderator acting on someone of lower rank (a moderator on speakers and audience, the host on moderators too);
   * `refused` is the error for someone who is not a moderator.
   */
  private over(by: Seat, target: Seat, refused: ErrorCode) {
    if (!isModerator(by.role)) fail(refused)
    if (target === by) fail('self_target')
    if (RANK[by.role] <= RANK[target.role]) fail('room_outranked', `Only someone above a ${target.role} may do that.`)
  }

  hand(userId: number, roomId: number, up: boolean) {
    const { session, seat } = this.actor(roomId, userId)
    if (up && onStage(seat.role)) fail('on_stage')
    session.raiseHand(seat, up)
    this.changed(session, seat)
  }

  async respond(userId: number, roomId: number, accept: boolean, muted = false) {
    const { session, seat } = this.actor(roomId, userId)
    if (!seat.invited) fail('no_invitation')
    if (!accept) {
      seat.invited = false
      return this.changed(session, seat)
    }
    await this.setRole(session, seat, 'speaker', !muted)
  }

  /** The host hands the room to someone on stage: they become host, the old host stays on as a moderator. */
  async handOver(userId: number, roomId: number, targetId: number) {
    const { session, seat: by } = this.actor(roomId, userId)
    if (by.role !== 'host') fail('room_handover_forbidden')
    const target = this.target(session, targetId)
    if (target === by) fail('self_target')
    if (!onStage(target.role) || target.userId === null) fail('room_handover_target')
    const store = this.store
    await store.transaction(async (tx) => {
      await store.changeRole(roomId, targetId, 'host', tx)
      await store.changeRole(roomId, userId, 'moderator', tx)
      await store.setHost(roomId, targetId, tx)
      await this.roomChanged(roomId, tx)
    })
    for (const [seat, role] of [
      [target, 'host'],
      [by, 'moderator'],
    ] as const) {
      session.setRole(seat, role)
      this.changed(session, seat)
      this.emit('role', { roomId, key: seat.key, userId: seat.userId, role })
    }
    this.audit(userId, 'room.handover', targetId, roomId)
    this.deps.hallwayChanged()
  }

  /** An emoji reaction for everyone in the room; a member may send a burst of 10, then about two a second. */
  react(userId: number, roomId: number, emoji: string) {
    const { seat } = this.actor(roomId, userId)
    if (!(ROOM_REACTIONS as readonly string[]).includes(emoji))
      fail('room_reaction_unknown', `React with one of ${ROOM_REACTIONS.join(' ')}.`)
    const wait = this.reactions.take(`${roomId}:${userId}`)
    if (wait) fail('room_reaction_rate', undefined, wait)
    this.core.bus.publish(roomTopic(roomId), { type: 'room.reaction', roomId, key: seat.key, emoji })
  }

  async move(userId: number, roomId: number, targetId: number) {
    const { session, seat: by } = this.actor(roomId, userId)
    const target = this.target(session, targetId)
    if (target === by) {
      if (by.role === 'host') fail('room_host_on_stage')
    } else this.over(by, target, 'room_move_forbidden')
    if (!onStage(target.role)) fail('not_on_stage')
    await this.setRole(session, target, 'audience')
    if (target !== by) this.audit(userId, 'room.move', targetId, roomId)
  }

  mute(userId: number, roomId: number, muted: boolean, targetId = userId) {
    const { session, seat: by } = this.actor(roomId, userId)
    const target = this.target(session, targetId)
    if (target !== by) {
      this.over(by, target, 'room_mute_forbidden')
      if (!muted) fail('room_unmute_other')
    }
    if (!onStage(target.role)) fail('not_on_stage')
    if (target.muted === muted) return
    target.muted = muted
    this.changed(session, target)
    this.emit('muted', { roomId, key: target.key, muted })
    if (target !== by) this.audit(userId, 'room.mute', targetId, roomId)
  }

  async setModerator(userId: number, roomId: number, targetId: number, on: boolean) {
    const { session, seat: by } = this.actor(roomId, userId)
    const target = this.target(session, targetId)
    if (on) {
      if (!isModerator(by.role)) fail('room_mod_forbidden')
      if (isModerator(target.role)) return
    } else {
      this.over(by, target, 'room_unmod_forbidden')
      if (target.role !== 'moderator') fail('room_not_moderator')
    }
    await this.setRole(session, target, on ? 'moderator' : 'speaker')
    this.audit(userId, on ? 'room.mod' : 'room.unmod', targetId, roomId)
  }

  async remove(userId: number, roomId: number, targetId: number) {
    const { session, seat: by } = this.actor(roomId, userId)
    const target = this.target(session, targetId)
    this.over(by, target, 'room_remove_forbidden')
    await this.store.markRemoved(roomId, targetId, userId)
    await this.roomChanged(roomId)
    const removed: ServerEvent = { type: 'room.removed', roomId }
    for (const c of target.conns) this.core.bus.toConn(c.id, removed)
    // Left meanwhile (its last socket, another moderator): the removal stands, the seat is already gone.
    if (session.seat(target.key) === target) await this.leave(session, target, 'removed')
    this.audit(userId, 'room.remove', targetId, roomId)
  }

  // ── Recording (RP) ────────────────────────────────────────────────────────────────────────────────────
  /** The host turns the room's recording on or off while it is live (RP5). */
  async setRecording(userId: number, roomId: number, on: boolean) {
    const { seat } = this.actor(roomId, userId)
    if (seat.role !== 'host') fail('room_recording_forbidden')
    if (on && !this.core.settings.get().recording) fail('recording_disabled')
    if ((this.directory.room(roomId)!.recording === 1) === on) return
    await this.store.setRecording(roomId, on)
    await this.roomChanged(roomId)
    this.publishRecording(roomId)
    this.emit('recording', { roomId, on })
    this.deps.audit({
      actorId: userId,
      action: on ? 'room.recording.on' : 'room.recording.off',
      targetType: 'room',
      targetId: roomId,
    })
    this.deps.hallwayChanged()
  }

  /** A speaker answers "Include your voice in the replay?" (RP8–RP11): kept with its time, told to the room. */
  async setConsent(userId: number, roomId: number, consent: boolean) {
    const { session, seat } = this.actor(roomId, userId)
    mayConsent(this.core, this.directory.room(roomId)!.recording === 1, seat)
    const at = Date.now()
    await this.store.addConsent(roomId, userId, consent, at)
    this.directory.consentAdded(roomId, userId, consent)
    this.told(roomId)
    session.consents.set(userId, { consent, at })
    this.changed(session, seat)
    this.emit('consent', { roomId, userId, consent, at })
  }

  /** The admin turned recording off (RP3): every recorded room stops, the live ones are told. */
  private async recordingDisabled() {
    const ids = await this.store.recordingOffEverywhere()
    for (const roomId of ids) await this.roomChanged(roomId)
    for (const roomId of ids) {
      if (!this.sessions.has(roomId)) continue
      this.publishRecording(roomId)
      this.emit('recording', { roomId, on: false })
    }
    if (ids.length) this.deps.hallwayChanged()
  }

  private publishRecording(roomId: number) {
    const session = this.sessions.get(roomId)
    const room = this.directory.room(roomId)
    if (!session || !room) return
    this.core.bus.publish(roomTopic(roomId), {
      type: 'room.recording',
      roomId,
      recording: room.recording === 1,
      paused: session.recordingPaused,
    })
  }

  async endRequest(userId: number, roomId: number) {
    const { seat } = this.actor(roomId, userId)
    if (!isModerator(seat.role)) fail('room_end_forbidden')
    await this.end(roomId, userId)
  }

  private async setRole(session: RoomSession, seat: Seat, role: RoomRole, live = true) {
    const wasMuted = seat.muted
    await this.store.changeRole(session.roomId, seat.userId!, role)
    this.directory.participated(session.roomId, seat.userId!, onStage(role))
    this.told(session.roomId)
    const fromAudience = !onStage(seat.role)
    session.setRole(seat, role)
    // Coming up from the audience by accepting an invitation: the mic is live; made moderator from the audience: muted.
    if (fromAudience && role === 'speaker') seat.muted = !live
    this.changed(session, seat)
    this.emit('role', { roomId: session.roomId, key: seat.key, userId: seat.userId, role })
    if (seat.muted !== wasMuted) this.emit('muted', { roomId: session.roomId, key: seat.key, muted: seat.muted })
    this.deps.hallwayChanged()
  }

  // ── Events ────────────────────────────────────────────────────────────────────────────────────────────
  private changed(session: RoomSession, seat: Seat) {
    if (seat.userId !== null)
      this.core.bus.publish(roomTopic(session.roomId), {
        type: 'room.participant',
        roomId: session.roomId,
        participant: session.view(seat),
      })
  }

  /** The guest count, coalesced (M50): at most one `room.guests` per interval, serialised once for the topic. */
  private publishGuests(session: RoomSession) {
    const roomId = session.roomId
    session.guestsChanged((count) => this.core.bus.publish(roomTopic(roomId), { type: 'room.guests', roomId, count }))
  }

  private emit<E extends keyof RoomEvents>(event: E, e: RoomEvents[E]) {
    this.events.emit(event, e)
  }

  private notify(
    userId: number,
    kind: 'room_started' | 'speak_invite',
    message: { title: string; body: string; url: string },
  ) {
    this.deps.push
      .notify(userId, kind, { ...message, tag: `${kind}:${message.url}` })
      .catch((error) => this.core.log.error('rooms: push failed', { userId, kind, error }))
  }

  private audit(actorId: number, action: string, targetId: number, roomId: number) {
    this.deps.audit({ actorId, action, targetType: 'user', targetId, details: { roomId } })
  }

  // ── Reading ───────────────────────────────────────────────────────────────────────────────────────────
  session(roomId: number) {
    return this.sessions.get(roomId) ?? null
  }

  /** Who was in a room, stretch by stretch (its page once it ended); everyone is shown as a member there. */
  async history(roomId: number) {
    const rows = await this.store.history(roomId)
    const users = this.accounts.publicUsers(new Set(rows.map((h) => h.user_id)))
    return rows.flatMap((h) => {
      const user = users.get(h.user_id)
      if (!user) return []
      const stint = { role: h.role, from: h.from_at, to: h.to_at, reason: h.end_reason }
      return [{ user: { ...user, role: 'member' as const }, ...stint }]
    })
  }
  timers() {
    let n = 0
    for (const s of this.sessions.values()) n += s.timers()
    return n
  }

  /** Releases every timer (server stop). Rooms left live are resumed at the next start. */
  close() {
    for (const s of this.sessions.values()) s.close()
  }

  // ── Restarts ──────────────────────────────────────────────────────────────────────────────────────────
  /** A graceful stop: saves every live room's seats, roles, mutes, hands and pin for the next start. */
  async suspend() {
    const live = [...this.sessions.values()].filter((s) => s.state === 'live')
    await this.store.saveResume(live.map((s) => ({ roomId: s.roomId, state: s.saved() })))
  }

  /**
   * Start: every room the database says is live gets its session back. Its members' seats come from what a graceful
   * stop saved (else, after a crash, from the open participation stretches: roles only), all away, kept for
   * `resumeMs` for their owners to rejoin (room.join finds the seat: same role, same hand); a seat nobody takes back
   * leaves as a timeout, and the room ends as it would then. Writes nothing but the read-once saved rows, so a second
   * process that fails to start changes nothing of a running server's rooms.
   */
  async resume(only?: ReadonlySet<number>) {
    for (const room of await this.store.live()) {
      if (this.sessions.has(room.id) || (only && !only.has(room.id))) continue
      const saved = await this.store.takeResume(room.id)
      const consents = await this.store.latestConsents(room.id)
      // Another node's row may have changed since this node loaded it (it held the room until it died).
      await this.directory.reload(room.id)
      if (this.sessions.has(room.id)) continue
      const seats: SavedSeat[] = isSavedSession(saved)
        ? saved.seats
        : (await this.store.openStints(room.id)).map((st) => ({
            userId: st.user_id,
            role: st.role,
            muted: true,
            hand: null,
            invited: false,
            since: st.from_at,
          }))
      const session = new RoomSession(room.id, this.timing)
      this.sessions.set(room.id, session)
      this.hold(room.id)
      if (isSavedSession(saved)) session.pinned = saved.pinned
      for (const c of consents) session.consents.set(c.user_id, { consent: c.consent === 1, at: c.at })
      for (const sv of seats) {
        const user = this.accounts.byId(sv.userId)
        if (user?.status !== 'active' || session.seat(memberKey(sv.userId))) continue
        const seat = session.add({
          key: memberKey(sv.userId),
          userId: sv.userId,
          user: this.accounts.publicUser(sv.userId)!,
          role: sv.role,
          muted: onStage(sv.role) ? sv.muted : true,
          conns: new Set(),
        })
        session.restore(seat, sv)
        session.away(
          seat,
          () => {
            if (session.seat(seat.key) === seat) this.later(this.leave(session, seat, 'timeout'), 'a seat timing out')
          },
          this.timing.resumeMs,
        )
      }
      if (session.members().length === 0)
        session.armEmpty(() => this.later(this.end(room.id, null), 'ending an empty room'))
      else if (!session.members().some((m) => onStage(m.role))) {
        // Stopped while it waited for a host (R72): it waits again, for the host it had last.
        session.hadHost = true
        session.lastHostId = room.host_id
        session.armHostless(() => this.later(this.end(room.id, null), 'ending a hostless room'))
      }
    }
    await this.store.dropStaleResume()
    this.deps.hallwayChanged()
  }
}

const ROLES = new Set(['host', 'moderator', 'speaker', 'audience'])
/** A saved row as the graceful stop wrote it (anything else is ignored: the room resumes from its stretches). */
function isSavedSession(v: unknown): v is SavedSession {
  const s = v as SavedSession | null
  return (
    !!s &&
    Array.isArray(s.seats) &&
    s.seats.every(
      (x) =>
        Number.isInteger(x?.userId) &&
        ROLES.has(x.role) &&
        typeof x.muted === 'boolean' &&
        (x.hand === null || Number.isInteger(x.hand)) &&
        typeof x.invited === 'boolean' &&
        Number.isFinite(x.since),
    )
  )
}

const info = (s: Seat): ParticipantInfo => ({ key: s.key, userId: s.userId, role: s.role, muted: s.muted })

/** Only http(s) links are kept, normalised by the URL parser. */
function safeLink(raw: string): string {
  let u: URL
  try {
    u = new URL(raw.trim())
  } catch {
    fail('validation', 'link: not a valid URL')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail('validation', 'link: only http and https links')
  return u.href
}
