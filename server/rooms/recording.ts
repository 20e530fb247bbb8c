// Recording in the rooms (RP1–RP19): the host's switch (rooms.recording), the admin's (the `recording` setting), and
// each speaker's consent, every answer kept with its time in recording_consents. The replays domain's recorder follows
// the events this emits (`recording`, `consent`) and asks `consenting` before it writes a packet.
import type { Database } from 'bun:sqlite'
import type { Core } from '../core'
import { fail } from '../errors'
import { onStage, type Seat } from './session'

/** A speaker's current answer and when they gave it. */
export interface Consent {
  consent: boolean
  at: number
}

export class RecordingStore {
  private q
  constructor(db: Database) {
    this.q = {
      set: db.prepare<never, [number, number]>('UPDATE rooms SET recording = ? WHERE id = ?'),
      offEverywhere: db.prepare<{ id: number }, []>(
        `UPDATE rooms SET recording = 0 WHERE recording = 1 AND state IN ('scheduled', 'live') RETURNING id`,
      ),
      add: db.prepare<never, [number, number, number, number]>(
        'INSERT INTO recording_consents (room_id, user_id, consent, at) VALUES (?, ?, ?, ?)',
      ),
      latest: db.prepare<{ user_id: number; consent: number; at: number }, [number]>(
        `SELECT user_id, consent, at FROM recording_consents c WHERE room_id = ?1
           AND id = (SELECT MAX(id) FROM recording_consents WHERE room_id = ?1 AND user_id = c.user_id)`,
      ),
      everYes: db.prepare<{ user_id: number }, [number]>(
        'SELECT DISTINCT user_id FROM recording_consents WHERE room_id = ? AND consent = 1',
      ),
    }
  }

  set(roomId: number, on: boolean) {
    this.q.set.run(on ? 1 : 0, roomId)
  }
  /** The admin turned recording off: every scheduled and live room stops being recorded (RP3). */
  offEverywhere(): number[] {
    return this.q.offEverywhere.all().map((r) => r.id)
  }
  add(roomId: number, userId: number, consent: boolean, at: number) {
    this.q.add.run(roomId, userId, consent ? 1 : 0, at)
  }
  /** Each speaker's latest answer in a room (a restart reads them back). */
  latest(roomId: number): Map<number, Consent> {
    return new Map(this.q.latest.all(roomId).map((r) => [r.user_id, { consent: r.consent === 1, at: r.at }]))
  }
  /** Who said yes at least once in a room. */
  everConsented(roomId: number): Set<number> {
    return new Set(this.q.everYes.all(roomId).map((r) => r.user_id))
  }
}

/**
 * The one permission check of a consent (RP12): a member in the live room (guests are refused by the protocol), on
 * its stage, while the room is recorded. Returns the seat.
 */
export function mayConsent(core: Core, recording: boolean, seat: Seat): Seat {
  if (!recording || !core.settings.get().recording) fail('room_not_recorded')
  if (seat.userId === null || !onStage(seat.role)) fail('not_on_stage')
  return seat
}

/** RP6/RP7: whether a packet that arrived at `arrivedAt` may be written: a yes given before it, not taken back. */
export function consentCovers(c: Consent | null | undefined, arrivedAt: number) {
  return !!c && c.consent && arrivedAt >= c.at
}
