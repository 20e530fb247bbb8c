// Rooms as events: RSVPs ("Remind me" / "Not going") with who is coming, the host's edits and cancellation of a
// scheduled room (those who said yes are told: push, a live event, RoomsApi's eventChanged/eventCancelled), the
// members' private calendar feeds, an ended room's recap, and the reminders' announcement (eventReminder).
import type { AccountsApi, AuditFn, PushApi, RoomEvents } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { newToken } from '../lib/crypto'
import type { EventChange, PublicUser, ReminderLead, Rsvp, RsvpView } from '../protocol'
import type { RoomAccess } from './access'
import { roomView, SCHEDULE_AHEAD_MAX_MS, SCHEDULE_MIN_LEAD_MS, type EditRoomInput, type RoomRow } from './model'
import type { RoomsDirectory } from './directory'
import type { RoomsStore } from './store'

/** People shown as "who is coming" on a card or an event page. */
const RSVP_FACES = 8
/** How far back a calendar feed lists its events. */
const FEED_PAST_MS = 30 * 86_400_000
const STAGE_ROLES = new Set(['host', 'moderator', 'speaker'])

export interface ScheduleDeps {
  core: Core
  accounts: AccountsApi
  push: PushApi
  audit: AuditFn
  /** The rooms store: the routes' paths here await it. */
  store: RoomsStore
  /** Every room in memory: the synchronous reads (the hallway's cards, RoomsApi.rsvps). */
  directory: RoomsDirectory
  /** A room's write committed: the directory reloads it and the other nodes are told. */
  changed: (roomId: number) => Promise<void>
  access: RoomAccess
  emit: <E extends keyof RoomEvents>(event: E, e: RoomEvents[E]) => void
  hallwayChanged: () => void
}

export class Schedule {
  constructor(private d: ScheduleDeps) {}

  /** The one check for editing and cancelling: the member who created the room (its host). */
  private async manage(roomId: number, userId: number, refused: 'room_edit_forbidden' | 'room_cancel_forbidden') {
    const room = await this.d.store.byId(roomId)
    if (!room || !this.d.access.mayKnow(room, userId)) fail('not_found')
    if (!this.mayManage(room, userId)) fail(refused)
    return room
  }

  mayManage(room: RoomRow, userId: number | null) {
    return userId !== null && room.creator_id === userId
  }

  /** The host (the creator first), then the co-hosts. */
  hosts(room: RoomRow): PublicUser[] {
    const ids = [room.creator_id, room.host_id, ...this.cohostIds(room.id)]
    const users = this.d.accounts.publicUsers(new Set(ids))
    return [...new Set(ids)].flatMap((id) => users.get(id) ?? [])
  }

  cohostIds(roomId: number) {
    return this.d.directory
      .people(roomId)
      .filter((p) => p.kind === 'cohost')
      .map((p) => p.user_id)
  }

  /** Who said yes (their ids, in the order they answered). */
  attendees(roomId: number) {
    return this.d.directory
      .rsvps(roomId)
      .filter((r) => r.going === 1)
      .map((r) => r.user_id)
  }

  declined(roomId: number) {
    return this.d.directory
      .rsvps(roomId)
      .filter((r) => r.going === 0)
      .map((r) => r.user_id)
  }

  rsvpView(room: RoomRow, viewerId: number | null, following?: Set<number>): RsvpView {
    const yes = this.attendees(room.id)
    const mineRaw = viewerId === null ? null : this.d.directory.rsvpOf(room.id, viewerId)
    const mine: Rsvp | null = mineRaw === null ? null : mineRaw ? 'yes' : 'no'
    if (viewerId === null) return { going: yes.length, people: [], mine }
    const follows = following ?? this.d.accounts.followingIds(viewerId)
    const ordered = [...yes].sort((a, b) => Number(follows.has(b)) - Number(follows.has(a)))
    const shown = ordered.slice(0, RSVP_FACES)
    const users = this.d.accounts.publicUsers(new Set(shown))
    return { going: yes.length, people: shown.flatMap((id) => users.get(id) ?? []), mine }
  }

  /** "Remind me" (yes), "Not going" (no) or no answer (null), by a member who may join the scheduled room. */
  async rsvp(userId: number, roomId: number, answer: Rsvp | null) {
    const room = await this.d.store.byId(roomId)
    if (!room || !this.d.access.mayKnow(room, userId)) fail('not_found')
    if (room.state !== 'scheduled') fail('room_rsvp_not_scheduled')
    const refusal = this.d.access.joinRefusal(room, userId)
    if (refusal) fail(refusal)
    if (this.d.access.isHostly(room, userId)) fail('room_rsvp_host')
    if (await this.d.store.setRsvp(roomId, userId, answer === null ? null : answer === 'yes')) {
      await this.d.changed(roomId)
      this.d.hallwayChanged()
    }
    return this.rsvpView(room, userId)
  }

  /** The host edits a scheduled room; those who said yes and the co-hosts are told what changed. */
  async edit(userId: number, roomId: number, input: EditRoomInput) {
    const room = await this.manage(roomId, userId, 'room_edit_forbidden')
    if (room.state !== 'scheduled') fail('room_edit_not_scheduled')
    const title = input.title === undefined ? room.title : input.title.trim()
    if (!title) fail('validation', 'title: must not be blank')
    const description = input.description === undefined ? room.description : input.description.trim()
    const startsAt = input.startsAt ?? room.starts_at!
    if (input.startsAt !== undefined && input.startsAt !== room.starts_at) {
      if (startsAt <= Date.now() + SCHEDULE_MIN_LEAD_MS) fail('validation', 'startsAt: must be in the future')
      if (startsAt > Date.now() + SCHEDULE_AHEAD_MAX_MS) fail('validation', 'startsAt: at most a year ahead')
    }
    const before = new Set(this.cohostIds(roomId))
    let after = before
    if (input.cohosts) {
      after = new Set(
        [...new Set(input.cohosts.map((n) => n.toLowerCase()))].map((n) => {
          const u = this.d.accounts.byName(n)
          if (u?.status !== 'active') fail('validation', `cohosts: no member @${n}`)
          return u.id
        }),
      )
      after.delete(room.creator_id)
    }
    const changes: EventChange[] = []
    if (title !== room.title) changes.push('title')
    if (description !== room.description) changes.push('description')
    if (startsAt !== room.starts_at) changes.push('startsAt')
    const cohostsChanged = before.size !== after.size || [...after].some((id) => !before.has(id))
    if (cohostsChanged) changes.push('cohosts')
    if (changes.length === 0) return roomView(room)
    const store = this.d.store
    const ok = await store.transaction(async (tx) => {
      if (!(await store.edit(roomId, { title, description, startsAt }, tx))) return false
      // A co-host taken off stays invited (a closed room keeps letting them in); a new one may start the room.
      for (const id of before) if (!after.has(id)) await store.addPerson(roomId, id, 'invited', tx)
      for (const id of after) if (!before.has(id)) await store.addPerson(roomId, id, 'cohost', tx)
      return true
    })
    if (!ok) fail('room_edit_not_scheduled')
    await this.d.changed(roomId)
    const updated = this.d.directory.room(roomId)!
    const told = this.audience(updated, userId, before)
    const view = roomView(updated)
    this.d.core.bus.toUsers(told, { type: 'room.updated', room: view, changes })
    const what = changes.includes('startsAt') ? `New time: ${utcTime(startsAt)}` : `Changed: ${changes.join(', ')}`
    for (const id of told) this.push(id, { title: `${updated.title} was updated`, body: what, url: `/rooms/${roomId}` })
    this.d.emit('eventChanged', { roomId, byUserId: userId, title: updated.title, changes, userIds: told })
    this.d.hallwayChanged()
    return view
  }

  /** The host cancels a scheduled room: it ends without starting; those who said yes and the co-hosts are told. */
  async cancel(userId: number, roomId: number) {
    const room = await this.manage(roomId, userId, 'room_cancel_forbidden')
    if (room.state !== 'scheduled') fail('room_cancel_not_scheduled')
    if (!(await this.d.store.cancel(roomId))) fail('room_cancel_not_scheduled')
    await this.d.changed(roomId)
    const told = this.audience(room, userId, new Set(this.cohostIds(roomId)))
    this.d.core.bus.toUsers(told, { type: 'room.cancelled', roomId, title: room.title })
    for (const id of told)
      this.push(id, {
        title: `Cancelled: ${room.title}`,
        body: 'The host cancelled this room.',
        url: `/rooms/${roomId}`,
      })
    this.d.emit('ended', { roomId })
    this.d.emit('eventCancelled', { roomId, byUserId: userId, title: room.title, userIds: told })
    this.d.audit({ actorId: userId, action: 'room.cancel', targetType: 'room', targetId: roomId })
    this.d.hallwayChanged()
  }

  /** Who hears of a change: those who said yes and the co-hosts (before and after), never who made it. */
  private audience(room: RoomRow, byUserId: number, cohostsBefore: Set<number>) {
    const ids = new Set([...this.attendees(room.id), ...cohostsBefore, ...this.cohostIds(room.id)])
    if (room.creator_id !== byUserId) ids.add(room.creator_id)
    ids.delete(byUserId)
    return [...ids]
  }

  /** The reminders (push's timer) went out: in-app to each member's tabs, and eventReminder for the inbox. */
  announceReminder(e: { roomId: number; lead: ReminderLead; userIds: number[] }) {
    const room = this.d.directory.room(e.roomId)
    if (!room || room.starts_at === null) return
    const startsAt = room.starts_at
    this.d.core.bus.toUsers(e.userIds, {
      type: 'room.reminder',
      roomId: room.id,
      title: room.title,
      lead: e.lead,
      startsAt,
    })
    this.d.emit('eventReminder', { roomId: room.id, title: room.title, lead: e.lead, startsAt, userIds: e.userIds })
  }

  // ── calendars ──
  /** The member's calendar feed secret, made on first use. */
  async calendarSecret(userId: number) {
    const s = await this.d.store.calendarSecret(userId)
    if (s) return s
    return this.regenerateCalendar(userId)
  }

  /** A new secret: the old feed address stops working. */
  async regenerateCalendar(userId: number) {
    const secret = newToken(24)
    await this.d.store.setCalendarSecret(userId, secret)
    return secret
  }

  /** The rooms in a feed (null: no such secret): hosted, co-hosted or said yes to, still visible to its owner. */
  async calendarRooms(secret: string) {
    const userId = await this.d.store.calendarOwner(secret)
    if (userId === null) return null
    const user = this.d.accounts.byId(userId)
    if (user?.status !== 'active') return null
    const rooms = await this.d.store.calendarRooms(userId, Date.now() - FEED_PAST_MS)
    return rooms.filter((r) => this.d.access.mayKnow(r, userId))
  }

  // ── an ended room ──
  async recap(room: RoomRow) {
    const rows = await this.d.store.history(room.id)
    const speakerIds = [...new Set(rows.filter((h) => STAGE_ROLES.has(h.role)).map((h) => h.user_id))]
    const users = this.d.accounts.publicUsers(new Set(speakerIds))
    return {
      durationMs: room.started_at !== null && room.ended_at !== null ? room.ended_at - room.started_at : null,
      speakers: speakerIds.flatMap((id) => users.get(id) ?? []),
      peakListeners: room.peak_listeners,
    }
  }

  private push(userId: number, message: { title: string; body: string; url: string }) {
    this.d.push
      .notify(userId, 'room_reminder', { ...message, tag: `room-change:${message.url}` })
      .catch((error) => this.d.core.log.error('rooms: push failed', { userId, error }))
  }
}

/** A time as an unfurl or a push shows it, where the reader's time zone is unknown: in UTC. */
export function utcTime(ms: number) {
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZone: 'UTC',
  })
    .format(new Date(ms))
    .concat(' UTC')
}
