// Rooms in SQLite: statements prepared once, on the rooms' own tables only (members are read through AccountsApi).
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
})

export class RoomsStore {
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
