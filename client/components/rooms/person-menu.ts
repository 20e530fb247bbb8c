// The menu on a person in a room: how loud they play for me (on stage, R71), the moderation actions my role allows
// on them, their profile, a message.
import { html } from 'htm/preact'
import {
  inviteToSpeak,
  moveToAudience,
  myRole,
  onStage,
  RANK,
  removeFromRoom,
  setModerator,
  setMuted,
  isMod,
  type Participant,
} from '../../app/rooms'
import { setVolume, volumeOf, volumeSettable } from '../../app/rtc'
import { me as meUser, notify, notifyError } from '../../app/state'
import { Icon } from '../icons'
import { Avatar } from '../ui'
import { Sheet } from './sheet'

const ROLE_LABEL = { host: 'Host', moderator: 'Moderator', speaker: 'Speaker', audience: 'Listener' } as const

export function PersonMenu({ p, onClose }: { p: Participant; onClose: () => void }) {
  const mine = myRole.value
  const self = meUser.value?.id === p.user.id
  const over = !self && isMod(mine) && RANK[mine!] > RANK[p.role]
  const run = (fn: () => Promise<unknown>, done: string) => async () => {
    try {
      await fn()
      notify(done)
    } catch (e) {
      notifyError(e)
    }
    onClose()
  }
  const name = p.user.displayName
  const actions = [
    !self &&
      isMod(mine) &&
      !onStage(p.role) &&
      !p.invited &&
      html`<button class="menu-item" onClick=${run(() => inviteToSpeak(p.user.id), `Invited ${name} to speak`)}>
        Invite to speak
      </button>`,
    over &&
      onStage(p.role) &&
      html`<button class="menu-item" onClick=${run(() => moveToAudience(p.user.id), `${name} moved to the audience`)}>
        Move to audience
      </button>`,
    over &&
      onStage(p.role) &&
      !p.muted &&
      html`<button class="menu-item" onClick=${run(() => setMuted(true, p.user.id), `${name} muted`)}>Mute</button>`,
    !self &&
      isMod(mine) &&
      !isMod(p.role) &&
      html`<button class="menu-item" onClick=${run(() => setModerator(p.user.id, true), `${name} is a moderator`)}>
        Make moderator
      </button>`,
    over &&
      p.role === 'moderator' &&
      html`<button class="menu-item" onClick=${run(
        () => setModerator(p.user.id, false),
        `${name} is no longer a moderator`,
      )}>Remove moderator</button>`,
    over &&
      html`<button class="menu-item danger-text" onClick=${run(() => removeFromRoom(p.user.id), `${name} was removed`)}>
        Remove from room
      </button>`,
  ].filter(Boolean)
  return html`<${Sheet} title=${name} onClose=${onClose} labelledBy="person-menu-title">
    <div class="row center gap person-head">
      <${Avatar} user=${p.user} size=${56} />
      <div>
        <div class="muted">@${p.user.username}</div>
        <div class="small">
          ${ROLE_LABEL[p.role]}${p.muted && onStage(p.role) ? ' · muted' : ''}
          ${p.hand !== null ? ' · hand raised' : ''}${p.invited ? ' · invited to speak' : ''}
        </div>
      </div>
    </div>
    ${!self && onStage(p.role) && html`<${Volume} p=${p} />`}
    <div class="menu" role="group" aria-label=${`Actions for ${name}`}>
      ${actions}
      ${
        meUser.value &&
        html`<a class="menu-item" href=${'/u/' + encodeURIComponent(p.user.username)}
          onClick=${onClose}>View profile</a>`
      }
      ${
        meUser.value &&
        !self &&
        html`<a class="menu-item" href=${'/backchannel/new/' + encodeURIComponent(p.user.username)}
          onClick=${onClose}>Message</a>`
      }
    </div>
  </${Sheet}>`
}

/** How loud this speaker plays for me (R71): 0–100 %, remembered on this device; only my ears change. */
function Volume({ p }: { p: Participant }) {
  const pct = Math.round(volumeOf(p.key) * 100)
  const label = `Volume of ${p.user.displayName} for you`
  return html`<div class="volume-row">
    <button class=${'btn icon-only volume-mute' + (pct === 0 ? ' off' : '')} type="button" aria-pressed=${pct === 0}
      aria-label=${`Silence ${p.user.displayName} for me`} title=${pct === 0 ? 'Turn back up' : 'Silence for me'}
      onClick=${() => setVolume(p.key, pct === 0 ? 1 : 0)}><${Icon} name="speaker" size=${18} /></button>
${
  volumeSettable &&
  html`<input type="range" min="0" max="100" step="5" value=${pct} aria-label=${label}
      aria-valuetext=${pct + ' %'} onInput=${(e: Event) =>
        setVolume(p.key, Number((e.currentTarget as HTMLInputElement).value) / 100)} />`
}
    ${
      volumeSettable
        ? html`<span class="volume-pct small muted" aria-hidden="true">${pct} %</span>`
        : html`<span class="small muted">${pct === 0 ? 'Silenced for you' : 'Silence for me'}</span>`
    }
  </div>
  <p class="small muted volume-note">Only you hear this change.</p>`
}
