// The capture file: one per speaker per recorded room, append-only, written as packets arrive (no transcoding while
// live). A file is a magic header, then records; a record is a fixed 16-byte head and the Opus payload:
//
//   offset 0  u16 payload length (bytes, ≤ 1500)
//   offset 2  u16 RTP sequence number
//   offset 4  u32 RTP timestamp (48 kHz)
//   offset 8  f64 arrival time (epoch ms, sub-millisecond)
//   offset 16 payload
//
// All little-endian. A crash can leave a torn last record; readers stop at it, and a writer reopening the file cuts
// it off before appending (so a restart never corrupts what was written).
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'

export const CAPTURE_MAGIC = Buffer.from('THCAP001')
export const RECORD_HEAD = 16
export const MAX_PAYLOAD = 1500

export interface CaptureRecord {
  seq: number
  timestamp: number
  arrivedAt: number
  payload: Buffer
}

/** One record's bytes (head and payload). */
export function encodeRecord(r: CaptureRecord): Buffer {
  if (r.payload.length > MAX_PAYLOAD) throw new RangeError(`payload of ${r.payload.length} bytes`)
  const out = Buffer.allocUnsafe(RECORD_HEAD + r.payload.length)
  out.writeUInt16LE(r.payload.length, 0)
  out.writeUInt16LE(r.seq & 0xffff, 2)
  out.writeUInt32LE(r.timestamp >>> 0, 4)
  out.writeDoubleLE(r.arrivedAt, 8)
  r.payload.copy(out, RECORD_HEAD)
  return out
}

/**
 * The records of a capture file's bytes, in order, and where the last whole record ends (`validBytes`): a torn tail
 * (a crash mid-write) is left out. Throws if the header is not ours.
 */
export function decodeCapture(bytes: Uint8Array): { records: CaptureRecord[]; validBytes: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < CAPTURE_MAGIC.length) return { records: [], validBytes: 0 }
  if (!buf.subarray(0, CAPTURE_MAGIC.length).equals(CAPTURE_MAGIC)) throw new Error('not a Townhall capture file')
  const records: CaptureRecord[] = []
  let at = CAPTURE_MAGIC.length
  while (at + RECORD_HEAD <= buf.length) {
    const len = buf.readUInt16LE(at)
    if (len > MAX_PAYLOAD || at + RECORD_HEAD + len > buf.length) break
    records.push({
      seq: buf.readUInt16LE(at + 2),
      timestamp: buf.readUInt32LE(at + 4),
      arrivedAt: buf.readDoubleLE(at + 8),
      payload: Buffer.from(buf.subarray(at + RECORD_HEAD, at + RECORD_HEAD + len)),
    })
    at += RECORD_HEAD + len
  }
  return { records, validBytes: at }
}

/**
 * Opens a capture file for appending: creates it with its header, or cuts a torn tail off an existing one. Returns
 * the file descriptor (positioned at the end) and its size.
 */
export function openCaptureForAppend(path: string): { fd: number; bytes: number } {
  const fd = openSync(path, 'a+')
  try {
    const size = fstatSync(fd).size
    if (size < CAPTURE_MAGIC.length) {
      ftruncateSync(fd, 0)
      // 'a+' appends every write at the end, whatever the position.
      writeSync(fd, CAPTURE_MAGIC)
      return { fd, bytes: CAPTURE_MAGIC.length }
    }
    const all = Buffer.allocUnsafe(size)
    readSync(fd, all, 0, size, 0)
    const { validBytes } = decodeCapture(all)
    if (validBytes < size) ftruncateSync(fd, validBytes)
    return { fd, bytes: validBytes }
  } catch (err) {
    closeSync(fd)
    throw err
  }
}
