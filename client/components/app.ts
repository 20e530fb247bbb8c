// The screens by path. Signed-out visitors see sign-in, setup and invite screens; members the shell.
import { html } from 'htm/preact'
import type { ComponentChildren } from 'preact'
import { match, path } from '../app/router'
import { me } from '../app/state'
import { Register, Setup, SignIn } from './auth'
import { Shell } from './shell'
import { ActivityScreen } from './activity'
import { Welcome } from './welcome'
import { Profile, MyProfile } from './profile'
import { FollowList, People } from './people'
import { Admin, MyInvites } from './admin'
import { ResetPassword } from './admin/reset'
import { NotificationSettings } from './settings'
import { Header, Toast } from './ui'
import { Inbox, OpenDm } from './backchannel/inbox'
import { NewGroup, NewMessage } from './backchannel/new'
import { ThreadScreen } from './backchannel/thread'
import './backchannel/room'
import { Hallway } from './rooms/hallway'
import { GuestRoom, Room } from './rooms/room'

type Screen = [pattern: string, view: (params: Record<string, string>) => any]

/** Screens for members. Domains add theirs here (rooms, backchannel, admin). */
const SCREENS: Screen[] = [
  ['/', () => html`<${Hallway} />`],
  ['/rooms/:id', (p) => html`<${Room} key=${p.id} id=${p.id} />`],
  ['/backchannel', () => html`<${Inbox} />`],
  ['/backchannel/requests', () => html`<${Inbox} tab="requests" />`],
  ['/backchannel/rooms', () => html`<${Inbox} tab="rooms" />`],
  ['/backchannel/new', () => html`<${NewMessage} />`],
  ['/backchannel/group', () => html`<${NewGroup} />`],
  ['/backchannel/new/:username', (p) => html`<${OpenDm} key=${p.username} username=${p.username} />`],
  ['/backchannel/:threadId', (p) => html`<${ThreadScreen} key=${p.threadId} id=${Number(p.threadId)} />`],
  ['/activity', () => html`<${ActivityScreen} />`],
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
  ['/rooms/:id', (p) => html`<${GuestRoom} key=${p.id} id=${p.id} />`],
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
