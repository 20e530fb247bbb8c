// The hallway: the live rooms I may join (people I follow on stage first), upcoming rooms, and "Start a room".
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { lazy } from '../../app/router'
import { currentRoomId, hallway, hallwayError, roomStatus, watchHallway, type HallwayRoom } from '../../app/rooms'
import { Avatar, Empty, Header } from '../ui'
import { Icon, LineIcon } from '../icons'
import { ShareButton } from './share'
import { Recorded } from './recording'
import { CalendarSheet, FindRooms, UpcomingCard } from './upcoming'

// "Start a room" loads its sheet on first use.
const CreateRoomSheet = lazy(() => import('./create').then((m) => m.CreateRoomSheet), { quiet: true })

const KIND_LABEL = { open: '', social: 'Social', closed: 'Closed' } as const

function names(r: HallwayRoom) {
  const shown = r.speakers.slice(0, 3).map((u) => u.displayName)
  const more = r.speakerCount - shown.length
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ')
}

function LiveCard({ r }: { r: HallwayRoom }) {
  const id = `room-title-${r.id}`
  return html`<li class="room-card card">
    <div class="room-card-top">
      <h3 id=${id}><a href=${'/rooms/' + r.id}>${r.title}</a></h3>
      ${KIND_LABEL[r.kind] && html`<span class="badge">${KIND_LABEL[r.kind]}</span>`}
      ${r.full && html`<span class="badge warn">This room is full</span>`}
    </div>
    ${r.description && html`<p class="room-card-desc muted small">${r.description}</p>`}
    <div class="row center gap">
      <div class="faces" aria-hidden="true">${r.speakers.map((u) => html`<${Avatar} user=${u} size=${36} />`)}</div>
      <div class="grow small">
        <div class="room-card-names">${names(r)}</div>
        <div class="muted counts-line">
          <span>
            <${Icon} name="mic" size=${14} /> ${r.speakerCount}<span class="visually-hidden"> on stage</span>
          </span>
          ${' '}
          <span>
            <${Icon} name="headphones" size=${14} /> ${r.listenerCount}<span class="visually-hidden"> listening</span>
          </span>
          ${r.followedOnStage > 0 && html`<span class="follow-note">People you follow</span>`}
        </div>
        ${r.recording && html`<${Recorded} />`}
      </div>
      <${ShareButton} room=${r} label="" className="btn small icon-only" />
      ${
        currentRoomId.value === r.id && roomStatus.value === 'joined'
          ? html`<a class="btn small" href=${'/rooms/' + r.id} aria-describedby=${id}>Return</a>`
          : html`<a class="btn primary small" href=${'/rooms/' + r.id} aria-describedby=${id}>Join</a>`
      }
    </div>
  </li>`
}

export function Hallway() {
  const [creating, setCreating] = useState(false)
  const [calendar, setCalendar] = useState(false)
  const [finding, setFinding] = useState(false)
  useEffect(() => watchHallway(), [])
  const h = hallway.value
  return html`<${Header} title="Hallway">
      <a class="btn small" href="/replays">Replays</a>
      <button class="btn primary small" onClick=${() => setCreating(true)}>Start a room</button>
    </${Header}>
  <${FindRooms} onActive=${setFinding} />
  ${
    finding
      ? null
      : hallwayError.value && !h
        ? html`<${Empty}>${hallwayError.value}</${Empty}>`
        : !h
          ? html`<p class="muted pad">Loading…</p>`
          : html`
    <section aria-labelledby="live-h">
      <h2 id="live-h" class="section-title pad">Live now</h2>
      ${
        h.live.length === 0
          ? html`<${Empty}>No live rooms right now. Start one!</${Empty}>`
          : html`<ul class="list rooms">${h.live.map((r) => html`<${LiveCard} key=${r.id} r=${r} />`)}</ul>`
      }
    </section>
    ${
      h.upcoming.length > 0 &&
      html`<section aria-labelledby="up-h" class="card upcoming-card">
      <div class="row center gap">
        <h2 id="up-h" class="section-title grow">Upcoming</h2>
        <button class="btn small" onClick=${() => setCalendar(true)}>
          <${LineIcon} name="calendar" /> Calendar feed
        </button>
      </div>
      <ul class="list">${h.upcoming.map((r) => html`<${UpcomingCard} key=${r.id} r=${r} />`)}</ul>
    </section>`
    }`
  }
  ${creating && html`<${CreateRoomSheet} onClose=${() => setCreating(false)} />`}
  ${calendar && html`<${CalendarSheet} onClose=${() => setCalendar(false)} />`}`
}
