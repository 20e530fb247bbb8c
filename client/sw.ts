/// <reference lib="webworker" />
// The service worker: caches the app shell so Townhall opens with no network; API calls go to the network.
declare const __VERSION__: string
declare const __ASSETS__: string[]
const sw = globalThis as unknown as ServiceWorkerGlobalScope

const CACHE = `townhall-shell-${__VERSION__}`
const DATA = 'townhall-data'

sw.addEventListener('install', (e) => {
  e.waitUntil(
    (async () => {
      const c = await caches.open(CACHE)
      await c.addAll(__ASSETS__.filter((a) => a !== '/'))
      // The shell without its per-visit preload header (a member's hallway list): it is served offline, and to
      // whoever opens the app next, signed in or not.
      const shell = await fetch('/', { cache: 'no-cache' })
      if (!shell.ok) throw new Error(`the shell answered ${shell.status}`)
      const headers = new Headers(shell.headers)
      headers.delete('link')
      await c.put('/', new Response(await shell.blob(), { status: shell.status, headers }))
    })(),
  )
})

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k.startsWith('townhall-shell-') && k !== CACHE) await caches.delete(k)
      await sw.clients.claim()
    })(),
  )
})

sw.addEventListener('message', (e) => {
  if (e.data === 'skip-waiting') void sw.skipWaiting()
})

// Last-seen lists the app shows offline (hallway, inbox): network first, cached copy when offline.
const OFFLINE_API = [/^\/api\/(me|session)$/, /^\/api\/rooms$/, /^\/api\/threads$/]

// Signing in or out changes whose lists these are: forget the cached copies.
const SESSION_CHANGE = /^\/api\/(auth\/(login|logout|logout-all|register)|setup|reset\/)/

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (url.origin === sw.location.origin && e.request.method === 'POST' && SESSION_CHANGE.test(url.pathname)) {
    e.waitUntil(caches.delete(DATA))
    // Signing out: this device stops getting the member's notifications (asked while the session still works).
    if (/^\/api\/auth\/logout/.test(url.pathname)) {
      e.respondWith(
        (async () => {
          const sub = await sw.registration.pushManager?.getSubscription().catch(() => null)
          if (sub)
            await fetch('/api/push/unsubscribe', {
              method: 'POST',
              credentials: 'same-origin',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ endpoint: sub.endpoint }),
            }).catch(() => {})
          return fetch(e.request)
        })(),
      )
      return
    }
  }
  if (e.request.method !== 'GET' || url.origin !== sw.location.origin) return
  if (url.pathname.startsWith('/api/')) {
    if (!OFFLINE_API.some((r) => r.test(url.pathname))) return
    e.respondWith(
      (async () => {
        try {
          const res = await fetch(e.request)
          if (res.ok) await (await caches.open(DATA)).put(e.request, res.clone())
          return res
        } catch {
          return (
            (await caches.match(e.request)) ??
            Response.json({ error: { code: 'offline', message: 'You are offline.' } }, { status: 503 })
          )
        }
      })(),
    )
    return
  }
  if (
    url.pathname === '/ws' ||
    url.pathname === '/healthz' ||
    url.pathname.startsWith('/openapi') ||
    url.pathname === '/metrics'
  )
    return
  // Shell: cache first; screens of the app (any other path) get index.html.
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE)
      const hit = await cache.match(url.pathname === '/index.html' ? '/' : e.request, { ignoreSearch: true })
      if (hit) return hit
      try {
        return await fetch(e.request)
      } catch {
        return (await cache.match('/')) ?? new Response('Offline', { status: 503 })
      }
    })(),
  )
})

// A push: {kind, title, body, url, tag}. When Townhall is open and in front, the app already shows it (the
// WebSocket delivers the same event), so the notification is only for when the app is in the background.
sw.addEventListener('push', (e) => {
  const data = (() => {
    try {
      return e.data?.json() ?? {}
    } catch {
      return { title: 'Townhall', body: e.data?.text() }
    }
  })()
  e.waitUntil(
    (async () => {
      const windows = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })
      const front = windows.find(
        (c) => (c as WindowClient).focused && (c as WindowClient).visibilityState === 'visible',
      )
      if (front && data.kind && data.kind !== 'test') {
        front.postMessage({ type: 'push', ...data })
        return
      }
      const url =
        typeof data.url === 'string' && data.url.startsWith('/') && !data.url.startsWith('//') ? data.url : '/'
      await sw.registration.showNotification(data.title ?? 'Townhall', {
        body: data.body ?? '',
        icon: '/icons/icon-192.png',
        badge: '/icons/icon-192.png',
        tag: data.tag,
        renotify: !!data.tag,
        data: { url },
        requireInteraction: data.kind === 'speak_invite',
      } as NotificationOptions)
    })(),
  )
})

// The browser replaced the subscription (expired keys, a reset push service): subscribe again and tell the server.
sw.addEventListener('pushsubscriptionchange', (e) => {
  const ev = e as Event & {
    oldSubscription?: PushSubscription | null
    newSubscription?: PushSubscription | null
    waitUntil(p: Promise<unknown>): void
  }
  ev.waitUntil(
    (async () => {
      const key =
        ev.oldSubscription?.options.applicationServerKey ??
        (await fetch('/api/push/key')
          .then((r) => r.json())
          .then((j: { publicKey: string }) =>
            Uint8Array.from(
              atob(j.publicKey.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (j.publicKey.length % 4)) % 4)),
              (c) => c.charCodeAt(0),
            ),
          ))
      const sub =
        ev.newSubscription ??
        (await sw.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }))
      await fetch('/api/push/subscribe', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sub.toJSON()),
      })
      if (ev.oldSubscription)
        await fetch('/api/push/unsubscribe', {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ endpoint: ev.oldSubscription.endpoint }),
        })
    })().catch(() => {}),
  )
})

sw.addEventListener('notificationclick', (e) => {
  e.notification.close()
  const url = new URL((e.notification.data as { url?: string })?.url ?? '/', sw.location.origin)
  if (url.origin !== sw.location.origin) return
  e.waitUntil(
    (async () => {
      const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })
      const c = (all.find((w) => (w as WindowClient).focused) ?? all[0]) as WindowClient | undefined
      if (c) {
        // The app routes in place: tell it where to go (navigate() would reload the page and drop a live room).
        c.postMessage({ type: 'open', url: url.pathname + url.search })
        return c.focus()
      }
      return sw.clients.openWindow(url.href)
    })(),
  )
})
