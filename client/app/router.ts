// A tiny router over the History API: the path is a signal; links with data-nav or `navigate()` change it.
import { signal } from '@preact/signals'
import { html } from 'htm/preact'

export const path = signal(location.pathname)

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return
  replace ? history.replaceState(null, '', to) : history.pushState(null, '', to)
  path.value = location.pathname
  window.scrollTo(0, 0)
}

addEventListener('popstate', () => {
  path.value = location.pathname
})

// Same-origin <a href="/..."> clicks stay in the app.
addEventListener('click', (e: MouseEvent) => {
  const a = (e.target as Element).closest?.('a')
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target === '_blank')
    return
  const href = a.getAttribute('href')
  if (!href?.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return
  e.preventDefault()
  navigate(href)
})

/** Matches "/rooms/:id" against a path; returns the params or null. */
export function match(pattern: string, p: string): Record<string, string> | null {
  const a = pattern.split('/'),
    b = p.split('/')
  if (a.length !== b.length) return null
  const out: Record<string, string> = {}
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.startsWith(':')) out[a[i]!.slice(1)] = decodeURIComponent(b[i]!)
    else if (a[i] !== b[i]) return null
  }
  return out
}

/**
 * A screen loaded on first use: its module is a separate chunk (the bundle splits at `import()`), so the first screen
 * does not wait for the admin console or rarely used screens. Shows "Loading…" until the chunk arrives; a failed load
 * (offline, a stale deployment) shows a retry. A `quiet` one (a bar, not a screen) shows nothing until it is there.
 */
export function lazy<C extends (props: any) => any>(load: () => Promise<C>, opts: { quiet?: boolean } = {}) {
  let view: C | null = null
  let pending: Promise<void> | null = null
  const state = signal<'idle' | 'loading' | 'ready' | 'failed'>('idle')
  const start = () =>
    (pending ??= load().then(
      (v) => {
        view = v
        state.value = 'ready'
      },
      (e) => {
        console.warn('screen not loaded', e)
        pending = null
        state.value = 'failed'
      },
    ))
  const retry = () => {
    state.value = 'loading'
    void start()
  }
  const Lazy = (props: Parameters<C>[0]) => {
    if (view) return html`<${view} ...${props} />`
    if (state.value === 'idle') void start()
    if (opts.quiet) return null
    if (state.value === 'failed')
      return html`<p class="empty">This screen could not be loaded.
        <button class="btn" onClick=${retry}>Try again</button></p>`
    return html`<div class="loading" aria-busy="true">Loading…</div>`
  }
  return Lazy
}
