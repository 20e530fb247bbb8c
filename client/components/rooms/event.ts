// A room as an event: what `/rooms/<id>` shows when the room is not live (an upcoming room's page with RSVPs, who is
// coming, share and calendar, the host's edit and cancel; an ended room's recap with its chat and Q&A), the
// signed-out visitor's event page. The pieces the hallway's cards share (time, "Remind me", faces) are in ./rsvp.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  cancelRoom,
  currentRoomId,
  editRoom,
  roomEvent,
  roomNews,
  roomPanels,
  roomStatus,
  startRoom,
  type RoomEventPage,
} from '../../app/rooms'
import { errorText, me, notify, notifyError } from '../../app/state'
import { roomReplay, type ReplaySummary } from '../../app/replays'
import { Avatar, Empty, ErrorLine, Field, Header } from '../ui'
import { LineIcon } from '../icons'
import { SignIn } from '../auth'
import { ShareButton } from './share'
import { Sheet } from './sheet'
import { GuestRoom, Room } from './room'
import { Going, localTime, relative, RsvpButtons } from './rsvp'

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`

function duration(ms: number) {
  const m = Math.max(1, Math.round(ms / 60_000))
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60 ? `${m % 60} min` : ''}`.trim()
}

function Hosts({ hosts }: { hosts: RoomEventPage['hosts'] }) {
  return html`<ul class="event-hosts" aria-label="Hosts">
    ${hosts.map(
      (h, i) => html`<li class="row center gap">
        <${Avatar} user=${h} size=${36} />
        <span class="grow"><strong>${h.displayName}</strong> <span class="muted small">@${h.username}</span></span>
        <span class="muted small">${i === 0 ? 'Host' : 'Co-host'}</span>
      </li>`,
    )}
  </ul>`
}

function When({ room }: { room: RoomEventPage['room'] }) {
  if (room.cancelled) return html`<p class="event-when cancelled"><strong>Cancelled</strong></p>`
  if (room.state === 'live')
    return html`<p class="event-when"><span class="live-dot"></span> <strong>Live now</strong></p>`
  const at = room.state === 'ended' ? (room.endedAt ?? 0) : (room.startsAt ?? 0)
  return html`<p class="event-when">
    <${LineIcon} name="calendar" />
    <time datetime=${new Date(at).toISOString()}>
      ${room.state === 'ended' ? 'Ended ' : ''}<strong>${localTime(at)}</strong>
      <span class="muted"> · ${relative(at)}</span>
    </time>
  </p>`
}

// ── the host's edit ──
const toLocalInput = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16)

function EditSheet({ page, onClose, onSaved }: { page: RoomEventPage; onClose: () => void; onSaved: () => void }) {
  const r = page.room
  const [f, setF] = useState({
    title: r.title,
    description: r.description,
    when: toLocalInput(r.startsAt ?? Date.now()),
    cohosts: page.hosts
      .slice(1)
      .map((h) => '@' + h.username)
      .join(' '),
  })
  const [err, setErr] = useState('')
  const [busy, setBusy] = useState(false)
  const set = (k: keyof typeof f) => (e: any) => setF({ ...f, [k]: e.target.value })
  const save = async (e: Event) => {
    e.preventDefault()
    const startsAt = new Date(f.when).getTime()
    if (!(startsAt > Date.now())) return setErr('Pick a time in the future.')
    setBusy(true)
    setErr('')
    try {
      await editRoom(r.id, {
        title: f.title.trim(),
        description: f.description.trim(),
        startsAt: startsAt === r.startsAt ? undefined : startsAt,
        cohosts: f.cohosts
          .split(/[\s,]+/)
          .map((u) => u.replace(/^@/, ''))
          .filter(Boolean),
      })
      notify('Saved; those who said yes are told')
      onSaved()
      onClose()
    } catch (e2) {
      setErr(errorText(e2))
    } finally {
      setBusy(false)
    }
  }
  return html`<${Sheet} title="Edit room" onClose=${onClose}>
    <form class="stack" onSubmit=${save}>
      <${Field} label="Title" hint=${`${f.title.length}/120`}>
        <input required maxlength="120" value=${f.title} onInput=${set('title')} />
      </${Field}>
      <${Field} label="Description" hint=${`${f.description.length}/1000`}>
        <textarea maxlength="1000" rows="3" value=${f.description} onInput=${set('description')}></textarea>
      </${Field}>
      <${Field} label="Starts at">
        <input type="datetime-local" required value=${f.when} onInput=${set('when')} />
      </${Field}>
      <${Field} label="Co-hosts (usernames)" hint="Separate with spaces or commas">
        <input value=${f.cohosts} onInput=${set('cohosts')} placeholder="@alice @bob" />
      </${Field}>
      <${ErrorLine} error=${err} />
      <button class="btn primary" type="submit" disabled=${busy}>Save changes</button>
    </form>
  </${Sheet}>`
}

// ── an ended room ──
/** The room's replay, when there is one the member may hear (or, for its host, one being mixed). */
function ReplayLink({ roomId }: { roomId: number }) {
  const [replay, setReplay] = useState<ReplaySummary | null>(null)
  useEffect(() => {
    if (me.value) roomReplay(roomId).then(setReplay, () => setReplay(null))
  }, [roomId])
  if (!replay) return null
  return html`<a class="btn small primary" href=${`/replays/${replay.id}`}>${
    replay.state === 'ready' ? 'Play the replay' : 'Replay (being prepared)'
  }</a>`
}

function Recap({ page }: { page: RoomEventPage }) {
  const recap = page.recap!
  const panels = roomPanels.value.filter((p) => p.id === 'chat' || p.id === 'qa')
  const [tab, setTab] = useState<string | null>(null)
  const active = panels.find((p) => p.id === tab) ?? null
  return html`<section class="card recap" aria-labelledby="recap-h">
      <h2 id="recap-h" class="section-title">Summary</h2>
      <dl class="recap-facts">
        <div><dt>Duration</dt><dd>${recap.durationMs === null ? '—' : duration(recap.durationMs)}</dd></div>
        <div><dt>Peak listeners</dt><dd>${recap.peakListeners}</dd></div>
        <div><dt>Speakers</dt><dd>${recap.speakers.length}</dd></div>
      </dl>
      ${
        recap.speakers.length > 0 &&
        html`<ul class="recap-speakers" aria-label="Speakers">
          ${recap.speakers.map(
            (u) => html`<li><a href=${'/u/' + u.username} class="recap-speaker">
              <${Avatar} user=${u} size=${44} /><span>${u.displayName}</span></a></li>`,
          )}
        </ul>`
      }
      <div class="row gap wrap">
        ${panels.map(
          (p) => html`<button class=${'btn small' + (p === active ? ' active' : '')} aria-expanded=${p === active}
            onClick=${() => setTab(p === active ? null : p.id)}>${p.id === 'qa' ? 'Q&A' : 'Chat'}</button>`,
        )}
        <${ReplayLink} roomId=${page.room.id} />
      </div>
    </section>
    ${
      active &&
      html`<section class="card room-panels recap-panel" aria-label=${active.label}>
        <div class="panel-body">${active.view(page.room.id) as any}</div>
      </section>`
    }`
}

// ── the page ──
function EventBody({ page, reload, children }: { page: RoomEventPage; reload: () => void; children?: any }) {
  const r = page.room
  const [rsvp, setRsvp] = useState(page.rsvp)
  const [editing, setEditing] = useState(false)
  useEffect(() => setRsvp(page.rsvp), [page])
  const signedIn = !!me.value
  const start = async () => {
    try {
      await startRoom(r.id)
      reload()
    } catch (e) {
      notifyError(e)
    }
  }
  const cancel = async () => {
    if (!confirm('Cancel this room? Those who said yes are told.')) return
    try {
      await cancelRoom(r.id)
      notify('Room cancelled')
      reload()
    } catch (e) {
      notifyError(e)
    }
  }
  const isHost = signedIn && page.hosts.some((h) => h.id === me.value!.id)
  return html`<article class="event-page">
    <div class="card event-card">
      <div class="event-head">
        <h2 class="event-title">${r.title}</h2>
        ${r.kind !== 'open' && html`<span class="badge">${r.kind === 'social' ? 'Social' : 'Closed'}</span>`}
      </div>
      <${When} room=${r} />
      ${r.description && html`<p class="event-desc">${r.description}</p>`}
      ${
        r.link &&
        html`<p class="room-link"><a href=${r.link} target="_blank" rel="noopener noreferrer nofollow">
          ${r.link.replace(/^https?:\/\//, '')}</a></p>`
      }
      <div class="event-actions row gap wrap center">
        ${
          r.state === 'scheduled' &&
          signedIn &&
          !isHost &&
          html`<${RsvpButtons} roomId=${r.id} rsvp=${rsvp} onChange=${setRsvp} withNo=${true} />`
        }
        ${
          isHost &&
          r.state === 'scheduled' &&
          html`<button class="btn small primary" onClick=${start}>Start now</button>`
        }
        ${!r.cancelled && html`<${ShareButton} room=${r} />`}
        ${
          r.state === 'scheduled' &&
          html`<a class="btn small" href=${`/rooms/${r.id}.ics`} download target="_blank">
            <${LineIcon} name="calendar" /> Add to calendar
          </a>`
        }
      </div>
      ${
        page.mayEdit &&
        html`<div class="row gap wrap host-tools">
          <button class="btn small" onClick=${() => setEditing(true)}><${LineIcon} name="pen" /> Edit</button>
          <button class="btn small danger-text" onClick=${cancel}>Cancel room</button>
        </div>`
      }
    </div>
    <section class="card" aria-labelledby="hosts-h">
      <h2 id="hosts-h" class="section-title">Hosted by</h2>
      <${Hosts} hosts=${page.hosts} />
    </section>
    ${
      r.state === 'scheduled' &&
      signedIn &&
      html`<section class="card" aria-labelledby="going-h">
        <h2 id="going-h" class="section-title">Who is coming</h2>
        <${Going} rsvp=${rsvp} size=${36} />
        ${
          rsvp.people.length > 0 &&
          html`<ul class="going-names muted small">${rsvp.people.map((u) => html`<li>${u.displayName}</li>`)}</ul>`
        }
      </section>`
    }
    ${page.recap && signedIn && html`<${Recap} page=${page} />`}
    ${children}
    ${editing && html`<${EditSheet} page=${page} onClose=${() => setEditing(false)} onSaved=${reload} />`}
  </article>`
}

function useEventPage(roomId: number) {
  const [page, setPage] = useState<RoomEventPage | null>(null)
  const [error, setError] = useState<string | null>(null)
  const load = () =>
    roomEvent(roomId).then(
      (p) => {
        setPage(p)
        setError(null)
      },
      (e) => setError(errorText(e)),
    )
  useEffect(() => {
    void load()
  }, [roomId])
  // A change, a cancellation or a reminder of this room: read it again.
  const n = roomNews.value
  useEffect(() => {
    if (n?.roomId === roomId) void load()
  }, [n])
  return { page, error, reload: load }
}

/** `/rooms/<id>` for a member: the room itself when it is live, its event page otherwise. */
export function RoomRoute({ id }: { id: string }) {
  const roomId = Number(id)
  const status = roomStatus.value
  const inIt = currentRoomId.value === roomId && status !== 'idle' && status !== 'ended'
  const { page, error, reload } = useEventPage(roomId)
  // The room ended while I was in it: its page is now the recap.
  useEffect(() => {
    if (status === 'ended' && currentRoomId.value === roomId) void reload()
  }, [status])
  if (!Number.isSafeInteger(roomId) || roomId <= 0 || inIt || page?.room.state === 'live')
    return html`<${Room} id=${id} />`
  if (error) return html`<${Header} title="Room" back="/" /><${Empty}>${error}</${Empty}>`
  if (!page) return html`<${Header} title="Room" back="/" /><p class="muted pad" aria-busy="true">Loading…</p>`
  const endedHere = status === 'ended' && currentRoomId.value === roomId
  return html`<${Header} title=${page.room.state === 'ended' ? 'Past room' : 'Upcoming room'} back="/" />
    ${endedHere && html`<div class="banner" role="status">This room has ended.</div>`}
    <${EventBody} page=${page} reload=${reload} />`
}

/** `/rooms/<id>` signed out: the event page of an open room, with the ways in. */
export function PublicRoom({ id }: { id: string }) {
  const roomId = Number(id)
  const { page, error } = useEventPage(roomId)
  const [signingIn, setSigningIn] = useState(false)
  const [guest, setGuest] = useState(false)
  if (signingIn) return html`<${SignIn} next=${`/rooms/${roomId}`} />`
  if (guest) return html`<${GuestRoom} id=${id} />`
  const top = html`<header class="topbar public-top">
    <a class="brand" href="/" aria-label="Townhall home">
      <img src="/icons/icon-192.png" alt="" width="28" height="28" /><span>Townhall</span>
    </a>
    <button class="btn small" onClick=${() => setSigningIn(true)}>Sign in</button>
  </header>`
  if (error || !page)
    return html`<div class="public-event">${top}
      <div class="card event-card"><p class="muted">${
        error ? 'This room is private, or it does not exist. Sign in to see it.' : 'Loading…'
      }</p>
      <button class="btn primary" onClick=${() => setSigningIn(true)}>Sign in</button></div></div>`
  const r = page.room
  const canListen = page.guests && r.state === 'live' && r.kind === 'open'
  return html`<div class="public-event">
    ${top}
    <${EventBody} page=${page} reload=${() => {}}>
    <section class="card join-card" aria-labelledby="join-h">
      <h2 id="join-h" class="section-title">Join in</h2>
      ${
        r.state === 'scheduled' &&
        html`<p class="small">${
          page.rsvp.going === 0
            ? 'Nobody said they are coming yet.'
            : `${plural(page.rsvp.going, 'member')} ${page.rsvp.going === 1 ? 'is' : 'are'} going.`
        }</p>`
      }
      <div class="row gap wrap">
        ${canListen && html`<button class="btn primary" onClick=${() => setGuest(true)}>Listen as a guest</button>`}
        <button class=${'btn' + (canListen ? '' : ' primary')} onClick=${() => setSigningIn(true)}>Sign in</button>
        ${page.registration === 'open' && html`<a class="btn" href="/join">Create an account</a>`}
      </div>
      ${page.registration !== 'open' && html`<p class="muted small">New here? Ask a member for an invite.</p>`}
    </section>
    </${EventBody}>
  </div>`
}
