// The rooms store (the rooms' tables of 0002, 0005, 0007 and 0009: rooms, room_people, room_removals,
// room_participation, room_rsvps, room_calendars, room_resume, recording_consents). Its contract (RoomsStore,
// asynchronous: docs/ARCHITECTURE.md, "Stores") and its SQLite implementation through the gate; the Postgres one is
// store-pg.ts, and test/integration/store-rooms.test.ts runs the same tests against both. Members are read through
// AccountsApi, never their table.
import type { RoomRole } from '../contracts'
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
import type { RoomKind } from '../protocol'
import type { HistoryRow, RoomRow } from './model'

export interface NewRoom {
  creatorId: number
  title: string
  description: string
  link: string | null
  kind: RoomKind
  startsAt: number | null
  live: boolean
}
export type PersonKind = 'invited' | 'cohost'
interface PersonRow {
  user_id: number
  kind: PersonKind
}
interface OpenStintRow {
  user_id: number
  role: RoomRole
  from_at: number
}
interface RsvpRow {
  user_id: number
  going: number
}
/** A speaker's answer to "Include your voice in the replay?" (consent 0 or 1) and when they gave it. */
interface ConsentRow {
  user_id: number
  consent: number
  at: number
}

/** What the node-local directory of rooms holds (directory.ts), for every room or one. */
export interface RoomsSnapshot {
  rooms: RoomRow[]
  people: { room_id: number; user_id: number; kind: PersonKind }[]
  removals: { room_id: number; user_id: number }[]
  /** Everyone ever in each room; stage 1 when they were ever on its stage. */
  participation: { room_id: number; user_id: number; stage: number }[]
  /** Who said yes to its recording at least once. */
  consents: { room_id: number; user_id: number }[]
  /** The answers, oldest first. */
  rsvps: { room_id: number; user_id: number; going: number }[]
}

/**
 * Every method takes the transaction it belongs to, if any; those that change several rows hold their own when not
 * given one. Writes that race say whether they won (a conditional update: true only for the call that changed it).
 */
export interface RoomsStore extends Transactor {
  /** Every room (or one) with who is and was in it: what the directory loads at start and after a change. */
  snapshot(roomId?: number, tx?: Tx): Promise<RoomsSnapshot>
  /** A new room (live now, or scheduled); its id. */
  insert(r: NewRoom, tx?: Tx): Promise<number>
  byId(id: number, tx?: Tx): Promise<RoomRow | null>
  /** Every live room, by id. */
  live(tx?: Tx): Promise<RoomRow[]>
  /** Scheduled rooms planned from `since` on, the soonest first (200 at most). */
  upcoming(since: number, tx?: Tx): Promise<RoomRow[]>
  scheduledBetween(from: number, to: number, tx?: Tx): Promise<RoomRow[]>
  /** Scheduled or live rooms whose planned start falls in [from, to) (the event reminders). */
  startingBetween(from: number, to: number, tx?: Tx): Promise<RoomRow[]>
  /** A scheduled room goes live: false when it was not scheduled (started, ended or cancelled meanwhile). */
  start(id: number, tx?: Tx): Promise<boolean>
  /** A room ends and its open participation stretches close, as one: false when it had already ended. */
  end(id: number, reason?: string, tx?: Tx): Promise<boolean>
  setHost(id: number, userId: number, tx?: Tx): Promise<void>
  /** Rooms a member hosts in a state (live or scheduled). */
  countByHost(userId: number, state: 'live' | 'scheduled', tx?: Tx): Promise<number>

  addPerson(roomId: number, userId: number, kind: PersonKind, tx?: Tx): Promise<void>
  removePerson(roomId: number, userId: number, tx?: Tx): Promise<void>
  people(roomId: number, tx?: Tx): Promise<PersonRow[]>
  person(roomId: number, userId: number, tx?: Tx): Promise<PersonKind | null>
  /** A member removed from a room (kept out of it): false when they already were. */
  markRemoved(roomId: number, userId: number, byId: number | null, tx?: Tx): Promise<boolean>
  isRemoved(roomId: number, userId: number, tx?: Tx): Promise<boolean>
  /** Everyone ever removed from a room. */
  removed(roomId: number, tx?: Tx): Promise<number[]>

  /** Opens a participation stretch (joining, or the next role after a change). */
  openStint(roomId: number, userId: number, role: RoomRole, tx?: Tx): Promise<void>
  closeStint(roomId: number, userId: number, reason: string, tx?: Tx): Promise<void>
  /** A role change: closes the current stretch and opens one with the new role, as one. */
  changeRole(roomId: number, userId: number, role: RoomRole, tx?: Tx): Promise<void>
  /** Everyone who was ever on the room's stage (host, moderator or speaker), by id. */
  stageUsers(roomId: number, tx?: Tx): Promise<number[]>
  /** Everyone who was ever in the room, by id. */
  participants(roomId: number, tx?: Tx): Promise<number[]>
  wasParticipant(roomId: number, userId: number, tx?: Tx): Promise<boolean>
  history(roomId: number, tx?: Tx): Promise<HistoryRow[]>
  /** Who holds a role in a room now (stretches not closed): what a crash leaves to resume from. */
  openStints(roomId: number, tx?: Tx): Promise<OpenStintRow[]>

  /** A host's edit of a scheduled room (the revision goes up): false when it is no longer scheduled. */
  edit(id: number, e: { title: string; description: string; startsAt: number }, tx?: Tx): Promise<boolean>
  /** Cancels a scheduled room (it ends without having started): false when it was not scheduled. */
  cancel(id: number, tx?: Tx): Promise<boolean>
  /** Records a new peak of people in the room (only ever raises it). */
  peak(roomId: number, n: number, tx?: Tx): Promise<void>
  /** A member's RSVP (null: none): false when it already was that answer. */
  setRsvp(roomId: number, userId: number, going: boolean | null, tx?: Tx): Promise<boolean>
  /** The answers, oldest first. */
  rsvps(roomId: number, tx?: Tx): Promise<RsvpRow[]>
  rsvpOf(roomId: number, userId: number, tx?: Tx): Promise<boolean | null>
  /** The rooms a member hosts, co-hosts or said yes to, planned or ended since `since` (a calendar feed). */
  calendarRooms(userId: number, since: number, tx?: Tx): Promise<RoomRow[]>
  calendarSecret(userId: number, tx?: Tx): Promise<string | null>
  calendarOwner(secret: string, tx?: Tx): Promise<number | null>
  /** The member's calendar secret, replacing any older one. */
  setCalendarSecret(userId: number, secret: string, tx?: Tx): Promise<void>
  /**
   * Rooms whose title or description hold these words (cleaned: letters, digits, `_`; the last one a prefix), the
   * best match first (cancelled ones left out). SQLite: FTS5 (`room_fts`); Postgres: the `rooms.search` tsvector.
   */
  search(words: string[], limit: number, tx?: Tx): Promise<RoomRow[]>
  /** Rooms hosted, created or co-hosted by these members, newest first (cancelled ones left out). */
  byHosts(userIds: number[], limit: number, tx?: Tx): Promise<RoomRow[]>

  /** A graceful stop saves the live rooms' seats, as one. */
  saveResume(states: { roomId: number; state: unknown }[], tx?: Tx): Promise<void>
  /** The saved seats of a live room, read once (the row is deleted by the read); null when none or unreadable. */
  takeResume(roomId: number, tx?: Tx): Promise<unknown>
  /** Saved seats of rooms no longer live go. */
  dropStaleResume(tx?: Tx): Promise<void>

  /** The host's recording switch (RP4, RP5). */
  setRecording(roomId: number, on: boolean, tx?: Tx): Promise<void>
  /** The admin turned recording off (RP3): every scheduled and live room stops being recorded; their ids. */
  recordingOffEverywhere(tx?: Tx): Promise<number[]>
  /** A speaker's answer, kept with its time (RP8–RP11). */
  addConsent(roomId: number, userId: number, consent: boolean, at: number, tx?: Tx): Promise<void>
  /** Each speaker's latest answer in a room, by user id (a restart reads them back). */
  latestConsents(roomId: number, tx?: Tx): Promise<ConsentRow[]>
  /** Who said yes at least once in a room, by id. */
  everConsented(roomId: number, tx?: Tx): Promise<number[]>
}

/** A saved resume state, read (null when it is not JSON). */
export function parseResume(state: string | null | undefined): unknown {
  if (state == null) return null
  try {
    return JSON.parse(state)
  } catch {
    return null
  }
}

const statements = (db: SqliteGate['db']) => ({
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
    `SELECT * FROM rooms WHERE state = 'scheduled' AND starts_at >= ? AND starts_at < ? ORDER BY starts_at, id`,
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
    'SELECT user_id, kind FROM room_people WHERE room_id = ? ORDER BY user_id',
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
  participants: db.prepare<{ user_id: number }, [number]>(
    'SELECT DISTINCT user_id FROM room_participation WHERE room_id = ? ORDER BY user_id',
  ),
  removed: db.prepare<{ user_id: number }, [number]>(
    'SELECT user_id FROM room_removals WHERE room_id = ? ORDER BY user_id',
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
  takeResume: db.prepare<{ state: string }, [number]>('DELETE FROM room_resume WHERE room_id = ? RETURNING state'),
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
     ON CONFLICT(room_id, user_id) DO UPDATE SET going = excluded.going WHERE going != excluded.going`,
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
     WHERE room_fts MATCH ? AND rooms.cancelled = 0 ORDER BY rank, rooms.id DESC LIMIT ?`,
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
  // ── the directory's load: everything, or one room (?1 null: every room) ──
  allRooms: db.prepare<RoomRow, [number | null]>('SELECT * FROM rooms WHERE ?1 IS NULL OR id = ?1 ORDER BY id'),
  allPeople: db.prepare<RoomsSnapshot['people'][number], [number | null]>(
    'SELECT room_id, user_id, kind FROM room_people WHERE ?1 IS NULL OR room_id = ?1 ORDER BY room_id, user_id',
  ),
  allRemovals: db.prepare<RoomsSnapshot['removals'][number], [number | null]>(
    'SELECT room_id, user_id FROM room_removals WHERE ?1 IS NULL OR room_id = ?1 ORDER BY room_id, user_id',
  ),
  allParticipation: db.prepare<RoomsSnapshot['participation'][number], [number | null]>(
    `SELECT room_id, user_id, MAX(CASE WHEN role != 'audience' THEN 1 ELSE 0 END) AS stage FROM room_participation
     WHERE ?1 IS NULL OR room_id = ?1 GROUP BY room_id, user_id ORDER BY room_id, user_id`,
  ),
  allConsents: db.prepare<RoomsSnapshot['consents'][number], [number | null]>(
    `SELECT DISTINCT room_id, user_id FROM recording_consents WHERE consent = 1 AND (?1 IS NULL OR room_id = ?1)
     ORDER BY room_id, user_id`,
  ),
  allRsvps: db.prepare<RoomsSnapshot['rsvps'][number], [number | null]>(
    `SELECT room_id, user_id, going FROM room_rsvps WHERE ?1 IS NULL OR room_id = ?1
     ORDER BY room_id, created_at, user_id`,
  ),
  // ── recording (RP): the host's switch and the speakers' consents ──
  setRecording: db.prepare<never, [number, number]>('UPDATE rooms SET recording = ? WHERE id = ?'),
  recordingOff: db.prepare<{ id: number }, []>(
    `UPDATE rooms SET recording = 0 WHERE recording = 1 AND state IN ('scheduled', 'live') RETURNING id`,
  ),
  addConsent: db.prepare<never, [number, number, number, number]>(
    'INSERT INTO recording_consents (room_id, user_id, consent, at) VALUES (?, ?, ?, ?)',
  ),
  latestConsents: db.prepare<ConsentRow, [number]>(
    `SELECT user_id, consent, at FROM recording_consents c WHERE room_id = ?1
       AND id = (SELECT MAX(id) FROM recording_consents WHERE room_id = ?1 AND user_id = c.user_id)
     ORDER BY user_id`,
  ),
  everYes: db.prepare<{ user_id: number }, [number]>(
    'SELECT DISTINCT user_id FROM recording_consents WHERE room_id = ? AND consent = 1 ORDER BY user_id',
  ),
})

export class SqliteRoomsStore implements RoomsStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate.db)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  /** Several statements as one: in the transaction given, else in one of their own. */
  private atomic<T>(tx: Tx | undefined, fn: () => T): Promise<T> {
    return tx ? this.gate.run(tx, fn) : this.gate.transaction(async () => fn())
  }
  private run<T>(tx: Tx | undefined, fn: () => T) {
    return this.gate.run(tx, fn)
  }

  snapshot(roomId?: number, tx?: Tx) {
    const id = roomId ?? null
    return this.run(tx, () => ({
      rooms: this.q.allRooms.all(id),
      people: this.q.allPeople.all(id),
      removals: this.q.allRemovals.all(id),
      participation: this.q.allParticipation.all(id),
      consents: this.q.allConsents.all(id),
      rsvps: this.q.allRsvps.all(id),
    }))
  }
  insert(r: NewRoom, tx?: Tx) {
    const now = Date.now()
    const state = r.live ? 'live' : 'scheduled'
    return this.run(
      tx,
      () =>
        this.q.insert.get(
          r.creatorId,
          r.creatorId,
          r.title,
          r.description,
          r.link,
          r.kind,
          state,
          r.startsAt,
          r.live ? now : null,
          now,
        )!.id,
    )
  }
  byId(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.byId.get(id))
  }
  live(tx?: Tx) {
    return this.run(tx, () => this.q.live.all())
  }
  upcoming(since: number, tx?: Tx) {
    return this.run(tx, () => this.q.upcoming.all(since))
  }
  scheduledBetween(from: number, to: number, tx?: Tx) {
    return this.run(tx, () => this.q.scheduledBetween.all(from, to))
  }
  startingBetween(from: number, to: number, tx?: Tx) {
    return this.run(tx, () => this.q.startingBetween.all(from, to))
  }
  start(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.start.run(Date.now(), id).changes > 0)
  }
  end(id: number, reason = 'ended', tx?: Tx) {
    return this.atomic(tx, () => {
      const at = Date.now()
      if (this.q.end.run(at, id).changes === 0) return false
      this.q.closeAllStints.run(at, reason, id)
      return true
    })
  }
  async setHost(id: number, userId: number, tx?: Tx) {
    await this.run(tx, () => this.q.setHost.run(userId, id))
  }
  countByHost(userId: number, state: 'live' | 'scheduled', tx?: Tx) {
    return this.run(tx, () => this.q.countByHost.get(userId, state)!.n)
  }

  async addPerson(roomId: number, userId: number, kind: PersonKind, tx?: Tx) {
    await this.run(tx, () => this.q.addPerson.run(roomId, userId, kind))
  }
  async removePerson(roomId: number, userId: number, tx?: Tx) {
    await this.run(tx, () => this.q.removePerson.run(roomId, userId))
  }
  people(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.people.all(roomId))
  }
  person(roomId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.person.get(roomId, userId)?.kind ?? null)
  }
  markRemoved(roomId: number, userId: number, byId: number | null, tx?: Tx) {
    return this.run(tx, () => this.q.remove.run(roomId, userId, byId, Date.now()).changes > 0)
  }
  isRemoved(roomId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => !!this.q.isRemoved.get(roomId, userId))
  }
  removed(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.removed.all(roomId).map((r) => r.user_id))
  }

  async openStint(roomId: number, userId: number, role: RoomRole, tx?: Tx) {
    await this.run(tx, () => this.q.openStint.run(roomId, userId, role, Date.now()))
  }
  async closeStint(roomId: number, userId: number, reason: string, tx?: Tx) {
    await this.run(tx, () => this.q.closeStint.run(Date.now(), reason, roomId, userId))
  }
  async changeRole(roomId: number, userId: number, role: RoomRole, tx?: Tx) {
    await this.atomic(tx, () => {
      const at = Date.now()
      this.q.closeStint.run(at, 'role', roomId, userId)
      this.q.openStint.run(roomId, userId, role, at)
    })
  }
  stageUsers(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.stageUsers.all(roomId).map((r) => r.user_id))
  }
  participants(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.participants.all(roomId).map((r) => r.user_id))
  }
  wasParticipant(roomId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => !!this.q.wasParticipant.get(roomId, userId))
  }
  history(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.history.all(roomId))
  }
  openStints(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.openStints.all(roomId))
  }

  edit(id: number, e: { title: string; description: string; startsAt: number }, tx?: Tx) {
    return this.run(tx, () => this.q.edit.run(e.title, e.description, e.startsAt, id).changes > 0)
  }
  cancel(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.cancel.run(Date.now(), id).changes > 0)
  }
  async peak(roomId: number, n: number, tx?: Tx) {
    await this.run(tx, () => this.q.peak.run(n, roomId, n))
  }
  setRsvp(roomId: number, userId: number, going: boolean | null, tx?: Tx) {
    return this.run(
      tx,
      () =>
        (going === null
          ? this.q.unrsvp.run(roomId, userId)
          : this.q.rsvp.run(roomId, userId, going ? 1 : 0, Date.now())
        ).changes > 0,
    )
  }
  rsvps(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.rsvps.all(roomId))
  }
  rsvpOf(roomId: number, userId: number, tx?: Tx) {
    return this.run(tx, () => {
      const r = this.q.rsvpOf.get(roomId, userId)
      return r ? r.going === 1 : null
    })
  }
  calendarRooms(userId: number, since: number, tx?: Tx) {
    return this.run(tx, () => this.q.calendarRooms.all(since, userId, userId, userId))
  }
  calendarSecret(userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.calendarSecret.get(userId)?.secret ?? null)
  }
  calendarOwner(secret: string, tx?: Tx) {
    return this.run(tx, () => this.q.calendarOwner.get(secret)?.user_id ?? null)
  }
  async setCalendarSecret(userId: number, secret: string, tx?: Tx) {
    await this.run(tx, () => this.q.setCalendar.run(userId, secret, Date.now()))
  }
  search(words: string[], limit: number, tx?: Tx) {
    // Each word quoted (no FTS5 operator gets through), the last one a prefix.
    const match = words.map((w, i) => `"${w.replaceAll('"', '')}"${i === words.length - 1 ? '*' : ''}`).join(' ')
    return this.run(tx, () => (match ? this.q.search.all(match, limit) : []))
  }
  byHosts(userIds: number[], limit: number, tx?: Tx) {
    return this.run(tx, () => (userIds.length ? this.q.byHosts.all(JSON.stringify(userIds), limit) : []))
  }

  async saveResume(states: { roomId: number; state: unknown }[], tx?: Tx) {
    const at = Date.now()
    await this.atomic(tx, () => {
      for (const s of states) this.q.saveResume.run(s.roomId, JSON.stringify(s.state), at)
    })
  }
  takeResume(roomId: number, tx?: Tx) {
    return this.run(tx, () => parseResume(this.q.takeResume.get(roomId)?.state))
  }
  async dropStaleResume(tx?: Tx) {
    await this.run(tx, () => this.q.dropStaleResume.run())
  }

  async setRecording(roomId: number, on: boolean, tx?: Tx) {
    await this.run(tx, () => this.q.setRecording.run(on ? 1 : 0, roomId))
  }
  recordingOffEverywhere(tx?: Tx) {
    return this.run(tx, () =>
      this.q.recordingOff
        .all()
        .map((r) => r.id)
        .sort((a, b) => a - b),
    )
  }
  async addConsent(roomId: number, userId: number, consent: boolean, at: number, tx?: Tx) {
    await this.run(tx, () => this.q.addConsent.run(roomId, userId, consent ? 1 : 0, at))
  }
  latestConsents(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.latestConsents.all(roomId))
  }
  everConsented(roomId: number, tx?: Tx) {
    return this.run(tx, () => this.q.everYes.all(roomId).map((r) => r.user_id))
  }
}
