// The hallway's upcoming rooms as event cards (time relative and local, hosts, a description excerpt, who is coming,
// "Remind me", share), the private calendar feed's sheet, and finding rooms (live, upcoming, past).
import { html } from 'htm/preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { navigate } from '../../app/router'
import {
  calendarFeed,
  copyText,
  findRooms,
  newCalendarFeed,
  startRoom,
  type HallwayRoom,
  type RoomSearchResults,
} from '../../app/rooms'
import { errorText, me, notify, notifyError } from '../../app/state'
import { Avatar, Empty } from '../ui'
import { LineIcon } from '../icons'
import { Going, localTime, month, relative, RsvpButtons, weekday } from './rsvp'
import { ShareButton } from './share'
import { Recorded } from './recording'
import { Sheet } from './sheet'

const KIND_LABEL = { open: '', social: 'Social', closed: 'Closed' } as const

export function UpcomingCard({ r }: { r: HallwayRoom }) {
  const [rsvp, setRsvp] = useState(r.rsvp)
  useEffect(() => setRsvp(r.rsvp), [r.rsvp.going, r.rsvp.mine])
  const hosts = [r.host, ...r.cohosts.filter((c) => c.id !== r.host.id)]
  const hostly = !!me.value && hosts.some((h) => h.id === me.value!.id)
  const [record, setRecord] = useState(r.recording)
  const start = async () => {
    try {
      await startRoom(r.id, { recording: record })
      navigate(`/rooms/${r.id}`)
    } catch (e) {
      notifyError(e)
    }
  }
  const at = r.startsAt ?? 0
  const id = 'up-' + r.id
  return html`<li class="event-item">
    <time class="when" datetime=${new Date(at).toISOString()}>
      <strong>${weekday(at)}</strong>
      <span class="when-day">${new Date(at).getDate()}</span>
      <span>${month(at)}</span>
    </time>
    <div class="grow stack tight">
      <div class="event-item-top">
        <a class="event-item-title" id=${id} href=${'/rooms/' + r.id}>${r.title}</a>
        ${KIND_LABEL[r.kind] && html`<span class="badge">${KIND_LABEL[r.kind]}</span>`}
      </div>
      <div class="small event-item-when">
        <strong>${relative(at)}</strong> <span class="muted">· ${localTime(at)}</span>
      </div>
      <div class="row center gap small event-item-hosts">
        <span class="faces" aria-hidden="true">
          ${hosts.slice(0, 3).map((u) => html`<${Avatar} user=${u} size=${22} />`)}
        </span>
        <span class="grow ellipsis">with ${hosts.map((h) => h.displayName).join(', ')}</span>
      </div>
      ${r.description && html`<p class="room-card-desc muted small">${r.description}</p>`}
      ${r.recording && html`<${Recorded} />`}
      <div class="row center gap wrap event-item-actions">
        <${Going} rsvp=${rsvp} size=${22} />
        <span class="grow"></span>
        ${
          hostly
            ? html`<label class="switch-line small">
                  <input type="checkbox" checked=${record} onChange=${(e: any) => setRecord(e.target.checked)} />
                  Record</label>
                <button class="btn small primary" aria-describedby=${id} onClick=${start}>Start</button>`
            : html`<${RsvpButtons} roomId=${r.id} rsvp=${rsvp} onChange=${setRsvp} describedBy=${id} />`
        }
        <${ShareButton} room=${r} label="" className="btn small icon-only" />
      </div>
    </div>
  </li>`
}

/** My private calendar feed: its address to copy into a calendar app, and a new one when it leaked. */
export function CalendarSheet({ onClose }: { onClose: () => void }) {
  const [url, setUrl] = useState<string | null>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    calendarFeed().then(setUrl, (e) => setError(errorText(e)))
  }, [])
  const regenerate = async () => {
    if (!confirm('Make a new address? Calendars using the old one stop updating.')) return
    try {
      setUrl(await newCalendarFeed())
      notify('New calendar address made')
    } catch (e) {
      notifyError(e)
    }
  }
  return html`<${Sheet} title="Your calendar feed" onClose=${onClose}>
    <div class="stack">
      <p class="small">
        Subscribe to this private address in your calendar app: it lists the rooms you host and the ones you said
        you are going to, and keeps them up to date.
      </p>
      ${error && html`<p class="form-error" role="alert">${error}</p>`}
      <label class="field"><span class="field-label">Private address</span>
        <input id="calendar-url" readonly value=${url ?? 'Loading…'} onFocus=${(e: any) => e.target.select()} />
      </label>
      <p class="muted small">Keep it to yourself: anyone with it sees these rooms.</p>
      <div class="row gap wrap">
        <button class="btn primary" disabled=${!url}
          onClick=${async () => notify((await copyText(url!)) ? 'Address copied' : 'Select the address and copy it')}>
          <${LineIcon} name="clip" /> Copy address
        </button>
        <button class="btn" disabled=${!url} onClick=${regenerate}>Make a new address</button>
      </div>
    </div>
  </${Sheet}>`
}

// ── finding rooms ──
type Hit = RoomSearchResults['live'][number]

function HitItem({ r }: { r: Hit }) {
  const at = r.state === 'ended' ? (r.endedAt ?? 0) : (r.startsAt ?? 0)
  return html`<li class="list-item search-hit">
    <${Avatar} user=${r.host} size=${36} />
    <div class="grow">
      <a href=${'/rooms/' + r.id} class="search-hit-title">${r.title}</a>
      <div class="muted small ellipsis">
        ${r.host.displayName} ·
        ${r.state === 'live' ? 'live now' : r.state === 'scheduled' ? localTime(at) : `ended ${relative(at)}`}
      </div>
      ${r.description && html`<div class="muted small ellipsis">${r.description}</div>`}
    </div>
    ${r.state === 'live' && html`<span class="badge live-badge">Live</span>`}
  </li>`
}

function Group({ title, list }: { title: string; list: Hit[] }) {
  if (list.length === 0) return null
  const id = 'find-' + title.toLowerCase()
  return html`<section class="card search-group" aria-labelledby=${id}>
    <h2 id=${id} class="section-title">${title} <span class="muted">${list.length}</span></h2>
    <ul class="list">${list.map((r) => html`<${HitItem} key=${r.id} r=${r} />`)}</ul>
  </section>`
}

/** The search field; while it holds a query, `onActive(true)` and the results replace the hallway's lists. */
export function FindRooms({ onActive }: { onActive: (on: boolean) => void }) {
  const [q, setQ] = useState('')
  const [res, setRes] = useState<RoomSearchResults | null>(null)
  const [error, setError] = useState('')
  const seq = useRef(0)
  useEffect(() => {
    const text = q.trim()
    onActive(!!text)
    if (!text) {
      setRes(null)
      return
    }
    const n = ++seq.current
    const t = setTimeout(() => {
      findRooms(text.slice(0, 100)).then(
        (r) => {
          if (n === seq.current) {
            setRes(r)
            setError('')
          }
        },
        (e) => n === seq.current && setError(errorText(e)),
      )
    }, 200)
    return () => clearTimeout(t)
  }, [q])
  const none = res && !res.live.length && !res.upcoming.length && !res.past.length
  return html`<div class="find-rooms">
    <div class="search-field pad" role="search">
      <label class="visually-hidden" for="find-rooms">Find rooms</label>
      <span class="search-icon" aria-hidden="true"><${LineIcon} name="search" /></span>
      <input id="find-rooms" type="search" maxlength="100" placeholder="Find rooms by title, topic or host"
        value=${q} onInput=${(e: any) => setQ(e.target.value)} />
    </div>
    ${
      q.trim() &&
      html`<div class="search-results" aria-live="polite">
        ${error && html`<${Empty}>${error}</${Empty}>`}
        ${!res && !error && html`<p class="muted pad">Searching…</p>`}
        ${none && html`<${Empty}>No rooms match “${q.trim()}”.</${Empty}>`}
        ${
          res &&
          html`<${Group} title="Live" list=${res.live} /><${Group} title="Upcoming" list=${res.upcoming} />
          <${Group} title="Past" list=${res.past} />`
        }
      </div>`
    }
  </div>`
}
