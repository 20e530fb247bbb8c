// Recording in the room screen (docs/SPEC.md RP): the REC badge everyone sees, the question each speaker is asked
// when they come on stage ("Include your voice in the replay?"), the speaker's own switch to change their answer, the
// host's switch, and the mark on a speaker who is not recorded.
import { html } from 'htm/preact'
import {
  consentDue,
  me,
  onStage,
  recordingPaused,
  roomInfo,
  setConsent,
  setRecording,
  type Participant,
} from '../../app/rooms'
import { notifyError } from '../../app/state'

/** RP4/RP16: the room is recorded (a red REC badge), or recording is paused. */
function RecBadge() {
  if (!roomInfo.value?.recording) return null
  const paused = recordingPaused.value
  const title = paused
    ? 'Recording is paused: the server is low on disk space'
    : 'This room is recorded. Speakers choose whether their voice is in the replay.'
  return html`<span class=${'rec-badge' + (paused ? ' paused' : '')} role="status" title=${title}
    aria-label=${paused ? 'Recording paused' : 'Recorded'}>
    <span class="rec-dot" aria-hidden="true"></span>${paused ? 'REC paused' : 'REC'}</span>`
}

/** RP8: asked of every speaker who has not answered yet, when they come on stage (the host included). */
export function ConsentPrompt() {
  if (!consentDue.value) return null
  const answer = (yes: boolean) => () => setConsent(yes).catch(notifyError)
  return html`<div class="card consent-card" role="alertdialog" aria-labelledby="consent-q"
    aria-describedby="consent-d">
    <p id="consent-q"><strong>This room is recorded. Include your voice in the replay?</strong></p>
    <p id="consent-d" class="muted small">Until you say yes, your voice is not recorded. You can change your answer at
      any time from the room.</p>
    <div class="row gap">
      <button class="btn primary" onClick=${answer(true)}>Yes, include me</button>
      <button class="btn" onClick=${answer(false)}>No, leave me out</button>
    </div>
  </div>`
}

/**
 * Under the room's header: the REC badge everyone sees (RP4), the speaker's own switch (RP10: once answered, they
 * change their mind either way at any time) and the host's recording switch (RP5).
 */
export function RecordingBar() {
  const p = me.value
  const recording = !!roomInfo.value?.recording
  const answered = recording && !!p && onStage(p.role) && p.consent !== null
  const host = p?.role === 'host'
  if (!recording && !host) return null
  return html`<div class="recording-bar">
    <${RecBadge} />
    ${answered && html`<${ConsentSwitch} consent=${p!.consent!} />`}
    <span class="grow"></span>
    ${host && html`<${RecordingToggle} />`}
  </div>`
}

function ConsentSwitch({ consent }: { consent: boolean }) {
  return html`<label class="row gap center consent-switch">
    <input type="checkbox" role="switch" class="switch" checked=${consent} aria-label="My voice in the replay"
      onChange=${(e: Event) => setConsent((e.target as HTMLInputElement).checked).catch(notifyError)} />
    <span class="small">${consent ? 'Your voice is in the replay' : 'Your voice is left out of the replay'}</span>
  </label>`
}

/** RP5: the host turns the room's recording on or off while it is live. */
function RecordingToggle() {
  const on = !!roomInfo.value?.recording
  return html`<button class="btn small" aria-pressed=${on}
    onClick=${() => {
      if (on || confirm('Record this room? Each speaker is asked whether their voice is in the replay.'))
        setRecording(!on).catch(notifyError)
    }}>${on ? 'Stop recording' : 'Record'}</button>`
}

/** RP9: the mark on a speaker whose voice is not recorded (said no, or has not answered). */
export function NotRecordedMark({ p }: { p: Participant }) {
  if (!roomInfo.value?.recording || !onStage(p.role) || p.consent === true) return null
  const text = p.consent === false ? 'Not recorded: left out of the replay' : 'Not recorded yet: has not answered'
  return html`<span class="pbadge norec" title=${text} aria-label=${text}>
    <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true"><circle cx="8" cy="8" r="5" fill="none"
      stroke="currentColor" stroke-width="2"/><path d="M3 13 13 3" stroke="currentColor" stroke-width="2"/></svg>
  </span>`
}

/** The words a screen reader reads for a speaker's recording state. */
export function recordedState(p: Participant) {
  if (!roomInfo.value?.recording || !onStage(p.role)) return ''
  return p.consent === true ? '' : 'not recorded'
}

/** RP4: a hallway card of a recorded room says so. */
export const Recorded = () => html`<div class="hall-recorded small"><span aria-hidden="true">●</span> Recorded</div>`
