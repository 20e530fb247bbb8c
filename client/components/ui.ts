// Small shared widgets: avatar, field, page header, empty state, form error, toast.
import { html } from 'htm/preact'
import { toast } from '../app/state'

export function Avatar({
  user,
  size = 40,
  ring = false,
}: {
  user: { username: string; displayName?: string; avatar: string | null }
  size?: number
  ring?: boolean
}) {
  const name = user.displayName || user.username
  const style = `width:${size}px;height:${size}px;font-size:${Math.round(size * 0.4)}px`
  const hue = [...user.username].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7)
  return user.avatar
    ? html`<img class=${'avatar' + (ring ? ' ring' : '')} src=${user.avatar} alt="" style=${style} />`
    : html`<span class=${'avatar' + (ring ? ' ring' : '')} aria-hidden="true"
        style=${style + `;background:hsl(${hue} 55% 45%)`}>${name.slice(0, 1).toUpperCase()}</span>`
}

export function Field({ label, children, hint }: { label: string; children: any; hint?: string }) {
  return html`<label class="field">
    <span class="field-label">${label}</span>${children}${hint && html`<span class="field-hint">${hint}</span>`}
  </label>`
}

export function Header({ title, back, children }: { title: string; back?: string; children?: any }) {
  return html`<header class="page-header">
    ${back && html`<a class="icon-btn" href=${back} aria-label="Back">‹</a>`}
    <h1>${title}</h1><div class="header-actions">${children}</div>
  </header>`
}

export const Empty = ({ children }: { children: any }) => html`<p class="empty">${children}</p>`

/** A form's error, announced to screen readers; nothing when there is none. */
export const ErrorLine = ({ error }: { error: string | null | undefined }) =>
  error ? html`<p class="form-error" role="alert">${error}</p>` : null

export function Toast() {
  const t = toast.value
  return html`<div class="toast-area" role="status" aria-live="polite">
    ${t && html`<div class=${'toast ' + t.kind}>${t.text}</div>`}
  </div>`
}

export function timeAgo(ms: number) {
  const s = Math.round((Date.now() - ms) / 1000)
  if (s < 60) return 'just now'
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`
  return new Date(ms).toLocaleDateString()
}
