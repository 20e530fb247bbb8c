// A tiny router over the History API: the path is a signal; links with data-nav or `navigate()` change it.
import { signal } from '@preact/signals'

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
