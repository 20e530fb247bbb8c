// The pieces of a room's event the hallway's cards share with the event page (client/components/rooms/event.ts):
// times, who is coming, "Remind me". Kept apart from the event page so that the hallway (in the entry script) does not
// pull in the room screen.
import { html } from 'htm/preact'
import { useState } from 'preact/hooks'
import { answerRoom, type RsvpView } from '../../app/rooms'
import { notify, notifyError } from '../../app/state'
import { Avatar } from '../ui'
import { LineIcon } from '../icons'

// ── time ──
/** "in 25 min", "in 3 h", "tomorrow", "in 4 days", "5 min ago". */
export function relative(ms: number, now = Date.now()) {
  const d = ms - now
  const a = Math.abs(d)
  const past = d < 0
  const say = (n: number, unit: string) => (past ? `${n} ${unit} ago` : `in ${n} ${unit}`)
  if (a < 60_000) return past ? 'just now' : 'in a minute'
  if (a < 3600_000) return say(Math.round(a / 60_000), 'min')
  if (a < 20 * 3600_000) return say(Math.round(a / 3600_000), 'h')
  const days = Math.round(a / 86_400_000)
  if (days <= 1) return past ? 'yesterday' : 'tomorrow'
  return say(days, 'days')
}
// Dates without Intl: the page's first Intl formatter costs ~40 ms of the main thread (ICU's locale and time zone
// data; ~200 ms on a mid-range phone), enough to block the hallway's first screen. Date's own getters cost nothing.
// The reader's conventions come from the browser's language: American English puts the month first and uses a 12-hour
// clock; everyone else gets the day first and 24 hours (the app's words are English either way).
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const american = /^en(-(US|CA|PH))?$/i.test(globalThis.navigator?.language ?? '')
const two = (n: number) => String(n).padStart(2, '0')

/** A time in the reader's zone: "Sat 5 Dec, 18:30" ("Sat, Dec 5, 6:30 PM" in American English). */
export function localTime(ms: number) {
  const d = new Date(ms)
  const h = d.getHours()
  const day = DAYS[d.getDay()]
  const mon = MONTHS[d.getMonth()]
  if (american) return `${day}, ${mon} ${d.getDate()}, ${h % 12 || 12}:${two(d.getMinutes())} ${h < 12 ? 'AM' : 'PM'}`
  return `${day} ${d.getDate()} ${mon}, ${two(h)}:${two(d.getMinutes())}`
}
/** The weekday ("Sat") and the month ("Dec") of a time, for a calendar leaf. */
export const weekday = (ms: number) => DAYS[new Date(ms).getDay()]!
export const month = (ms: number) => MONTHS[new Date(ms).getMonth()]!

// ── pieces ──
/** Who is coming: faces and a count. */
export function Going({ rsvp, size = 28 }: { rsvp: RsvpView; size?: number }) {
  if (rsvp.going === 0) return html`<span class="muted small">Nobody said yes yet</span>`
  return html`<span class="going row center gap">
    <span class="faces" aria-hidden="true">
      ${rsvp.people.slice(0, 5).map((u) => html`<${Avatar} user=${u} size=${size} />`)}
    </span>
    <span class="small"><strong>${rsvp.going}</strong> going</span>
  </span>`
}

/** "Remind me" (a yes) and, when asked for, "Not going"; the answer is the server's. */
export function RsvpButtons({
  roomId,
  rsvp,
  onChange,
  withNo = false,
  describedBy,
}: {
  roomId: number
  rsvp: RsvpView
  onChange: (r: RsvpView) => void
  withNo?: boolean
  describedBy?: string
}) {
  const [busy, setBusy] = useState(false)
  const answer = async (a: 'yes' | 'no' | null) => {
    setBusy(true)
    try {
      const r = await answerRoom(roomId, a)
      onChange(r)
      if (a === 'yes') notify('We will remind you 10 minutes before and at the start')
    } catch (e) {
      notifyError(e)
    } finally {
      setBusy(false)
    }
  }
  const yes = rsvp.mine === 'yes'
  return html`<span class="rsvp-buttons row gap wrap">
    <button class=${'btn small' + (yes ? ' active' : ' primary')} aria-pressed=${yes} disabled=${busy}
      aria-describedby=${describedBy} onClick=${() => answer(yes ? null : 'yes')}>
      <${LineIcon} name=${yes ? 'check' : 'bell'} /> ${yes ? 'Going' : 'Remind me'}
    </button>
    ${
      withNo &&
      html`<button class=${'btn small' + (rsvp.mine === 'no' ? ' active' : '')} aria-pressed=${rsvp.mine === 'no'}
        disabled=${busy} onClick=${() => answer(rsvp.mine === 'no' ? null : 'no')}>Not going</button>`
    }
  </span>`
}
