// A bottom sheet (a centred dialog on desktop): traps nothing, closes on Escape or a tap outside.
import { html } from 'htm/preact'
import { useEffect, useRef } from 'preact/hooks'

export function Sheet({
  title,
  onClose,
  children,
  labelledBy,
}: {
  title: string
  onClose: () => void
  children: any
  labelledBy?: string
}) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose()
    }
    addEventListener('keydown', key)
    const first = ref.current?.querySelector<HTMLElement>('input, select, textarea, button:not(.sheet-close), a')
    first?.focus()
    return () => removeEventListener('keydown', key)
  }, [])
  const id = labelledBy ?? 'sheet-title'
  return html`<div class="sheet-backdrop" onClick=${(e: MouseEvent) => {
    if (e.target === e.currentTarget) onClose()
  }}>
    <div class="sheet" role="dialog" aria-modal="true" aria-labelledby=${id} ref=${ref}>
      <div class="sheet-head">
        <h2 id=${id}>${title}</h2>
        <button type="button" class="icon-btn sheet-close" aria-label="Close" onClick=${onClose}>×</button>
      </div>
      ${children}
    </div>
  </div>`
}
