// The screens by path. Signed-out visitors see sign-in, setup and invite screens; members the shell.
import { html } from 'htm/preact'
import type { ComponentChildren } from 'preact'
import { lazy, match, path } from '../app/router'
import { me } from '../app/state'
import { Register, Setup, SignIn } from './auth'
import { Shell } from './shell'
import { Header, Toast } from './ui'
import { Hallway } from './rooms/hallway'

// Every screen but the shell, the sign-in ones and the hallway loads on first use (their own chunks, precached by the
// service worker; see scripts/client.ts), so that the first screen of most visits (sign-in, the hallway) waits for
// none of them. The room screen comes with its Backchannel panels (chat, backstage, Q&A: they register themselves).
const roomScreen = () => Promise.all([import('./rooms/event'), import('./backchannel/room')]).then(([m]) => m)
const RoomRoute = lazy(() => roomScreen().then((m) => m.RoomRoute))
const PublicRoom = lazy(() => roomScreen().then((m) => m.PublicRoom))
const Admin = lazy(() => import('./admin').then((m) => m.Admin))
const MyInvites = lazy(() => import('./admin').then((m) => m.MyInvites))
const ResetPassword = lazy(() => import('./admin/reset').then((m) => m.ResetPassword))
const NotificationSettings = lazy(() => import('./settings').then((m) => m.NotificationSettings))
const Profile = lazy(() => import('./profile').then((m) => m.Profile))
const MyProfile = lazy(() => import('./profile').then((m) => m.MyProfile))
const People = lazy(() => import('./people').then((m) => m.People))
const FollowList = lazy(() => import('./people').then((m) => m.FollowList))
const Inbox = lazy(() => import('./backchannel/inbox').then((m) => m.Inbox))
const OpenDm = lazy(() => import('./backchannel/inbox').then((m) => m.OpenDm))
const NewMessage = lazy(() => import('./backchannel/new').then((m) => m.NewMessage))
const NewGroup = lazy(() => import('./backchannel/new').then((m) => m.NewGroup))
const ThreadScreen = lazy(() => import('./backchannel/thread').then((m) => m.ThreadScreen))
const ActivityScreen = lazy(() => import('./activity').then((m) => m.ActivityScreen))
const Replays = lazy(() => import('./replays').then((m) => m.ReplaysScreen))
const Replay = lazy(() => import('./replays').then((m) => m.ReplayScreen))
const Welcome = lazy(() => import('./welcome').then((m) => m.Welcome))

type Screen = [pattern: string, view: (params: Record<string, string>) => any]

/** Screens for members. Domains add theirs here (rooms, backchannel, admin). */
const SCREENS: Screen[] = [
  ['/', () => html`<${Hallway} />`],
  ['/rooms/:id', (p) => html`<${RoomRoute} key=${p.id} id=${p.id} />`],
  ['/backchannel', () => html`<${Inbox} />`],
  ['/backchannel/requests', () => html`<${Inbox} tab="requests" />`],
  ['/backchannel/rooms', () => html`<${Inbox} tab="rooms" />`],
  ['/backchannel/new', () => html`<${NewMessage} />`],
  ['/backchannel/group', () => html`<${NewGroup} />`],
  ['/backchannel/new/:username', (p) => html`<${OpenDm} key=${p.username} username=${p.username} />`],
  ['/backchannel/:threadId', (p) => html`<${ThreadScreen} key=${p.threadId} id=${Number(p.threadId)} />`],
  ['/activity', () => html`<${ActivityScreen} />`],
  ['/replays', () => html`<${Replays} />`],
  ['/replays/:id', (p) => html`<${Replay} key=${p.id} id=${p.id} />`],
  ['/welcome', () => html`<${Welcome} />`],
  ['/people', () => html`<${People} />`],
  ['/u/:username', (p) => html`<${Profile} username=${p.username} />`],
  ['/u/:username/followers', (p) => html`<${FollowList} username=${p.username} which="followers" />`],
  ['/u/:username/following', (p) => html`<${FollowList} username=${p.username} which="following" />`],
  ['/me', () => html`<${MyProfile} />`],
  ['/invites', () => html`<${MyInvites} />`],
  ['/admin', () => html`<${Admin} />`],
  ['/admin/:tab', (p) => html`<${Admin} tab=${p.tab} />`],
  ['/settings/notifications', () => html`<${NotificationSettings} />`],
]

const PUBLIC: Screen[] = [
  ['/setup/:token', (p) => html`<${Setup} token=${p.token} />`],
  ['/invite/:token', (p) => html`<${Register} token=${p.token} />`],
  ['/join', () => html`<${Register} />`],
  ['/rooms/:id', (p) => html`<${PublicRoom} key=${p.id} id=${p.id} />`],
  ['/reset/:token', (p) => html`<${ResetPassword} token=${p.token} />`],
]

function route(list: Screen[], p: string) {
  for (const [pattern, view] of list) {
    const params = match(pattern, p)
    if (params) return view(params)
  }
  return null
}

export function App() {
  const p = path.value
  const user = me.value
  let body: ComponentChildren
  if (user === undefined) body = html`<div class="loading" aria-busy="true">Loading Townhall…</div>`
  else if (!user || p.startsWith('/setup/') || p.startsWith('/invite/') || p.startsWith('/reset/'))
    body = route(PUBLIC, p) ?? (user ? html`<${Shell}>${route(SCREENS, '/')}</${Shell}>` : html`<${SignIn} />`)
  else
    body = html`<${Shell}>
      ${route(SCREENS, p) ?? html`<${Header} title="Not found" /><p class="empty">This page does not exist.</p>`}
    </${Shell}>`
  return html`${body}<${Toast} />`
}
