// The sheet to start a room now or schedule it: title, description, pinned link, who may join, when, recorded or not.
import { html } from 'htm/preact'
import { useState } from 'preact/hooks'
import { navigate } from '../../app/router'
import { createRoom, loadHallway } from '../../app/rooms'
import { errorText, notify } from '../../app/state'
import { ErrorLine, Field } from '../ui'
import { Sheet } from './sheet'

const KINDS = [
  { value: 'open', label: 'Open', hint: 'Every member may join' },
  { value: 'social', label: 'Social', hint: 'People you follow may join' },
  { value: 'closed', label: 'Closed', hint: 'Only the people you invite' },
] as const

/** A local date-time string for an <input type="datetime-local"> an hour from now. */
const inAnHour = () => {
  const d = new Date(Date.now() + 3600_000)
  d.setMinutes(0, 0, 0)
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
}

export function CreateRoomSheet({ onClose }: { onClose: () => void }) {
  const [f, setF] = useState({
    title: '',
    description: '',
    link: '',
    kind: 'open' as 'open' | 'social' | 'closed',
    invited: '',
    later: false,
    recording: false,
    when: inAnHour(),
  })
  const [busy, setBusy] = useState(false)
  const [err, setErr] = useState('')
  const set = (k: keyof typeof f) => (e: any) =>
    setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value })
  const submit = async (e: Event) => {
    e.preventDefault()
    setErr('')
    if (f.link && !/^https?:\/\//i.test(f.link.trim())) return setErr('The link must start with http:// or https://')
    const startsAt = f.later ? new Date(f.when).getTime() : null
    if (f.later && !(startsAt! > Date.now())) return setErr('Pick a time in the future.')
    setBusy(true)
    try {
      const room = await createRoom({
        title: f.title.trim(),
        description: f.description.trim() || undefined,
        link: f.link.trim() || undefined,
        kind: f.kind,
        startsAt,
        ...(f.recording ? { recording: true } : {}),
        invited:
          f.kind === 'closed'
            ? f.invited
                .split(/[\s,]+/)
                .map((u) => u.replace(/^@/, ''))
                .filter(Boolean)
            : undefined,
      })
      onClose()
      if (room.state === 'live') navigate(`/rooms/${room.id}`)
      else {
        notify('Room scheduled')
        void loadHallway()
      }
    } catch (e2) {
      setErr(errorText(e2))
    } finally {
      setBusy(false)
    }
  }
  return html`<${Sheet} title="Start a room" onClose=${onClose}>
    <form class="stack" onSubmit=${submit}>
      <${Field} label="Title" hint=${`${f.title.length}/120`}>
        <input required maxlength="120" value=${f.title} onInput=${set('title')}
          placeholder="What do you want to talk about?" />
      </${Field}>
      <${Field} label="Description" hint=${`${f.description.length}/1000`}>
        <textarea maxlength="1000" rows="2" value=${f.description} onInput=${set('description')}></textarea>
      </${Field}>
      <${Field} label="Pinned link (optional)">
        <input type="url" maxlength="500" value=${f.link} onInput=${set('link')} placeholder="https://…" />
      </${Field}>
      <fieldset class="kinds"><legend class="field-label">Who may join</legend>
        ${KINDS.map(
          (k) => html`<label class=${'kind' + (f.kind === k.value ? ' selected' : '')}>
          <input type="radio" name="kind" value=${k.value} checked=${f.kind === k.value} onChange=${set('kind')} />
          <span><strong>${k.label}</strong><br/><span class="muted small">${k.hint}</span></span></label>`,
        )}
      </fieldset>
      ${
        f.kind === 'closed' &&
        html`<${Field} label="Invite (usernames)" hint="Separate with spaces or commas">
          <input value=${f.invited} onInput=${set('invited')} placeholder="@alice @bob" />
        </${Field}>`
      }
      <label class="switch-line">
        <input type="checkbox" checked=${f.later} onChange=${set('later')} /> Schedule for later
      </label>
      <label class="switch-line">
        <input type="checkbox" checked=${f.recording} onChange=${set('recording')} /> Record a replay
      </label>
      ${
        f.recording &&
        html`<p class="muted small">Everyone in the room sees it is recorded. Each speaker is asked whether their
          voice is in the replay; nobody is recorded without saying yes.</p>`
      }
      ${
        f.later &&
        html`<${Field} label="Starts at">
          <input type="datetime-local" required value=${f.when} onInput=${set('when')} />
        </${Field}>`
      }
      <${ErrorLine} error=${err} />
      <button class="btn primary" type="submit" disabled=${busy}>${f.later ? 'Schedule room' : 'Start now'}</button>
    </form>
  </${Sheet}>`
}
