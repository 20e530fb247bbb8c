// The rooms in SQLite, synchronous: what the service still calls until its callers await the rooms store (store.ts,
// the contract; docs/ARCHITECTURE.md, "Stores"). Statements prepared once, on the rooms' own tables only.
import type { Database } from 'bun:sqlite'
import type { RoomRole } from '../contracts'
import type { RoomKind } from '../protocol'
import type { HistoryRow, RoomRow } from './model'

const statements = (db: Database) => ({
  insert: db.prepare<
    { id: number },
    [number, number, string, string, string | null, RoomKind, string, number | null, number | null, number]
  >(
    `INSERT INTO rooms (creator_id, host_id, title, description, link, kind, state, starts_at, started_at, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  byId: db.prepare<RoomRow, [number]>('SELECT * FROM rooms WHERE id = ?'),
  live: db.prepare<RoomRow, []>(`SELECT * FROM rooms WHERE state = 'live' ORDER BY id`),
  upcoming: db.prepare<RoomRow, [number]>(
    `SELECT * FROM rooms WHERE state = 'scheduled' AND starts_at >= ? ORDER BY starts_at, id LIMIT 200`,
  ),
  scheduledBetween: db.prepare<RoomRow, [number, number]>(
    `SELECT * FROM rooms WHERE state = 'scheduled' AND starts_at >= ? AND starts_at < ? ORDER BY starts_at`,
  ),
  start: db.prepare<never, [number, number]>(
    `UPDATE rooms SET state = 'live', started_at = ? WHERE id = ? AND state = 'scheduled'`,
  ),
  end: db.prepare<never, [number, number]>(
    `UPDATE rooms SET state = 'ended', ended_at = ? WHERE id = ? AND state != 'ended'`,
  ),
  setHost: db.prepare<never, [number, number]>('UPDATE rooms SET host_id = ? WHERE id = ?'),
  addPerson: db.prepare<never, [number, number, string]>(
    'INSERT OR REPLACE INTO room_people (room_id, user_id, kind) VALUES (?, ?, ?)',
  ),
  people: db.prepare<{ user_id: number; kind: 'invited' | 'cohost' }, [number]>(
    'SELECT user_id, kind FROM room_people WHERE room_id = ?',
  ),
  person: db.prepare<{ kind: 'invited' | 'cohost' }, [number, number]>(
    'SELECT kind FROM room_people WHERE room_id = ? AND user_id = ?',
  ),
  remove: db.prepare<never, [number, number, number | null, number]>(
    'INSERT OR IGNORE INTO room_removals (room_id, user_id, by_id, created_at) VALUES (?, ?, ?, ?)',
  ),
  isRemoved: db.prepare<{ x: number }, [number, number]>(
    'SELECT 1 AS x FROM room_removals WHERE room_id = ? AND user_id = ?',
  ),
  openStint: db.prepare<never, [number, number, RoomRole, number]>(
    'INSERT INTO room_participation (room_id, user_id, role, from_at) VALUES (?, ?, ?, ?)',
  ),
  closeStint: db.prepare<never, [number, string, number, number]>(
    'UPDATE room_participation SET to_at = ?, end_reason = ? WHERE room_id = ? AND user_id = ? AND to_at IS NULL',
  ),
  closeAllStints: db.prepare<never, [number, string, number]>(
    'UPDATE room_participation SET to_at = ?, end_reason = ? WHERE room_id = ? AND to_at IS NULL',
  ),
  wasParticipant: db.prepare<{ x: number }, [number, number]>(
    'SELECT 1 AS x FROM room_participation WHERE room_id = ? AND user_id = ? LIMIT 1',
  ),
  stageUsers: db.prepare<{ user_id: number }, [number]>(
    `SELECT DISTINCT user_id FROM room_participation WHERE room_id = ? AND role != 'audience' ORDER BY user_id`,
  ),
  history: db.prepare<HistoryRow, [number]>(
    `SELECT user_id, role, from_at, to_at, end_reason FROM room_participation
     WHERE room_id = ? ORDER BY id LIMIT 5000`,
  ),
  openStints: db.prepare<{ user_id: number; role: RoomRole; from_at: number }, [number]>(
    'SELECT user_id, role, from_at FROM room_participation WHERE room_id = ? AND to_at IS NULL ORDER BY id',
  ),
  saveResume: db.prepare<never, [number, string, number]>(
    'INSERT OR REPLACE INTO room_resume (room_id, state, saved_at) VALUES (?, ?, ?)',
  ),
  resumeOf: db.prepare<{ state: string }, [number]>('SELECT state FROM room_resume WHERE room_id = ?'),
  dropResume: db.prepare<never, [number]>('DELETE FROM room_resume WHERE room_id = ?'),
  dropStaleResume: db.prepare<never, []>(
    `DELETE FROM room_resume WHERE room_id NOT IN (SELECT id FROM rooms WHERE state = 'live')`,
  ),
  countByHost: db.prepare<{ n: number }, [number, string]>(
    'SELECT COUNT(*) AS n FROM rooms WHERE host_id = ? AND state = ?',
  ),
  // ── events: edits, RSVPs, calendars, search, peaks ──
  edit: db.prepare<never, [string, string, number | null, number]>(
    `UPDATE rooms SET title = ?, description = ?, starts_at = ?, revision = revision + 1
     WHERE id = ? AND state = 'scheduled'`,
  ),
  cancel: db.prepare<never, [number, number]>(
    `UPDATE rooms SET state = 'ended', ended_at = ?, cancelled = 1, revision = revision + 1
     WHERE id = ? AND state = 'scheduled'`,
  ),
  removePerson: db.prepare<never, [number, number]>('DELETE FROM room_people WHERE room_id = ? AND user_id = ?'),
  peak: db.prepare<never, [number, number, number]>(
    'UPDATE rooms SET peak_listeners = ? WHERE id = ? AND peak_listeners < ?',
  ),
  rsvp: db.prepare<never, [number, number, number, number]>(
    `INSERT INTO room_rsvps (room_id, user_id, going, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(room_id, user_id) DO UPDATE SET going = excluded.going`,
  ),
  unrsvp: db.prepare<never, [number, number]>('DELETE FROM room_rsvps WHERE room_id = ? AND user_id = ?'),
  rsvps: db.prepare<{ user_id: number; going: number }, [number]>(
    'SELECT user_id, going FROM room_rsvps WHERE room_id = ? ORDER BY created_at, user_id',
  ),
  rsvpOf: db.prepare<{ going: number }, [number, number]>(
    'SELECT going FROM room_rsvps WHERE room_id = ? AND user_id = ?',
  ),
  /** The rooms a member hosts, co-hosts or said yes to, upcoming or recent (a calendar feed). */
  calendarRooms: db.prepare<RoomRow, [number, number, number, number]>(
    `SELECT * FROM rooms WHERE starts_at IS NOT NULL AND COALESCE(ended_at, starts_at) >= ? AND (
       creator_id = ?
       OR id IN (SELECT room_id FROM room_people WHERE user_id = ? AND kind = 'cohost')
       OR id IN (SELECT room_id FROM room_rsvps WHERE user_id = ? AND going = 1))
     ORDER BY starts_at LIMIT 500`,
  ),
  calendarSecret: db.prepare<{ secret: string }, [number]>('SELECT secret FROM room_calendars WHERE user_id = ?'),
  calendarOwner: db.prepare<{ user_id: number }, [string]>('SELECT user_id FROM room_calendars WHERE secret = ?'),
  setCalendar: db.prepare<never, [number, string, number]>(
    `INSERT INTO room_calendars (user_id, secret, created_at) VALUES (?, ?, ?)
     ON CONFLICT(user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`,
  ),
  search: db.prepare<RoomRow, [string, number]>(
    `SELECT rooms.* FROM room_fts JOIN rooms ON rooms.id = room_fts.rowid
     WHERE room_fts MATCH ? AND rooms.cancelled = 0 ORDER BY rank LIMIT ?`,
  ),
  byHosts: db.prepare<RoomRow, [string, number]>(
    `SELECT * FROM rooms WHERE cancelled = 0 AND (host_id IN (SELECT value FROM json_each(?1))
       OR creator_id IN (SELECT value FROM json_each(?1))
       OR id IN (SELECT room_id FROM room_people
                 WHERE kind = 'cohost' AND user_id IN (SELECT value FROM json_each(?1))))
     ORDER BY id DESC LIMIT ?2`,
  ),
  startingBetween: db.prepare<RoomRow, [number, number]>(
    `SELECT * FROM rooms WHERE state IN ('scheduled', 'live') AND starts_at >= ? AND starts_at < ? ORDER BY starts_at`,
  ),
})

export class RoomsSyncStore {
  private q: ReturnType<typeof statements>
  constructor(readonly db: Database) {
    this.q = statements(db)
  }

  insert(r: {
    creatorId: number
    title: string
    description: string
    link: string | null
    kind: RoomKind
    startsAt: number | null
    live: boolean
  }) {
    const now = Date.now()
    return this.q.insert.get(
      r.creatorId,
      r.creatorId,
      r.title,
      r.description,
      r.link,
      r.kind,
      r.live ? 'live' : 'scheduled',
      r.startsAt,
      r.live ? now : null,
      now,
    )!.id
  }
  byId(id: number) {
    return this.q.byId.get(id)
  }
  live() {
    return this.q.live.all()
  }
  upcoming(since: number) {
    return this.q.upcoming.all(since)
  }
  scheduledBetween(from: number, to: number) {
    return this.q.scheduledBetween.all(from, to)
  }
  start(id: number) {
    this.q.start.run(Date.now(), id)
  }
  end(id: number, reason = 'ended') {
    const at = Date.now()
    this.q.end.run(at, id)
    this.q.closeAllStints.run(at, reason, id)
  }
  setHost(id: number, userId: number) {
    this.q.setHost.run(userId, id)
  }
  addPerson(roomId: number, userId: number, kind: 'invited' | 'cohost') {
    this.q.addPerson.run(roomId, userId, kind)
  }
  people(roomId: number) {
    return this.q.people.all(roomId)
  }
  person(roomId: number, userId: number) {
    return this.q.person.get(roomId, userId)?.kind ?? null
  }
  markRemoved(roomId: number, userId: number, byId: number | null) {
    this.q.remove.run(roomId, userId, byId, Date.now())
  }
  isRemoved(roomId: number, userId: number) {
    return !!this.q.isRemoved.get(roomId, userId)
  }
  /** Opens a participation stretch (joining, or the next role after a change). */
  openStint(roomId: number, userId: number, role: RoomRole) {
    this.q.openStint.run(roomId, userId, role, Date.now())
  }
  closeStint(roomId: number, userId: number, reason: string) {
    this.q.closeStint.run(Date.now(), reason, roomId, userId)
  }
  /** A role change: closes the current stretch and opens one with the new role. */
  changeRole(roomId: number, userId: number, role: RoomRole) {
    this.closeStint(roomId, userId, 'role')
    this.openStint(roomId, userId, role)
  }
  /** Everyone who was ever on the room's stage (host, moderator or speaker). */
  stageUsers(roomId: number) {
    return this.q.stageUsers.all(roomId).map((r) => r.user_id)
  }
  wasParticipant(roomId: number, userId: number) {
    return !!this.q.wasParticipant.get(roomId, userId)
  }
  history(roomId: number) {
    return this.q.history.all(roomId)
  }
  /** Rooms a member hosts in a state (live or scheduled). */
  countByHost(userId: number, state: 'live' | 'scheduled') {
    return this.q.countByHost.get(userId, state)!.n
  }

  // ── events ──
  /** A host's edit of a scheduled room (the revision goes up); false when it is no longer scheduled. */
  edit(id: number, e: { title: string; description: string; startsAt: number }) {
    return this.q.edit.run(e.title, e.description, e.startsAt, id).changes > 0
  }
  /** Cancels a scheduled room: it ends without having started; false when it was not scheduled. */
  cancel(id: number) {
    return this.q.cancel.run(Date.now(), id).changes > 0
  }
  removePerson(roomId: number, userId: number) {
    this.q.removePerson.run(roomId, userId)
  }
  /** Records a new peak of people in the room (only ever raises it). */
  peak(roomId: number, n: number) {
    this.q.peak.run(n, roomId, n)
  }
  setRsvp(roomId: number, userId: number, going: boolean | null) {
    if (going === null) this.q.unrsvp.run(roomId, userId)
    else this.q.rsvp.run(roomId, userId, going ? 1 : 0, Date.now())
  }
  rsvps(roomId: number) {
    return this.q.rsvps.all(roomId)
  }
  rsvpOf(roomId: number, userId: number): boolean | null {
    const r = this.q.rsvpOf.get(roomId, userId)
    return r ? r.going === 1 : null
  }
  calendarRooms(userId: number, since: number) {
    return this.q.calendarRooms.all(since, userId, userId, userId)
  }
  calendarSecret(userId: number) {
    return this.q.calendarSecret.get(userId)?.secret ?? null
  }
  calendarOwner(secret: string) {
    return this.q.calendarOwner.get(secret)?.user_id ?? null
  }
  setCalendarSecret(userId: number, secret: string) {
    this.q.setCalendar.run(userId, secret, Date.now())
  }
  /** Rooms whose title or description match an FTS5 expression, best first (cancelled ones left out). */
  search(match: string, limit: number) {
    return this.q.search.all(match, limit)
  }
  /** Rooms hosted or co-hosted by these members, newest first (cancelled ones left out). */
  byHosts(userIds: number[], limit: number) {
    return userIds.length ? this.q.byHosts.all(JSON.stringify(userIds), limit) : []
  }
  /** Scheduled or live rooms whose planned start falls in [from, to) (the event reminders). */
  startingBetween(from: number, to: number) {
    return this.q.startingBetween.all(from, to)
  }

  /** Who holds a role in a room now (participation stretches not closed): what a crash leaves to resume from. */
  openStints(roomId: number) {
    return this.q.openStints.all(roomId)
  }
  /** A graceful stop saves the live rooms' seats (one transaction for them all). */
  saveResume(states: { roomId: number; state: unknown }[]) {
    const at = Date.now()
    this.db.transaction(() => {
      for (const s of states) this.q.saveResume.run(s.roomId, JSON.stringify(s.state), at)
    })()
  }
  /** The saved seats of a live room, read once (the row is deleted); null when none or unreadable. */
  takeResume(roomId: number): unknown {
    const row = this.q.resumeOf.get(roomId)
    if (!row) return null
    this.q.dropResume.run(roomId)
    try {
      return JSON.parse(row.state)
    } catch {
      return null
    }
  }
  dropStaleResume() {
    this.q.dropStaleResume.run()
  }
}
