// The recorder's rows in SQLite: the capture tracks (recording_tracks) and the pending replay of an ended room.
import type { Database } from 'bun:sqlite'

interface TrackRow {
  room_id: number
  user_id: number
  path: string
  started_at: number
  updated_at: number
  bytes: number
}

export class CaptureStore {
  private q
  constructor(db: Database) {
    this.q = {
      openTrack: db.prepare<never, [number, number, string, number, number, number]>(
        `INSERT INTO recording_tracks (room_id, user_id, path, started_at, updated_at, bytes) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (room_id, user_id) DO UPDATE SET bytes = excluded.bytes, updated_at = excluded.updated_at`,
      ),
      written: db.prepare<never, [number, number, number, number]>(
        'UPDATE recording_tracks SET bytes = ?, updated_at = ? WHERE room_id = ? AND user_id = ?',
      ),
      tracks: db.prepare<TrackRow, [number]>('SELECT * FROM recording_tracks WHERE room_id = ? ORDER BY user_id'),
      insertPending: db.prepare<{ id: number }, [number, string, number]>(
        `INSERT INTO replays (room_id, state, left_out, created_at) VALUES (?, 'pending', ?, ?)
         ON CONFLICT (room_id) DO NOTHING RETURNING id`,
      ),
    }
  }

  /** A track's file was opened (created, or reopened after a restart with `bytes` whole bytes in it). */
  openTrack(roomId: number, userId: number, path: string, bytes: number) {
    const now = Date.now()
    this.q.openTrack.run(roomId, userId, path, now, now, bytes)
  }

  trackWritten(roomId: number, userId: number, bytes: number) {
    this.q.written.run(bytes, Date.now(), roomId, userId)
  }

  tracks(roomId: number) {
    return this.q.tracks.all(roomId)
  }

  /** The replay of an ended room, waiting for the mix; null if the room already has one. */
  insertPending(roomId: number, leftOut: number[]): number | null {
    try {
      return this.q.insertPending.get(roomId, JSON.stringify(leftOut), Date.now())?.id ?? null
    } catch (e) {
      throw new Error(`store: unable to add the replay of room ${roomId}: ${(e as Error).message}`)
    }
  }
}
