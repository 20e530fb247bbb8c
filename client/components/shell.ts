// The signed-in frame: a top bar, the navigation (bottom bar on phones, side bar on desktops) and the screen.
import { html } from 'htm/preact'
import { useEffect } from 'preact/hooks'
import { conn } from '../app/connection'
import { me, updateReady } from '../app/state'
import { Avatar } from './ui'
import { Icon, type IconName } from './icons'
import { nowPlaying } from '../app/nowplaying'
import { lazy, path } from '../app/router'
import { signal } from '@preact/signals'
import { Bell } from './activity'
import { RoomDock } from './rooms/dock'
import { currentRoomId, roomStatus } from '../app/rooms'

// The bar of the voice message playing: its module (with the player) is loaded by then, as a voice message was shown.
const VoiceBar = lazy(() => import('./backchannel/media').then((m) => m.VoiceBar), { quiet: true })

// Backchannel's state (the inbox and threads, kept in step over the socket) is a chunk of its own, loaded as the shell
// shows: the shell needs only its unread count, and the first screen does not wait for it.
const unreadTotal = signal<(() => number) | null>(null)
let backchannelLoading = false
function startBackchannel() {
  if (backchannelLoading) return
  backchannelLoading = true
  import('../app/backchannel').then(
    (m) => {
      m.startBackchannel() // keeps the unread count in step
      unreadTotal.value = m.unreadTotal
    },
    (e) => {
      backchannelLoading = false // the next shell tries again
      console.warn('Backchannel not loaded', e)
    },
  )
}

// Offline: the app still opens (the service worker) and shows the lists it saw last.
const online = signal(typeof navigator === 'undefined' ? true : navigator.onLine)
addEventListener('online', () => {
  online.value = true
})
addEventListener('offline', () => {
  online.value = false
})

const NAV = [
  {
    href: '/',
    label: 'Hallway',
    icon: 'hallway' as IconName,
    match: (p: string) => p === '/' || p.startsWith('/rooms'),
  },
  {
    href: '/backchannel',
    label: 'Backchannel',
    icon: 'chat' as IconName,
    match: (p: string) => p.startsWith('/backchannel'),
  },
  {
    href: '/people',
    label: 'People',
    icon: 'people' as IconName,
    match: (p: string) => p.startsWith('/people') || p.startsWith('/u/'),
  },
  {
    href: '/me',
    label: 'Profile',
    icon: 'profile' as IconName,
    match: (p: string) => p === '/me' || p.startsWith('/settings'),
  },
  {
    href: '/admin',
    label: 'Admin',
    icon: 'settings' as IconName,
    match: (p: string) => p.startsWith('/admin'),
    admin: true,
  },
]

// The shell's parts that follow a signal of their own (the connection, being offline, an update, the unread count)
// are components of their own: a change re-renders that part, not the shell and the screen in it (the socket's
// hello, Backchannel's first unread count and the like arrive just after the first paint).
function Banners() {
  return html`${
    !online.value
      ? html`<div class="banner warn" role="status">You are offline. Showing what you saw last.</div>`
      : conn.state.value === 'reconnecting' && html`<div class="banner warn" role="status">Reconnecting…</div>`
  }
  ${
    updateReady.value &&
    html`<div class="banner info" role="status">
      Update available <button class="btn small" onClick=${() => applyUpdate()}>Reload</button>
    </div>`
  }
  ${nowPlaying.value && html`<${VoiceBar} />`}`
}

function UnreadBadge() {
  const unread = unreadTotal.value?.() ?? 0
  return (
    unread > 0 && html`<span class="nav-badge" aria-label=${`${unread} unread`}>${unread > 99 ? '99+' : unread}</span>`
  )
}

export function Shell({ children }: { children: any }) {
  const user = me.value!
  const p = path.value
  const items = NAV.filter((n) => !n.admin || user.role === 'admin')
  useEffect(startBackchannel, [])
  const docked = currentRoomId.value !== null && roomStatus.value === 'joined' && p !== `/rooms/${currentRoomId.value}`
  return html`<div class=${'shell' + (docked ? ' docked' : '')}>
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/" aria-label="Townhall home">
        <img src="/icons/icon-192.png" alt="" width="28" height="28" /><span>Townhall</span>
      </a>
      <div class="topbar-actions">
        <${Bell} />
        <a class="topbar-me" href="/me" aria-label="My profile"><${Avatar} user=${user} size=${32} /></a>
      </div>
    </header>
    <${Banners} />
    <nav class="nav" aria-label="Main">
      ${items.map(
        (n) => html`<a href=${n.href} class=${'nav-item' + (n.match(p) ? ' active' : '')}
          aria-current=${n.match(p) ? 'page' : undefined}>
        <span class="nav-icon" aria-hidden="true"><${Icon} name=${n.icon} size=${24} /></span>
        <span class="nav-label">${n.label}</span>
        ${n.href === '/backchannel' && html`<${UnreadBadge} />`}</a>`,
      )}
    </nav>
    <main id="main" class="content">${children}</main>
    <${RoomDock} />
  </div>`
}

function applyUpdate() {
  navigator.serviceWorker?.getRegistration().then((r) => r?.waiting?.postMessage('skip-waiting'))
}
