// The hallway: the live rooms I may join (people I follow on stage first), upcoming rooms, and "Start a room".
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { navigate } from '../../app/router'
import {
  currentRoomId,
  hallway,
  hallwayError,
  me,
  roomInfo,
  roomStatus,
  startRoom,
  watchHallway,
  type HallwayRoom,
} from '../../app/rooms'
import { me as meUser, notifyError } from '../../app/state'
import { Avatar, Empty, Header } from '../ui'
import { CreateRoomSheet } from './create'
import { Icon } from '../icons'

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
      </div>
      <a class="btn primary small" href=${'/rooms/' + r.id} aria-describedby=${id}>Join</a>
    </div>
  </li>`
}

function UpcomingCard({ r }: { r: HallwayRoom }) {
  const mine = meUser.value?.id === r.creatorId
  const start = async () => {
    try {
      await startRoom(r.id)
      navigate(`/rooms/${r.id}`)
    } catch (e) {
      notifyError(e)
    }
  }
  const when = r.startsAt ? new Date(r.startsAt) : null
  const day = when?.toLocaleDateString([], { weekday: 'short', day: 'numeric', month: 'short' })
  const time = when?.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  const kind = KIND_LABEL[r.kind]
  return html`<li class="list-item upcoming">
    <time class="when" datetime=${when?.toISOString()}>
      ${when ? html`<strong>${day}</strong><span>${time}</span>` : ''}
    </time>
    <div class="grow">
      <strong id=${'up-' + r.id}>${r.title}</strong>${kind && html` <span class="badge">${kind}</span>`}
      <br/><span class="muted small">with ${r.host.displayName}</span>
    </div>
    ${mine && html`<button class="btn small" aria-describedby=${'up-' + r.id} onClick=${start}>Start</button>`}
  </li>`
}

/** While I am in a room and look elsewhere: a bar to get back. */
function CurrentRoomBar() {
  const id = currentRoomId.value
  if (id === null || roomStatus.value !== 'joined' || !roomInfo.value) return null
  const invited = me.value?.invited
  return html`<a class="current-room" href=${'/rooms/' + id}><span class="live-dot" aria-hidden="true"></span>
    <span class="grow">${
      invited
        ? html`<strong>You are invited to speak</strong> in ${roomInfo.value.title}`
        : html`You are in <strong>${roomInfo.value.title}</strong>`
    }</span>
    <span class="btn small">Return</span></a>`
}

export function Hallway() {
  const [creating, setCreating] = useState(false)
  useEffect(() => watchHallway(), [])
  const h = hallway.value
  return html`<${Header} title="Hallway">
      <button class="btn primary small" onClick=${() => setCreating(true)}>Start a room</button>
    </${Header}>
  <${CurrentRoomBar} />
  ${
    hallwayError.value && !h
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
      <h2 id="up-h" class="section-title">Upcoming</h2>
      <ul class="list">${h.upcoming.map((r) => html`<${UpcomingCard} key=${r.id} r=${r} />`)}</ul>
    </section>`
    }`
  }
  ${creating && html`<${CreateRoomSheet} onClose=${() => setCreating(false)} />`}`
}
