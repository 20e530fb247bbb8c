// Sharing a room: its link (PUBLIC_URL/rooms/<id>) to copy, the platform's share sheet where there is one, and the
// room's .ics for an upcoming room.
import { html } from 'htm/preact'
import { useState } from 'preact/hooks'
import { copyText, roomLink, shareLink } from '../../app/rooms'
import { notify } from '../../app/state'
import { LineIcon } from '../icons'
import { Sheet } from './sheet'

function ShareSheet({ room, onClose }: { room: { id: number; title: string; state: string }; onClose: () => void }) {
  const url = roomLink(room.id)
  const canShare = typeof navigator.share === 'function'
  const copy = async () => {
    if (await copyText(url)) notify('Link copied')
    else {
      ;(document.getElementById('share-url') as HTMLInputElement | null)?.select()
      notify('Select the link and copy it')
    }
  }
  return html`<${Sheet} title="Share this room" onClose=${onClose}>
    <div class="stack share-sheet">
      <p class="muted small share-title">${room.title}</p>
      <label class="field"><span class="field-label">Link</span>
        <input id="share-url" readonly value=${url} onFocus=${(e: any) => e.target.select()} />
      </label>
      <div class="row gap wrap">
        <button class="btn primary" onClick=${copy}><${LineIcon} name="clip" /> Copy link</button>
        ${
          canShare &&
          html`<button class="btn" onClick=${() => void shareLink(room.title, url)}>
            <${LineIcon} name="share" /> Share…
          </button>`
        }
        ${
          room.state === 'scheduled' &&
          html`<a class="btn" href=${`/rooms/${room.id}.ics`} download target="_blank">
            <${LineIcon} name="calendar" /> Add to calendar
          </a>`
        }
      </div>
    </div>
  </${Sheet}>`
}

/** A "Share" button that opens the share sheet. */
export function ShareButton({
  room,
  className = 'btn small',
  label = 'Share',
}: {
  room: { id: number; title: string; state: string }
  className?: string
  label?: string
}) {
  const [open, setOpen] = useState(false)
  return html`<button class=${className} aria-label=${`Share ${room.title}`} onClick=${() => setOpen(true)}>
      <${LineIcon} name="share" /> ${label}
    </button>
    ${open && html`<${ShareSheet} room=${room} onClose=${() => setOpen(false)} />`}`
}
