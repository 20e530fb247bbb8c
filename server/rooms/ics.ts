// iCalendar (RFC 5545) for rooms: one event (`/rooms/<id>.ics`) or a member's feed (`/calendar/<secret>.ics`).
// Text values are escaped (\ ; , and newlines), lines are folded at 75 octets without splitting a character, and
// every line ends with CRLF.
import type { PublicUser } from '../protocol'
import type { RoomRow } from './model'

/** A room without an end yet is shown as lasting this long. */
const DEFAULT_LENGTH_MS = 3600_000

const escapeText = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\r\n|\r|\n/g, '\\n')

/** Folds a content line: at most 75 octets per line, continuation lines start with a space. */
function fold(line: string) {
  const out: string[] = []
  let cur = ''
  let bytes = 0
  for (const ch of line) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > (out.length ? 74 : 75)) {
      out.push(cur)
      cur = ''
      bytes = 0
    }
    cur += ch
    bytes += n
  }
  out.push(cur)
  return out.join('\r\n ')
}

const stamp = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')

export interface IcsRoom {
  room: RoomRow
  hosts: PublicUser[]
  url: string
}

function vevent({ room, hosts, url }: IcsRoom, host: string) {
  const start = room.started_at ?? room.starts_at ?? room.created_at
  const end = room.ended_at && room.started_at ? room.ended_at : start + DEFAULT_LENGTH_MS
  const who = hosts.map((h) => `${h.displayName} (@${h.username})`).join(', ')
  const description = [room.description, who && `Hosted by ${who}`, url].filter(Boolean).join('\n\n')
  return [
    'BEGIN:VEVENT',
    `UID:room-${room.id}@${host}`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SEQUENCE:${room.revision}`,
    `STATUS:${room.cancelled ? 'CANCELLED' : 'CONFIRMED'}`,
    `SUMMARY:${escapeText(room.title)}`,
    `DESCRIPTION:${escapeText(description)}`,
    `URL:${url}`,
    `LOCATION:${escapeText(url)}`,
    'END:VEVENT',
  ]
}

/** A VCALENDAR with one VEVENT per room; `name` names a feed. */
export function icsCalendar(rooms: IcsRoom[], origin: string, name?: string) {
  const host = new URL(origin).host
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Townhall//Rooms//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    ...(name ? [`X-WR-CALNAME:${escapeText(name)}`, 'REFRESH-INTERVAL;VALUE=DURATION:PT1H'] : []),
    ...rooms.flatMap((r) => vevent(r, host)),
    'END:VCALENDAR',
  ]
  return lines.map(fold).join('\r\n') + '\r\n'
}
