// Entry point: render the app, load who I am, register the service worker and watch for updates.
import { html } from 'htm/preact'
import { render } from 'preact'
import { App } from './components/app'
import { loadMe, me, notify, startAs, takeFirstData, updateReady } from './app/state'
import { navigate } from './app/router'
import { primeHallway, primeHallwayWith, roomStatus, type HallwayList } from './app/rooms'
import { effect } from '@preact/signals'

// The first paint is the first screen whole: the app renders once who I am is known (and, for a member on the
// hallway, its list), both preloaded beside this script, rather than painting "Loading…" screens that the next
// moments replace (each a render and a layout of its own). Past FIRST_PAINT_WAIT_MS it shows the loading screen.
const FIRST_PAINT_WAIT_MS = 1_000
let painted = false
const paint = () => {
  if (painted) return
  painted = true
  clearTimeout(waiting)
  // index.html's hidden text in the first screens' font sizes and weights (test/integration/first-load.test.ts keeps
  // the list whole) has done its work: the page's first layout, while this script and the data loaded, did the font
  // lookups (on this Linux host mostly waits, not CPU) that this render's layout would otherwise pay.
  document.querySelector('.font-warm')?.remove()
  render(html`<${App} />`, document.getElementById('app')!)
}
// Once signed in, make sure the server still has this device's push subscription (if notifications are on).
const refreshPush = () => {
  if (me.value && 'Notification' in window && Notification.permission === 'granted')
    void import('./app/push').then((m) => m.refreshPush()).catch(() => {})
}
// A page opened in the browser carries its first data (who I am, a member's hallway list: P16), so the first screen
// renders as this script runs, in the same task, with no request to wait for; the service worker's cached shell
// does not, and the app asks for them (both preloaded) as before.
const first = takeFirstData()
let waiting: ReturnType<typeof setTimeout> | undefined
if (first) {
  startAs(first.user)
  if (first.user && first.rooms && location.pathname === '/') primeHallwayWith(first.rooms as HallwayList)
  paint()
  refreshPush()
} else {
  waiting = setTimeout(paint, FIRST_PAINT_WAIT_MS)
  void loadMe().then(async () => {
    if (me.value && location.pathname === '/') await primeHallway()
    paint()
    refreshPush()
  })
}
// The lock screen's room controls (mediasession.ts) load the first time I am in a room.
let roomSession = false
effect(() => {
  if (roomSession || roomStatus.value !== 'joined') return
  roomSession = true
  void import('./app/mediasession').then((m) => m.bindRoomSession())
})

function registerWorker(container: ServiceWorkerContainer) {
  container
    .register('/sw.js')
    .then((reg) => {
      const watch = (w: ServiceWorker | null) =>
        w?.addEventListener('statechange', () => {
          if (w.state === 'installed' && container.controller) updateReady.value = true
        })
      if (reg.waiting && container.controller) updateReady.value = true
      reg.addEventListener('updatefound', () => watch(reg.installing))
      setInterval(() => reg.update().catch(() => {}), 30 * 60_000)
      // Coming back to the app is a good moment to look for a new version.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') reg.update().catch(() => {})
      })
    })
    .catch((e) => console.warn('service worker not registered', e))
}

if ('serviceWorker' in navigator) {
  // The worker (and its precache of the shell) waits for the page's load, so it does not compete with the first screen.
  if (document.readyState === 'complete') registerWorker(navigator.serviceWorker)
  else addEventListener('load', () => registerWorker(navigator.serviceWorker), { once: true })
  // From the service worker: a notification was clicked (open its screen), or a push arrived while the app is in front.
  navigator.serviceWorker.addEventListener('message', (e) => {
    const m = e.data as { type?: string; url?: string; kind?: string; title?: string; body?: string }
    if (m?.type === 'open' && typeof m.url === 'string' && m.url.startsWith('/')) navigate(m.url)
    else if (m?.type === 'push' && (m.kind === 'room_started' || m.kind === 'room_reminder'))
      notify(`${m.title}: ${m.body}`)
  })
  let reloading = false
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (updateReady.value && !reloading) {
      reloading = true
      location.reload()
    }
  })
}
