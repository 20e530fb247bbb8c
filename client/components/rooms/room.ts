// The room screen: stage (speaking rings, muted and moderator badges), audience, the hand queue for moderators,
// a menu on each person, my controls, an invitation prompt, "Tap to start audio", a reconnecting banner, and the
// panels area where the Backchannel mounts the room's Chat, Backstage and Q&A.
import { html } from 'htm/preact'
import { signal } from '@preact/signals'
import { useEffect, useState } from 'preact/hooks'
import { conn } from '../../app/connection'
import { navigate } from '../../app/router'
import {
  amGuest,
  audience,
  currentRoomId,
  endRoom,
  enterRoom,
  guestCount,
  handQueue,
  hostlessUntil,
  roomMoving,
  inviteToSpeak,
  isMod,
  me,
  moveToAudience,
  react,
  reactions,
  myRole,
  onStage,
  participants,
  pinned,
  raiseHand,
  roomError,
  roomPage,
  roomInfo,
  roomPanels,
  roomStatus,
  setMuted,
  stage,
  type Participant,
} from '../../app/rooms'
import { audioBlocked, audioState, levels, resumeAudio } from '../../app/rtc'
import { errorText, me as meUser, notifyError } from '../../app/state'
import { Avatar, Empty, Header } from '../ui'
import { Icon } from '../icons'
import { PersonMenu } from './person-menu'
import { ReportButton } from '../admin/report'
import { ShareButton } from './share'
import { InviteChoice, leaveFlow } from './dock'
import { ConsentPrompt, NotRecordedMark, RecordingBar, recordedState } from './recording'

/** The reactions offered (the protocol's ROOM_REACTIONS; the client imports no values from the server). */
const REACTIONS = ['👏', '❤️', '😂', '🔥', '💯', '🙌', '😮', '👍']
/** On a phone the room shows one view at a time: the stage, or the conversation (Chat, Backstage, Q&A). */
const view = signal<'stage' | 'talk'>('stage')

/** Audio level above which a ring shows that someone is speaking. */
const SPEAKING_LEVEL = 0.04

function Person({ p, big, onOpen }: { p: Participant; big: boolean; onOpen: (p: Participant) => void }) {
  const speaking = onStage(p.role) && !p.muted && (levels.value[p.key] ?? 0) > SPEAKING_LEVEL
  const badge = p.role === 'host' ? 'Host' : p.role === 'moderator' ? 'Moderator' : null
  const state = [
    p.role === 'audience' ? 'listener' : p.role,
    p.muted && onStage(p.role) ? 'muted' : '',
    p.hand !== null ? 'hand raised' : '',
    p.away ? 'reconnecting' : '',
    speaking ? 'speaking' : '',
    recordedState(p),
  ]
    .filter(Boolean)
    .join(', ')
  return html`<li class=${'person' + (p.away ? ' away' : '')}>
    <button class="person-btn" aria-label=${`${p.user.displayName}, ${state}`} onClick=${() => onOpen(p)}>
      <span class=${'person-avatar' + (speaking ? ' speaking' : '')}>
        <${Avatar} user=${p.user} size=${big ? 64 : 48} />
        ${
          p.muted &&
          onStage(p.role) &&
          html`<span class="pbadge mic" title="Muted"><${Icon} name="micOff" size=${14} /></span>`
        }
        ${
          p.hand !== null &&
          html`<span class="pbadge hand" title="Hand raised"><${Icon} name="hand" size=${14} /></span>`
        }
        <${NotRecordedMark} p=${p} />
      </span>
      <span class="person-name">
        ${badge && html`<span class="mod-star" title=${badge}><${Icon} name="star" size=${12} /></span>`}
        ${p.user.displayName}
      </span>
      ${big && badge && html`<span class="person-role">${badge}</span>`}
    </button>
  </li>`
}

/** Where other domains' room panels (Chat, Backstage, Q&A) mount: tabs over one panel. */
function RoomPanels({ roomId }: { roomId: number }) {
  const panels = roomPanels.value.filter((p) => !p.visible || p.visible(myRole.value))
  const [tab, setTab] = useState<string | null>(null)
  if (panels.length === 0) return null
  const active = panels.find((p) => p.id === tab) ?? panels[0]!
  return html`<section class="room-panels card" aria-label="Room conversation" data-room-panels>
    <div class="panel-tabs" role="tablist">
      ${panels.map(
        (p) => html`<button role="tab" id=${'tab-' + p.id} aria-selected=${p === active}
          aria-controls=${'panel-' + p.id} class=${'panel-tab' + (p === active ? ' active' : '')}
          onClick=${() => setTab(p.id)}>${p.label}</button>`,
      )}
    </div>
    <div role="tabpanel" id=${'panel-' + active.id} aria-labelledby=${'tab-' + active.id} class="panel-body">
      ${active.view(roomId) as any}
    </div>
  </section>`
}

/** On a phone: the stage or the conversation (Chat, Backstage, Q&A), so that the composer is one tap away. */
function ViewTabs() {
  const all = [
    { id: 'stage', label: 'Stage' },
    { id: 'talk', label: 'Chat & Q&A' },
  ]
  const current = view.value
  return html`<div class="room-views" role="tablist" aria-label="Room views">
    ${all.map(
      (x) => html`<button role="tab" aria-selected=${x.id === current}
        class=${'room-view-tab' + (x.id === current ? ' active' : '')}
        onClick=${() => {
          view.value = x.id as 'stage' | 'talk'
        }}>${x.label}</button>`,
    )}
  </div>`
}

/** Emoji reactions floating up over the stage. */
function Floating() {
  return html`<div class="reactions-float" aria-hidden="true">
    ${reactions.value.map(
      (r) => html`<span key=${r.id} class="reaction-bubble" style=${`left:${r.x}%`}>${r.emoji}</span>`,
    )}
  </div>`
}

function ReactionBar() {
  const [open, setOpen] = useState(false)
  return html`<div class="reaction-bar">
    <button class="btn" aria-expanded=${open} aria-label="React" title="React" onClick=${() => setOpen(!open)}>
      <${Icon} name="smile" />
    </button>
    ${
      open &&
      html`<div class="reaction-pick" role="group" aria-label="Reactions">
        ${REACTIONS.map(
          (e) => html`<button class="reaction-btn" aria-label=${'React ' + e}
            onClick=${() => {
              setOpen(false)
              react(e).catch(notifyError)
            }}>${e}</button>`,
        )}
      </div>`
    }
  </div>`
}

function Controls() {
  const p = me.value
  const act = (fn: () => Promise<unknown>) => async () => {
    try {
      await fn()
    } catch (e) {
      notifyError(e)
    }
  }
  const leave = () => leaveFlow(() => navigate('/')).catch(notifyError)
  return html`<div class="room-controls" role="toolbar" aria-label="Room controls">
    <button class="btn" aria-label="Leave quietly" onClick=${leave}>
      <${Icon} name="leave" /><span class="ctl-label"> Leave quietly</span>
    </button>
    ${
      p &&
      onStage(p.role) &&
      p.role !== 'host' &&
      html`<button class="btn" aria-label="Move to audience" title="Move to audience"
        onClick=${act(() => moveToAudience(p.user.id))}>
        <${Icon} name="headphones" /><span class="ctl-label"> Move to audience</span>
      </button>`
    }
    <span class="grow"></span>
    ${p && html`<${ReactionBar} />`}
    ${
      p &&
      !onStage(p.role) &&
      (p.hand === null
        ? html`<button class="btn" onClick=${act(() => raiseHand(true))}>
            <${Icon} name="hand" /> Raise hand
          </button>`
        : html`<button class="btn active" onClick=${act(() => raiseHand(false))}>
            <${Icon} name="hand" /> Lower hand
          </button>`)
    }
    ${
      p &&
      onStage(p.role) &&
      (p.muted
        ? html`<button class="btn mic-btn muted" onClick=${act(() => setMuted(false))}>
            <${Icon} name="micOff" /> Unmute
          </button>`
        : html`<button class="btn mic-btn primary" onClick=${act(() => setMuted(true))}>
            <${Icon} name="mic" /> Mute
          </button>`)
    }
  </div>`
}

/** R72: the room lost its last host with nobody on stage; a countdown to its end unless a host returns. */
function HostlessBanner({ until }: { until: number }) {
  const [now, setNow] = useState(Date.now())
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [until])
  const left = Math.max(0, Math.ceil((until - now) / 1000))
  return html`<div class="banner warn hostless" role="status">
    <span>The host left — the room ends in <span class="hostless-left">${left} s</span> unless a host returns.</span>
  </div>`
}

export function Room({ id }: { id: string }) {
  const roomId = Number(id)
  const [menu, setMenu] = useState<Participant | null>(null)
  useEffect(() => {
    if (Number.isSafeInteger(roomId) && roomId > 0) enterRoom(roomId)
  }, [roomId])
  const status = currentRoomId.value === roomId ? roomStatus.value : 'joining'
  const info = roomInfo.value?.id === roomId ? roomInfo.value : null
  if (!Number.isSafeInteger(roomId) || roomId <= 0)
    return html`<${Header} title="Room" back="/" /><${Empty}>This room does not exist.</${Empty}>`
  if (status === 'left')
    return html`<${Header} title=${info?.title ?? 'Room'} back="/" />
    <div class="empty stack center">
      <p>You left this room.</p>
      <button class="btn primary" onClick=${() => enterRoom(roomId, true)}>Join</button>
    </div>`
  if (status === 'error' || status === 'ended' || status === 'removed') {
    const text =
      status === 'ended'
        ? 'This room has ended.'
        : status === 'removed'
          ? 'You were removed from this room.'
          : (roomError.value?.message ?? 'Could not join.')
    return html`<${Header} title=${info?.title ?? 'Room'} back="/" />
      <div class="empty stack center"><p>${text}</p>
      ${
        roomError.value?.code === 'room_sign_in' && !meUser.value
          ? html`<a class="btn primary" href="/">Sign in</a>`
          : html`<a class="btn" href="/">Back to the hallway</a>`
      }</div>`
  }
  if (status !== 'joined' || !info)
    return html`<${Header} title="Joining…" back="/" /><p class="muted pad" aria-busy="true">Joining the room…</p>`
  const p = me.value
  const mod = isMod(myRole.value)
  const menuOf = menu ? (participants.value[menu.key] ?? null) : null
  const reconnecting = audioState.value === 'reconnecting' || (amGuest.value && conn.state.value === 'reconnecting')
  const hasPanels = roomPanels.value.some((x) => !x.visible || x.visible(myRole.value))
  const talk = hasPanels && view.value !== 'stage'
  return html`<div class=${'room-screen' + (hasPanels ? ' with-panels' : '')} data-view=${talk ? 'talk' : 'stage'}>
    <${Header} title=${info.title} back="/">
      ${info.kind !== 'open' && html`<span class="badge">${info.kind}</span>`}
      <${ShareButton} room=${info} label="" className="btn small icon-only" />
      ${
        mod &&
        html`<button class="btn small danger-text" onClick=${() => {
          if (confirm('End the room for everyone?')) endRoom().catch(notifyError)
        }}>End room</button>`
      }
      ${
        !mod &&
        !amGuest.value &&
        html`<${ReportButton} type="room" id=${info.id} label="this room" className="btn small" />`
      }
    </${Header}>
    ${
      roomMoving.value
        ? html`<div class="banner warn moving" role="status">Moving the room to another server…</div>`
        : reconnecting && html`<div class="banner warn" role="status">Reconnecting…</div>`
    }
    ${hostlessUntil.value !== null && html`<${HostlessBanner} until=${hostlessUntil.value} />`}
    ${
      audioState.value === 'full' &&
      html`<div class="banner warn" role="status">
        This room is full.
        ${amGuest.value ? ' Try again in a little while.' : ' You can still read the chat and raise your hand.'}
      </div>`
    }
    ${audioState.value === 'busy' && html`<div class="banner warn" role="status">Busy — retrying…</div>`}
    ${
      audioState.value === 'failed' &&
      html`<div class="banner warn" role="status">Audio could not connect. Check your network.</div>`
    }
    ${
      p?.invited &&
      html`<div class="card invite-card" role="alertdialog" aria-labelledby="invite-text">
      <p id="invite-text"><strong>You are invited to speak.</strong> Go live now, or join the stage muted and unmute
        when you are ready.</p>
      <${InviteChoice} />
    </div>`
    }
    <${RecordingBar} />
    <${ConsentPrompt} />
    ${
      p &&
      onStage(p.role) &&
      p.muted &&
      html`<button class="card muted-prompt" onClick=${() => setMuted(false).catch(notifyError)}>
        <${Icon} name="micOff" /> <span><strong>You are muted</strong> — tap to talk</span>
      </button>`
    }
    ${
      (info.description || info.link || pinned.value) &&
      html`<div class="room-about pad">
      ${info.description && html`<p class="room-desc">${info.description}</p>`}
      ${
        info.link &&
        html`<p class="room-link">
          <${Icon} name="link" size=${16} /> <a href=${info.link} target="_blank" rel="noopener noreferrer nofollow">
            ${info.link.replace(/^https?:\/\//, '')}
          </a>
        </p>`
      }
      ${
        pinned.value &&
        html`<p class="room-pinned">
          <span class="badge">Pinned</span> “${pinned.value.text}” <span class="muted small">— ${pinned.value.by}</span>
        </p>`
      }
    </div>`
    }
    ${
      audioBlocked.value &&
      html`<div class="pad">
        <button class="btn primary tap-audio" onClick=${() => resumeAudio()}>
          <${Icon} name="speaker" /> Tap to start audio
        </button>
      </div>`
    }
    ${hasPanels && html`<${ViewTabs} />`}
    <div class="room-layout">
    <div class="room-main">
    <section class="room-section stage-section" aria-labelledby="stage-h">
      <${Floating} />
      <h2 id="stage-h" class="section-title pad">On stage <span class="muted">${stage.value.length}</span></h2>
      <ul class="people stage">
        ${stage.value.map((x) => html`<${Person} key=${x.key} p=${x} big=${true} onOpen=${setMenu} />`)}
      </ul>
    </section>
    ${
      mod &&
      handQueue.value.length > 0 &&
      html`<section class="card hands" aria-labelledby="hands-h">
      <h2 id="hands-h" class="section-title">Raised hands <span class="muted">${handQueue.value.length}</span></h2>
      <ol class="list">${handQueue.value.map(
        (x) => html`<li class="list-item">
          <${Avatar} user=${x.user} size=${32} /><span class="grow" id=${'hand-' + x.key}>${x.user.displayName}</span>
          ${
            x.invited
              ? html`<span class="muted small">Invited</span>`
              : html`<button class="btn small primary" aria-describedby=${'hand-' + x.key}
                  onClick=${() => inviteToSpeak(x.user.id).catch(notifyError)}>Invite to speak</button>`
          }</li>`,
      )}</ol>
    </section>`
    }
    <section class="room-section" aria-labelledby="aud-h">
      <h2 id="aud-h" class="section-title pad">
        Listening <span class="muted">${audience.value.length + guestCount.value}</span>
      </h2>
      <ul class="people audience">
        ${audience.value.map((x) => html`<${Person} key=${x.key} p=${x} big=${false} onOpen=${setMenu} />`)}
      </ul>
      ${
        guestCount.value > 0 &&
        html`<p class="muted small pad">and ${guestCount.value} ${guestCount.value === 1 ? 'guest' : 'guests'}</p>`
      }
    </section>
    </div>
    <aside class="room-side"><${RoomPanels} roomId=${roomId} /></aside>
    </div>
    <${Controls} />
    ${menuOf && html`<${PersonMenu} p=${menuOf} onClose=${() => setMenu(null)} />`}
  </div>`
}

/** A signed-out visitor: listen only when the admin allows guests (the room answers 401 otherwise). */
export function GuestRoom({ id }: { id: string }) {
  const [gate, setGate] = useState<'checking' | 'ok' | string>('checking')
  useEffect(() => {
    roomPage(Number(id)).then(
      () => setGate('ok'),
      (e) => setGate(errorText(e)),
    )
  }, [id])
  if (gate === 'ok')
    return html`<div class="guest-room">
    <header class="topbar">
      <a class="brand" href="/" aria-label="Townhall home">
        <img src="/icons/icon-192.png" alt="" width="28" height="28" /><span>Townhall</span>
      </a>
      <a class="btn small" href="/">Sign in</a></header>
    <${Room} id=${id} /></div>`
  return html`<div class="auth"><div class="auth-card">
    <h1>Townhall</h1>
    <p class="muted">${gate === 'checking' ? 'Looking for the room…' : gate}</p>
    <a class="btn primary" href="/">Sign in</a>
  </div></div>`
}
