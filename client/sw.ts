/// <reference lib="webworker" />
// The service worker: caches the app shell so Townhall opens with no network; API calls go to the network.
declare const __VERSION__: string
declare const __ASSETS__: string[]
const sw = globalThis as unknown as ServiceWorkerGlobalScope

const CACHE = `townhall-shell-${__VERSION__}`
const DATA = 'townhall-data'

sw.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(__ASSETS__)))
})

sw.addEventListener('activate', (e) => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k.startsWith('townhall-shell-') && k !== CACHE) await caches.delete(k)
    await sw.clients.claim()
  })())
})

sw.addEventListener('message', (e) => {
  if (e.data === 'skip-waiting') void sw.skipWaiting()
})

// Last-seen lists the app shows offline (hallway, inbox): network first, cached copy when offline.
const OFFLINE_API = [/^\/api\/me$/, /^\/api\/rooms$/, /^\/api\/threads$/]

sw.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (e.request.method !== 'GET' || url.origin !== sw.location.origin) return
  if (url.pathname.startsWith('/api/')) {
    if (!OFFLINE_API.some((r) => r.test(url.pathname))) return
    e.respondWith((async () => {
      try {
        const res = await fetch(e.request)
        if (res.ok) await (await caches.open(DATA)).put(e.request, res.clone())
        return res
      } catch {
        return (await caches.match(e.request)) ?? Response.json({ error: { code: 'offline', message: 'You are offline.' } }, { status: 503 })
      }
    })())
    return
  }
  if (url.pathname === '/ws' || url.pathname === '/healthz' || url.pathname.startsWith('/openapi') || url.pathname === '/metrics') return
  // Shell: cache first; screens of the app (any other path) get index.html.
  e.respondWith((async () => {
    const cache = await caches.open(CACHE)
    const hit = await cache.match(url.pathname === '/index.html' ? '/' : e.request, { ignoreSearch: true })
    if (hit) return hit
    try {
      return await fetch(e.request)
    } catch {
      return (await cache.match('/')) ?? new Response('Offline', { status: 503 })
    }
  })())
})

sw.addEventListener('push', (e) => {
  const data = (() => { try { return e.data?.json() ?? {} } catch { return { title: 'Townhall', body: e.data?.text() } } })()
  e.waitUntil(sw.registration.showNotification(data.title ?? 'Townhall', {
    body: data.body ?? '', icon: '/icons/icon-192.png', badge: '/icons/icon-192.png', tag: data.tag, data: { url: data.url ?? '/' },
  }))
})

sw.addEventListener('notificationclick', (e) => {
  e.notification.close()
  const url = (e.notification.data as { url?: string })?.url ?? '/'
  e.waitUntil((async () => {
    const all = await sw.clients.matchAll({ type: 'window', includeUncontrolled: true })
    for (const c of all) if ('focus' in c) { await (c as WindowClient).navigate(url).catch(() => {}); return (c as WindowClient).focus() }
    return sw.clients.openWindow(url)
  })())
})
