// Entry point: render the app, load who I am, register the service worker and watch for updates.
import { html } from 'htm/preact'
import { render } from 'preact'
import { App } from './components/app'
import { loadMe, updateReady } from './app/state'

render(html`<${App} />`, document.getElementById('app')!)
void loadMe()

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').then((reg) => {
    const watch = (w: ServiceWorker | null) => w?.addEventListener('statechange', () => {
      if (w.state === 'installed' && navigator.serviceWorker.controller) updateReady.value = true
    })
    if (reg.waiting && navigator.serviceWorker.controller) updateReady.value = true
    reg.addEventListener('updatefound', () => watch(reg.installing))
    setInterval(() => reg.update().catch(() => {}), 30 * 60_000)
  }).catch((e) => console.warn('service worker not registered', e))
  let reloading = false
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (updateReady.value && !reloading) { reloading = true; location.reload() }
  })
}
