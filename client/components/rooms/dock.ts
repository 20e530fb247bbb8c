// The room stays with you: while I am in a room, every screen of the shell shows a mini-player (the room, who is
// speaking, mute/unmute, raise hand, leave), an invitation to speak pops up wherever I am, and leaving as the last
// moderator asks whether to hand the room to someone on stage or end it.
import { signal } from '@preact/signals'
import { html } from 'htm/preact'
import { navigate, path } from '../../app/router'
import {
  audience,
  currentRoomId,
  endRoom,
  guestCount,
  handOver,
  lastModerator,
  leaveRoom,
  me,
  onStage,
  othersOnStage,
  RANK,
  raiseHand,
  respond,
  roomInfo,
  roomStatus,
  setMuted,
  stage,
} from '../../app/rooms'
import { levels } from '../../app/rtc'
import { notifyError } from '../../app/state'
import { Icon } from '../icons'
import { Avatar } from '../ui'

const SPEAKING_LEVEL = 0.04
/** The leave question is open (the last moderator is leaving). */
const leaveAsk = signal(false)

const run = (fn: () => Promise<unknown>) => () => fn().catch(notifyError)

/**
 * Leaves the room, asking first when it matters: the last moderator chooses between handing the room to someone on
 * stage, ending it, or just leaving (the next on stage takes over; with nobody on stage the room waits for a host,
 * R72).
 */
export async function leaveFlow(after?: () => void) {
  if (lastModerator.value) {
    leaveAsk.value = true
    return
  }
  await leaveRoom()
  after?.()
}

const inRoom = () => currentRoomId.value !== null && roomStatus.value === 'joined' && !!roomInfo.value
const onRoomScreen = () => path.value === `/rooms/${currentRoomId.value}`

/** Accept live, accept muted, or decline: the invitation to speak, on any screen. */
export function InviteChoice({ compact = false }: { compact?: boolean }) {
  const size = compact ? ' small' : ''
  return html`<div class="row gap wrap">
    <button class=${'btn primary' + size} onClick=${run(() => respond(true, false))}>
      <${Icon} name="mic" /> Go live
    </button>
    <button class=${'btn' + size} onClick=${run(() => respond(true, true))}>
      <${Icon} name="micOff" /> Join muted
    </button>
    <button class=${'btn' + size} onClick=${run(() => respond(false))}>Decline</button>
  </div>`
}

function InvitePopup() {
  const title = roomInfo.value?.title ?? 'the room'
  return html`<div class="card invite-pop" role="alertdialog" aria-labelledby="invite-pop-text">
    <p id="invite-pop-text"><strong>You are invited to speak</strong> in ${title}.</p>
    <${InviteChoice} compact=${true} />
  </div>`
}

function MiniPlayer() {
  const info = roomInfo.value!
  const p = me.value
  const speakers = stage.value
  const speaking = speakers.filter((s) => !s.muted && (levels.value[s.key] ?? 0) > SPEAKING_LEVEL)
  const who = speaking.length
    ? `${speaking.map((s) => s.user.displayName).join(', ')} speaking`
    : `${speakers.length} on stage · ${audience.value.length + guestCount.value} listening`
  return html`<section class="mini-player" aria-label="Your room">
    <a class="mini-room" href=${'/rooms/' + info.id} aria-label=${`Return to ${info.title}`}>
      <span class="live-dot" aria-hidden="true"></span>
      <span class="faces" aria-hidden="true">
        ${speakers.slice(0, 3).map(
          (s) => html`<span class=${'mini-face' + (speaking.includes(s) ? ' speaking' : '')}>
            <${Avatar} user=${s.user} size=${28} />
          </span>`,
        )}
      </span>
      <span class="mini-text">
        <strong class="mini-title">${info.title}</strong>
        <span class="mini-who muted small">${who}</span>
      </span>
    </a>
    <div class="mini-actions">
      ${
        p &&
        onStage(p.role) &&
        (p.muted
          ? html`<button class="icon-btn mini-btn muted" aria-label="Unmute" title="Unmute"
              onClick=${run(() => setMuted(false))}><${Icon} name="micOff" /></button>`
          : html`<button class="icon-btn mini-btn live" aria-label="Mute" title="Mute"
              onClick=${run(() => setMuted(true))}><${Icon} name="mic" /></button>`)
      }
      ${
        p &&
        !onStage(p.role) &&
        html`<button class=${'icon-btn mini-btn' + (p.hand !== null ? ' active' : '')}
          aria-label=${p.hand !== null ? 'Lower hand' : 'Raise hand'} aria-pressed=${p.hand !== null}
          title=${p.hand !== null ? 'Lower hand' : 'Raise hand'}
          onClick=${run(() => raiseHand(p.hand === null))}><${Icon} name="hand" /></button>`
      }
      <button class="icon-btn mini-btn" aria-label="Leave the room" title="Leave"
        onClick=${() => leaveFlow().catch(notifyError)}><${Icon} name="leave" /></button>
    </div>
  </section>`
}

/** The last moderator leaves: hand the room to someone on stage, or end it for everyone. */
function LeaveSheet() {
  const others = othersOnStage.value.filter((x) => x.user.id > 0)
  const listeners = audience.value.length + guestCount.value
  const close = () => {
    leaveAsk.value = false
  }
  // Decided before leaving: leaving forgets the room, and with it which screen was the room's.
  const done = (wasHere: boolean) => {
    close()
    if (wasHere) navigate('/')
  }
  const give = (userId: number) => async () => {
    const here = onRoomScreen()
    try {
      await handOver(userId)
      await leaveRoom()
      done(here)
    } catch (e) {
      notifyError(e)
    }
  }
  // Who the server makes host if I just leave (R6, R33): a moderator, else the longest on stage.
  const successor = [...others].sort((a, b) => RANK[b.role] - RANK[a.role] || a.since - b.since)[0]
  const justLeave = async () => {
    const here = onRoomScreen()
    await leaveRoom()
    done(here)
  }
  const end = async () => {
    const here = onRoomScreen()
    try {
      await endRoom()
      await leaveRoom()
      done(here)
    } catch (e) {
      notifyError(e)
    }
  }
  return html`<div class="sheet-backdrop" onClick=${(e: MouseEvent) => e.target === e.currentTarget && close()}>
    <div class="sheet leave-sheet" role="dialog" aria-modal="true" aria-labelledby="leave-h">
      <div class="sheet-head"><h2 id="leave-h">Leave the room?</h2>
        <button class="icon-btn" aria-label="Close" onClick=${close}>×</button></div>
      ${
        others.length
          ? html`<p class="muted">You are the last moderator. Hand the room to someone on stage so it goes on, or
              end it for everyone. If you just leave, ${successor!.user.displayName} takes over.</p>
            <ul class="list">${others.map(
              (x) => html`<li class="list-item">
                <${Avatar} user=${x.user} size=${32} /><span class="grow">${x.user.displayName}</span>
                <button class="btn small primary" onClick=${give(x.user.id)}>Hand over and leave</button>
              </li>`,
            )}</ul>`
          : html`<p class="muted">Nobody else is on stage. If you leave,
              ${listeners === 1 ? ' the 1 person listening is' : ` the ${listeners} people listening are`} told
              the room ends shortly unless a host returns; you can come back until then. Invite someone to speak
              first to hand it over.</p>`
      }
      <div class="row gap wrap">
        <button class="btn danger" onClick=${end}>End the room for everyone</button>
        <button class="btn" onClick=${justLeave}>Leave</button>
        <button class="btn" onClick=${close}>Stay</button>
      </div>
    </div>
  </div>`
}

/** Shell-level: the mini-player and the invitation off the room screen, and the leave question anywhere. */
export function RoomDock() {
  const here = inRoom()
  const away = here && !onRoomScreen()
  return html`${away && me.value?.invited && html`<${InvitePopup} />`}
    ${away && html`<${MiniPlayer} />`}
    ${here && leaveAsk.value && html`<${LeaveSheet} />`}`
}
