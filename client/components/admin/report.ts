// "Report": a member reports a member, a room or a message to the admins with a reason.
import { html } from 'htm/preact'
import { useState } from 'preact/hooks'
import { sendReport, type ReportKind } from '../../app/admin'
import { notify, notifyError } from '../../app/state'

/** A button that opens a small form; `label` names what is reported (e.g. "@bob"). */
export function ReportButton({
  type,
  id,
  label,
  className = 'btn small',
}: {
  type: ReportKind
  id: number
  label: string
  className?: string
}) {
  const [open, setOpen] = useState(false)
  const [reason, setReason] = useState('')
  const send = async (e: Event) => {
    e.preventDefault()
    try {
      await sendReport(type, id, reason.trim())
      notify('Thanks. The admins will look at it.')
      setOpen(false)
      setReason('')
    } catch (x) {
      notifyError(x)
    }
  }
  const button = html`<button class=${className} aria-label=${`Report ${label}`} aria-expanded=${open}
    onClick=${() => setOpen(true)}>Report</button>`
  if (!open) return button
  // A sheet over the screen, so the button can sit in a header, a menu or a message's actions.
  return html`${button}<div class="report-backdrop" onClick=${(e: Event) => {
    if (e.target === e.currentTarget) setOpen(false)
  }}>
    <form class="report-sheet stack" role="dialog" aria-modal="true" onSubmit=${send} aria-label=${`Report ${label}`}
      onKeyDown=${(e: KeyboardEvent) => {
        if (e.key === 'Escape') setOpen(false)
      }}>
      <h2>Report ${label}</h2>
      <label class="field"><span class="field-label">What is wrong with ${label}?</span>
        <textarea rows="3" minlength="3" maxlength="1000" required autofocus value=${reason}
          onInput=${(e: any) => setReason(e.target.value)} placeholder="Only the admins see this."></textarea></label>
      <div class="row gap">
        <button class="btn primary" type="submit">Send report</button>
        <button class="btn" type="button" onClick=${() => setOpen(false)}>Cancel</button>
      </div>
    </form>
  </div>`
}
