// The recorder (RP13–RP19): while a room is live and recorded (its host's switch and the admin's setting), it taps the
// room's uplinks (MediaApi.tap, M54) and appends each packet of a speaker who consents, at the packet's arrival time,
// to that speaker's capture file (capture-format.ts), DATA_DIR/recordings/<roomId>/<userId>.cap. Packets are buffered
// and written every FLUSH_MS, so a crash loses at most that much; the track's row follows (bytes, updated_at). The
// disk's free space is checked before a room starts recording and every DISK_CHECK_MS: below RECORDING_MIN_FREE_MB
// the room's recording pauses and the room is told; it goes on by itself once there is room again. After a restart
// the rooms that are still live and recorded start again, appending to the same files (a torn tail is cut first); so
// does a node that takes a live room over from another (RoomEvents.moved).
import { closeSync, mkdirSync, statfsSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { MediaApi, RoomsApi, TapPacket } from '../contracts'
import type { Core } from '../core'
import { consentCovers } from '../rooms/recording'
import { CAPTURE_MAGIC, encodeRecord, openCaptureForAppend } from './capture-format'
import type { ReplaysStore } from './store'

/** How often buffered packets are written (RP15: a crash loses at most about this much). */
const FLUSH_MS = 500
/** How often the disk's free space is checked while rooms record (RP16). */
const DISK_CHECK_MS = 3000

/** One speaker's capture file, open for appending, and the records not written yet. */
interface Track {
  userId: number
  fd: number
  bytes: number
  pending: Buffer[]
}

/** A room being recorded: its tap (null while paused) and its open tracks. */
interface Recording {
  roomId: number
  untap: (() => void) | null
  tracks: Map<number, Track>
  /** Tracks that could not be opened: not retried until the room records again (logged once). */
  failed: Set<number>
}

export interface RecorderDeps {
  core: Core
  rooms: RoomsApi
  media: MediaApi
  store: ReplaysStore
  /** A recorded room ended with audio in it: its replay row was inserted in state 'pending' (RP19). */
  pending: (e: { replayId: number; roomId: number }) => void
}

export class Recorder {
  private readonly recordings = new Map<number, Recording>()
  private flushTimer: ReturnType<typeof setInterval> | null = null
  private diskTimer: ReturnType<typeof setInterval> | null = null
  private readonly dir: string
  /** Track rows being written. */
  private readonly writes = new Set<Promise<void>>()

  constructor(private deps: RecorderDeps) {
    this.dir = join(deps.core.config.dataDir, 'recordings')
    const { rooms } = deps
    rooms.on('started', ({ roomId }) => this.follow(roomId))
    rooms.on('recording', ({ roomId }) => this.follow(roomId))
    // A room that moves between nodes (W45, W26): the node that took it records it from now on, appending to the same
    // files (one DATA_DIR for every node); the one it left writes what it buffered and closes them first.
    rooms.on('moved', ({ roomId, here }) => (here ? this.follow(roomId) : this.halt(roomId)))
    rooms.on('ended', ({ roomId }) =>
      this.finish(roomId).catch((error) =>
        deps.core.log.error('recorder: unable to queue the replay of an ended room', { roomId, error }),
      ),
    )
  }

  /** Timers, and the rooms a previous run left live and recorded (RP17). */
  start() {
    this.flushTimer = setInterval(() => this.flush(), FLUSH_MS)
    this.diskTimer = setInterval(() => this.checkDisk(), DISK_CHECK_MS)
    for (const roomId of this.deps.rooms.recordedRooms()) this.follow(roomId)
  }

  /** Writes what is buffered and closes every file (and waits for their rows); the rooms stay recorded. */
  async stop() {
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.diskTimer) clearInterval(this.diskTimer)
    this.flushTimer = this.diskTimer = null
    for (const roomId of [...this.recordings.keys()]) this.halt(roomId)
    await Promise.all(this.writes)
  }

  /** Rooms recording now, and how many tracks are open (tests, metrics). */
  stats() {
    let tracks = 0
    for (const r of this.recordings.values()) tracks += r.tracks.size
    return { rooms: this.recordings.size, tracks }
  }

  /** Starts or stops recording a room to match what the rooms say (the host's switch and the admin's setting). */
  private follow(roomId: number) {
    if (this.deps.rooms.recording(roomId)) this.begin(roomId)
    else this.halt(roomId)
  }

  private begin(roomId: number) {
    let rec = this.recordings.get(roomId)
    if (!rec) {
      rec = { roomId, untap: null, tracks: new Map(), failed: new Set() }
      this.recordings.set(roomId, rec)
    }
    if (rec.untap) return
    if (!this.diskHasRoom()) {
      this.deps.rooms.setRecordingPaused(roomId, true)
      return
    }
    const r = rec
    rec.untap = this.deps.media.tap(roomId, (p) => this.packet(r, p))
    this.deps.rooms.setRecordingPaused(roomId, false)
  }

  /** Pauses a room's recording (disk low): the tap goes, what is buffered is written, the files stay open. */
  private pause(rec: Recording) {
    rec.untap?.()
    rec.untap = null
    this.flushRoom(rec)
    this.deps.rooms.setRecordingPaused(rec.roomId, true)
  }

  /** Stops recording a room: the tap goes, buffered packets are written, files closed. */
  private halt(roomId: number) {
    const rec = this.recordings.get(roomId)
    if (!rec) return
    rec.untap?.()
    rec.untap = null
    this.flushRoom(rec)
    for (const t of rec.tracks.values()) {
      try {
        closeSync(t.fd)
      } catch (error) {
        this.deps.core.log.error('recorder: unable to close a capture file', { roomId, userId: t.userId, error })
      }
    }
    this.recordings.delete(roomId)
    this.deps.rooms.setRecordingPaused(roomId, false)
  }

  /** RP6/RP7: only the packets of a speaker whose yes covers the packet's arrival time are kept. */
  private packet(rec: Recording, p: TapPacket) {
    if (p.userId === null || !rec.untap) return
    if (!consentCovers(this.deps.rooms.consent(rec.roomId, p.userId), p.arrivedAt)) return
    const track = rec.tracks.get(p.userId) ?? this.open(rec, p.userId)
    if (!track) return
    try {
      track.pending.push(
        encodeRecord({ seq: p.seq, timestamp: p.timestamp, arrivedAt: p.arrivedAt, payload: p.payload }),
      )
    } catch (error) {
      this.deps.core.log.warn('recorder: a packet was not kept', { roomId: rec.roomId, userId: p.userId, error })
    }
  }

  private open(rec: Recording, userId: number): Track | null {
    if (rec.failed.has(userId)) return null
    const rel = join('recordings', String(rec.roomId), `${userId}.cap`)
    try {
      mkdirSync(join(this.dir, String(rec.roomId)), { recursive: true })
      const { fd, bytes } = openCaptureForAppend(join(this.deps.core.config.dataDir, rel))
      this.persist(this.deps.store.openTrack(rec.roomId, userId, rel, bytes), rec.roomId)
      const track: Track = { userId, fd, bytes, pending: [] }
      rec.tracks.set(userId, track)
      return track
    } catch (error) {
      rec.failed.add(userId)
      this.deps.core.log.error('recorder: unable to open a capture file', { roomId: rec.roomId, userId, error })
      return null
    }
  }

  /** Writes every room's buffered packets (RP15). */
  private flush() {
    for (const rec of this.recordings.values()) this.flushRoom(rec)
  }

  private flushRoom(rec: Recording) {
    for (const t of rec.tracks.values()) {
      if (t.pending.length === 0) continue
      const chunk = Buffer.concat(t.pending)
      t.pending = []
      try {
        writeSync(t.fd, chunk)
        t.bytes += chunk.length
        this.persist(this.deps.store.trackWritten(rec.roomId, t.userId, t.bytes), rec.roomId)
      } catch (error) {
        // A failed write (a full disk) loses this chunk; the disk check pauses the room if the disk is full.
        this.deps.core.log.error('recorder: unable to write a capture file', {
          roomId: rec.roomId,
          userId: t.userId,
          error,
        })
      }
    }
  }

  /** RP16: pauses the rooms when the disk is low, and lets them go on when it is not. */
  private checkDisk() {
    if (this.recordings.size === 0) return
    const ok = this.diskHasRoom()
    for (const rec of this.recordings.values()) {
      if (!ok && rec.untap) this.pause(rec)
      else if (ok && !rec.untap) this.begin(rec.roomId)
    }
  }

  private diskHasRoom() {
    const min = this.deps.core.config.recordingMinFreeMb * 1024 * 1024
    try {
      mkdirSync(this.dir, { recursive: true })
      const s = statfsSync(this.dir)
      return s.bavail * s.bsize >= min
    } catch (error) {
      this.deps.core.log.error('recorder: unable to read the free disk space', { dir: this.dir, error })
      return false
    }
  }

  /**
   * A room ended: its recording stops, and if any track holds packets its replay row is inserted, 'pending', with the
   * speakers left out of it (RP18, RP19).
   */
  private async finish(roomId: number) {
    this.halt(roomId)
    // The tracks' rows as the last writes left them (on Postgres they may still be on their way).
    await Promise.all(this.writes)
    const tracks = await this.deps.store.tracks(roomId)
    if (!tracks.some((t) => t.bytes > CAPTURE_MAGIC.length)) return
    const consented = this.deps.rooms.everConsented(roomId)
    const leftOut = this.deps.rooms.stageUsers(roomId).filter((u) => !consented.has(u))
    const replayId = await this.deps.store.insertPending(roomId, leftOut)
    if (replayId !== null) this.deps.pending({ replayId, roomId })
  }

  /**
   * A track row's write, not awaited by the packet path: the capture file is the truth (a restart reads its length),
   * the row says where it is and how much it holds. A failed write is logged; `finish` waits for those under way.
   */
  private persist(write: Promise<void>, roomId: number) {
    const p = write.catch((error) =>
      this.deps.core.log.error('recorder: unable to note a capture file', { roomId, error }),
    )
    this.writes.add(p)
    void p.finally(() => this.writes.delete(p))
  }
}
