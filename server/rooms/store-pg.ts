// The rooms store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-rooms.test.ts). Rows come back in the SQLite shape (numbers, nulls); the `search` tsvector
// column (pg/0005) is never read back.
import { int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { RoomRole } from '../contracts'
import type { RoomKind, RoomState } from '../protocol'
import type { HistoryRow, RoomRow } from './model'
import { type NewRoom, type PersonKind, parseResume, type RoomsSnapshot, type RoomsStore } from './store'

type Raw = Record<string, unknown>

/** The columns of a room as SQLite has them (not `search`). */
const ROOM = `id, creator_id, host_id, title, description, link, kind, state, starts_at, started_at, ended_at,
  created_at, peak_listeners, revision, cancelled, recording`

const room = (r: Raw): RoomRow => ({
  id: int(r.id),
  creator_id: int(r.creator_id),
  host_id: int(r.host_id),
  title: r.title as string,
  description: r.description as string,
  link: (r.link as string | null) ?? null,
  kind: r.kind as RoomKind,
  state: r.state as RoomState,
  starts_at: intOrNull(r.starts_at),
  started_at: intOrNull(r.started_at),
  ended_at: intOrNull(r.ended_at),
  created_at: int(r.created_at),
  peak_listeners: int(r.peak_listeners),
  revision: int(r.revision),
  cancelled: int(r.cancelled),
  recording: int(r.recording),
})
const rooms = (rows: Raw[]) => rows.map(room)
const ids = (rows: Raw[]) => rows.map((r) => int(r.user_id))

export class PgRoomsStore implements RoomsStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }
  private sql(tx?: Tx) {
    return this.conn.on(tx)
  }
  private select(tx: Tx | undefined, where: string, ...args: unknown[]) {
    return this.sql(tx).unsafe(`SELECT ${ROOM} FROM rooms WHERE ${where}`, args) as Promise<Raw[]>
  }

  async snapshot(roomId?: number, tx?: Tx): Promise<RoomsSnapshot> {
    const sql = this.sql(tx)
    const id = roomId ?? null
    const pair = (r: Raw) => ({ room_id: int(r.room_id), user_id: int(r.user_id) })
    const all = await this.select(tx, '$1::bigint IS NULL OR id = $1 ORDER BY id', id)
    const people = await sql`
      SELECT room_id, user_id, kind FROM room_people WHERE ${id}::bigint IS NULL OR room_id = ${id}
      ORDER BY room_id, user_id`
    const removals = await sql`
      SELECT room_id, user_id FROM room_removals WHERE ${id}::bigint IS NULL OR room_id = ${id}
      ORDER BY room_id, user_id`
    const participation = await sql`
      SELECT room_id, user_id, MAX(CASE WHEN role <> 'audience' THEN 1 ELSE 0 END) AS stage FROM room_participation
      WHERE ${id}::bigint IS NULL OR room_id = ${id} GROUP BY room_id, user_id ORDER BY room_id, user_id`
    const consents = await sql`
      SELECT DISTINCT room_id, user_id FROM recording_consents
      WHERE consent = 1 AND (${id}::bigint IS NULL OR room_id = ${id}) ORDER BY room_id, user_id`
    const rsvps = await sql`
      SELECT room_id, user_id, going FROM room_rsvps WHERE ${id}::bigint IS NULL OR room_id = ${id}
      ORDER BY room_id, created_at, user_id`
    return {
      rooms: rooms(all),
      people: people.map((r: Raw) => ({ ...pair(r), kind: r.kind as PersonKind })),
      removals: removals.map(pair),
      participation: participation.map((r: Raw) => ({ ...pair(r), stage: int(r.stage) })),
      consents: consents.map(pair),
      rsvps: rsvps.map((r: Raw) => ({ ...pair(r), going: int(r.going) })),
    }
  }
  async insert(r: NewRoom, tx?: Tx) {
    const now = Date.now()
    const [row] = await this.sql(tx)`
      INSERT INTO rooms (creator_id, host_id, title, description, link, kind, state, starts_at, started_at, created_at)
      VALUES (${r.creatorId}, ${r.creatorId}, ${r.title}, ${r.description}, ${r.link}, ${r.kind},
              ${r.live ? 'live' : 'scheduled'}, ${r.startsAt}, ${r.live ? now : null}, ${now})
      RETURNING id`
    return int(row.id)
  }
  async byId(id: number, tx?: Tx) {
    const [row] = await this.select(tx, 'id = $1', id)
    return row ? room(row) : null
  }
  async live(tx?: Tx) {
    return rooms(await this.select(tx, `state = 'live' ORDER BY id`))
  }
  async upcoming(since: number, tx?: Tx) {
    return rooms(
      await this.select(tx, `state = 'scheduled' AND starts_at >= $1 ORDER BY starts_at, id LIMIT 200`, since),
    )
  }
  async scheduledBetween(from: number, to: number, tx?: Tx) {
    const where = `state = 'scheduled' AND starts_at >= $1 AND starts_at < $2 ORDER BY starts_at, id`
    return rooms(await this.select(tx, where, from, to))
  }
  async startingBetween(from: number, to: number, tx?: Tx) {
    const where = `state IN ('scheduled', 'live') AND starts_at >= $1 AND starts_at < $2 ORDER BY starts_at, id`
    return rooms(await this.select(tx, where, from, to))
  }
  async start(id: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      UPDATE rooms SET state = 'live', started_at = ${Date.now()} WHERE id = ${id} AND state = 'scheduled'
      RETURNING id`
    return rows.length > 0
  }
  end(id: number, reason = 'ended', tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const at = Date.now()
      const sql = this.sql(tx)
      const rows = await sql`
        UPDATE rooms SET state = 'ended', ended_at = ${at} WHERE id = ${id} AND state != 'ended' RETURNING id`
      if (rows.length === 0) return false
      await sql`
        UPDATE room_participation SET to_at = ${at}, end_reason = ${reason} WHERE room_id = ${id} AND to_at IS NULL`
      return true
    })
  }
  async setHost(id: number, userId: number, tx?: Tx) {
    await this.sql(tx)`UPDATE rooms SET host_id = ${userId} WHERE id = ${id}`
  }
  async countByHost(userId: number, state: 'live' | 'scheduled', tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT COUNT(*) AS n FROM rooms WHERE host_id = ${userId} AND state = ${state}`
    return int(row.n)
  }

  async addPerson(roomId: number, userId: number, kind: PersonKind, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO room_people (room_id, user_id, kind) VALUES (${roomId}, ${userId}, ${kind})
      ON CONFLICT (room_id, user_id) DO UPDATE SET kind = excluded.kind`
  }
  async removePerson(roomId: number, userId: number, tx?: Tx) {
    await this.sql(tx)`DELETE FROM room_people WHERE room_id = ${roomId} AND user_id = ${userId}`
  }
  async people(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`SELECT user_id, kind FROM room_people WHERE room_id = ${roomId} ORDER BY user_id`
    return rows.map((r: Raw) => ({ user_id: int(r.user_id), kind: r.kind as PersonKind }))
  }
  async person(roomId: number, userId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT kind FROM room_people WHERE room_id = ${roomId} AND user_id = ${userId}`
    return row ? (row.kind as PersonKind) : null
  }
  async markRemoved(roomId: number, userId: number, byId: number | null, tx?: Tx) {
    const rows = await this.sql(tx)`
      INSERT INTO room_removals (room_id, user_id, by_id, created_at)
      VALUES (${roomId}, ${userId}, ${byId}, ${Date.now()})
      ON CONFLICT DO NOTHING RETURNING room_id`
    return rows.length > 0
  }
  async isRemoved(roomId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`SELECT 1 FROM room_removals WHERE room_id = ${roomId} AND user_id = ${userId}`
    return rows.length > 0
  }
  async removed(roomId: number, tx?: Tx) {
    return ids(await this.sql(tx)`SELECT user_id FROM room_removals WHERE room_id = ${roomId} ORDER BY user_id`)
  }

  async openStint(roomId: number, userId: number, role: RoomRole, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO room_participation (room_id, user_id, role, from_at)
      VALUES (${roomId}, ${userId}, ${role}, ${Date.now()})`
  }
  async closeStint(roomId: number, userId: number, reason: string, tx?: Tx) {
    await this.sql(tx)`
      UPDATE room_participation SET to_at = ${Date.now()}, end_reason = ${reason}
      WHERE room_id = ${roomId} AND user_id = ${userId} AND to_at IS NULL`
  }
  changeRole(roomId: number, userId: number, role: RoomRole, tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const at = Date.now()
      const sql = this.sql(tx)
      await sql`
        UPDATE room_participation SET to_at = ${at}, end_reason = 'role'
        WHERE room_id = ${roomId} AND user_id = ${userId} AND to_at IS NULL`
      await sql`
        INSERT INTO room_participation (room_id, user_id, role, from_at) VALUES (${roomId}, ${userId}, ${role}, ${at})`
    })
  }
  async stageUsers(roomId: number, tx?: Tx) {
    return ids(
      await this.sql(tx)`
      SELECT DISTINCT user_id FROM room_participation WHERE room_id = ${roomId} AND role != 'audience'
      ORDER BY user_id`,
    )
  }
  async participants(roomId: number, tx?: Tx) {
    return ids(
      await this.sql(tx)`
      SELECT DISTINCT user_id FROM room_participation WHERE room_id = ${roomId} ORDER BY user_id`,
    )
  }
  async wasParticipant(roomId: number, userId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT 1 FROM room_participation WHERE room_id = ${roomId} AND user_id = ${userId} LIMIT 1`
    return rows.length > 0
  }
  async history(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT user_id, role, from_at, to_at, end_reason FROM room_participation
      WHERE room_id = ${roomId} ORDER BY id LIMIT 5000`
    return rows.map(
      (r: Raw): HistoryRow => ({
        user_id: int(r.user_id),
        role: r.role as RoomRole,
        from_at: int(r.from_at),
        to_at: intOrNull(r.to_at),
        end_reason: (r.end_reason as string | null) ?? null,
      }),
    )
  }
  async openStints(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT user_id, role, from_at FROM room_participation WHERE room_id = ${roomId} AND to_at IS NULL ORDER BY id`
    return rows.map((r: Raw) => ({ user_id: int(r.user_id), role: r.role as RoomRole, from_at: int(r.from_at) }))
  }

  async edit(id: number, e: { title: string; description: string; startsAt: number }, tx?: Tx) {
    const rows = await this.sql(tx)`
      UPDATE rooms SET title = ${e.title}, description = ${e.description}, starts_at = ${e.startsAt},
        revision = revision + 1
      WHERE id = ${id} AND state = 'scheduled' RETURNING id`
    return rows.length > 0
  }
  async cancel(id: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      UPDATE rooms SET state = 'ended', ended_at = ${Date.now()}, cancelled = 1, revision = revision + 1
      WHERE id = ${id} AND state = 'scheduled' RETURNING id`
    return rows.length > 0
  }
  async peak(roomId: number, n: number, tx?: Tx) {
    await this.sql(tx)`UPDATE rooms SET peak_listeners = ${n} WHERE id = ${roomId} AND peak_listeners < ${n}`
  }
  async setRsvp(roomId: number, userId: number, going: boolean | null, tx?: Tx) {
    const sql = this.sql(tx)
    const rows =
      going === null
        ? await sql`DELETE FROM room_rsvps WHERE room_id = ${roomId} AND user_id = ${userId} RETURNING room_id`
        : await sql`
            INSERT INTO room_rsvps (room_id, user_id, going, created_at)
            VALUES (${roomId}, ${userId}, ${going ? 1 : 0}, ${Date.now()})
            ON CONFLICT (room_id, user_id) DO UPDATE SET going = excluded.going
            WHERE room_rsvps.going != excluded.going
            RETURNING room_id`
    return rows.length > 0
  }
  async rsvps(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT user_id, going FROM room_rsvps WHERE room_id = ${roomId} ORDER BY created_at, user_id`
    return rows.map((r: Raw) => ({ user_id: int(r.user_id), going: int(r.going) }))
  }
  async rsvpOf(roomId: number, userId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT going FROM room_rsvps WHERE room_id = ${roomId} AND user_id = ${userId}`
    return row ? int(row.going) === 1 : null
  }
  async calendarRooms(userId: number, since: number, tx?: Tx) {
    const where = `starts_at IS NOT NULL AND COALESCE(ended_at, starts_at) >= $1 AND (
        creator_id = $2
        OR id IN (SELECT room_id FROM room_people WHERE user_id = $2 AND kind = 'cohost')
        OR id IN (SELECT room_id FROM room_rsvps WHERE user_id = $2 AND going = 1))
      ORDER BY starts_at LIMIT 500`
    return rooms(await this.select(tx, where, since, userId))
  }
  async calendarSecret(userId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT secret FROM room_calendars WHERE user_id = ${userId}`
    return row ? (row.secret as string) : null
  }
  async calendarOwner(secret: string, tx?: Tx) {
    const [row] = await this.sql(tx)`SELECT user_id FROM room_calendars WHERE secret = ${secret}`
    return row ? int(row.user_id) : null
  }
  async setCalendarSecret(userId: number, secret: string, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO room_calendars (user_id, secret, created_at) VALUES (${userId}, ${secret}, ${Date.now()})
      ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at`
  }
  async search(words: string[], limit: number, tx?: Tx) {
    // The same cleaned words as FTS5's query (pg/0005): 'word1 & word2:*', each quoted as a lexeme.
    const clean = words.map((w) => w.replace(/[^\p{L}\p{N}_]/gu, '')).filter(Boolean)
    if (!clean.length) return []
    const q = clean.map((w, i) => `'${w}'${i === clean.length - 1 ? ':*' : ''}`).join(' & ')
    const rows = (await this.sql(tx).unsafe(
      `SELECT ${ROOM.replace(/(\w+)/g, 'rooms.$1')} FROM rooms, to_tsquery('simple', $1) query
       WHERE rooms.search @@ query AND rooms.cancelled = 0
       ORDER BY ts_rank(rooms.search, query) DESC, rooms.id DESC LIMIT $2`,
      [q, limit],
    )) as Raw[]
    return rooms(rows)
  }
  async byHosts(userIds: number[], limit: number, tx?: Tx) {
    if (!userIds.length) return []
    const where = `cancelled = 0 AND (host_id = ANY($1::bigint[]) OR creator_id = ANY($1::bigint[])
        OR id IN (SELECT room_id FROM room_people WHERE kind = 'cohost' AND user_id = ANY($1::bigint[])))
      ORDER BY id DESC LIMIT $2`
    return rooms(await this.select(tx, where, `{${userIds.map((n) => Math.trunc(n)).join(',')}}`, limit))
  }

  saveResume(states: { roomId: number; state: unknown }[], tx?: Tx) {
    return this.conn.atomic(tx, async (tx) => {
      const at = Date.now()
      const sql = this.sql(tx)
      for (const s of states)
        await sql`
          INSERT INTO room_resume (room_id, state, saved_at) VALUES (${s.roomId}, ${JSON.stringify(s.state)}, ${at})
          ON CONFLICT (room_id) DO UPDATE SET state = excluded.state, saved_at = excluded.saved_at`
    })
  }
  async takeResume(roomId: number, tx?: Tx) {
    const [row] = await this.sql(tx)`DELETE FROM room_resume WHERE room_id = ${roomId} RETURNING state`
    return parseResume(row?.state as string | undefined)
  }
  async dropStaleResume(tx?: Tx) {
    await this.sql(tx)`DELETE FROM room_resume WHERE room_id NOT IN (SELECT id FROM rooms WHERE state = 'live')`
  }

  async setRecording(roomId: number, on: boolean, tx?: Tx) {
    await this.sql(tx)`UPDATE rooms SET recording = ${on ? 1 : 0} WHERE id = ${roomId}`
  }
  async recordingOffEverywhere(tx?: Tx) {
    const rows = await this.sql(tx)`
      UPDATE rooms SET recording = 0 WHERE recording = 1 AND state IN ('scheduled', 'live') RETURNING id`
    return rows.map((r: Raw) => int(r.id)).sort((a: number, b: number) => a - b)
  }
  async addConsent(roomId: number, userId: number, consent: boolean, at: number, tx?: Tx) {
    await this.sql(tx)`
      INSERT INTO recording_consents (room_id, user_id, consent, at)
      VALUES (${roomId}, ${userId}, ${consent ? 1 : 0}, ${at})`
  }
  async latestConsents(roomId: number, tx?: Tx) {
    const rows = await this.sql(tx)`
      SELECT DISTINCT ON (user_id) user_id, consent, at FROM recording_consents WHERE room_id = ${roomId}
      ORDER BY user_id, id DESC`
    return rows.map((r: Raw) => ({ user_id: int(r.user_id), consent: int(r.consent), at: int(r.at) }))
  }
  async everConsented(roomId: number, tx?: Tx) {
    return ids(
      await this.sql(tx)`
      SELECT DISTINCT user_id FROM recording_consents WHERE room_id = ${roomId} AND consent = 1 ORDER BY user_id`,
    )
  }
}
