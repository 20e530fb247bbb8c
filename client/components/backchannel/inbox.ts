// The Backchannel screen: the inbox (unread badges, previews), the Requests tab, search, and the requests setting.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import * as bc from '../../app/backchannel'
import { navigate } from '../../app/router'
import { errorText, me, notify, notifyError, settle } from '../../app/state'
import { Avatar, Empty, Header, timeAgo } from '../ui'
import { highlighted } from './text'
import { LineIcon } from '../icons'

/** What a thread is called for me: the other person in a 1:1, the title of a group or room thread. */
export function threadTitle(t: bc.Thread) {
  if (t.kind === 'dm') return others(t)[0]?.displayName ?? 'Conversation'
  if (t.kind === 'backstage') return `Backstage · ${t.title}`
  return t.title
}
export const others = (t: bc.Thread) => t.members.filter((m) => m.id !== me.value?.id)

function ThreadAvatar({ t, size = 44 }: { t: bc.Thread; size?: number }) {
  const o = others(t)
  if (t.kind === 'dm' && o[0]) return html`<${Avatar} user=${o[0]} size=${size} />`
  return html`<span class="avatar group-avatar" aria-hidden="true" style=${`width:${size}px;height:${size}px`}>
    ${(t.title || '#').slice(0, 1).toUpperCase()}
  </span>`
}

function preview(t: bc.Thread) {
  const m = t.lastMessage
  if (!m) return 'No messages yet'
  const who = m.author?.id === me.value?.id ? 'You: ' : t.kind !== 'dm' && m.author ? `${m.author.displayName}: ` : ''
  const attached = m.media ? (m.media.kind === 'voice' ? '🎤 Voice message' : '🎬 Video') : m.image ? '📷 Photo' : ''
  return who + (m.deleted ? 'Message deleted' : m.body || attached)
}

function ThreadRow({ t, request }: { t: bc.Thread; request?: boolean }) {
  const unread = t.unread > 0 && !request
  return html`<li class=${'list-item thread-row' + (unread ? ' unread' : '')}>
    <a class="row gap center grow" href=${'/backchannel/' + t.id}>
      <${ThreadAvatar} t=${t} />
      <span class="grow thread-text">
        <span class="row center gap">
          <strong class="grow ellipsis">${threadTitle(t)}</strong>
          <span class="muted small nowrap row center">
            ${t.muted ? html`<span class="visually-hidden">Muted</span><${LineIcon} name="bell-off" />` : ''}
            ${timeAgo(t.lastAt)}
          </span>
        </span>
        <span class="row center gap">
          <span class="muted small ellipsis grow">${preview(t)}</span>
          ${
            unread &&
            html`<span class="unread-badge" aria-label=${`${t.unread} unread`}>
              ${t.unread > 99 ? '99+' : t.unread}
            </span>`
          }
        </span>
      </span>
    </a>
    ${
      request &&
      html`<div class="row gap request-actions">
      <button class="btn small primary" aria-label="Accept request"
        onClick=${() => settle(bc.accept(t.id), 'Moved to your inbox')}>Accept</button>
      <button class="btn small" aria-label="Decline request"
        onClick=${() => settle(bc.decline(t.id), 'Request declined')}>Decline</button>
    </div>`
    }
  </li>`
}

function Search() {
  const [q, setQ] = useState('')
  const [results, setResults] = useState<bc.SearchResult[] | null>(null)
  useEffect(() => {
    if (q.trim().length < 2) {
      setResults(null)
      return
    }
    const timer = setTimeout(() => bc.search(q).then(setResults, notifyError), 250)
    return () => clearTimeout(timer)
  }, [q])
  return html`<div class="pad">
      <input type="search" class="search" placeholder="Search messages" aria-label="Search messages" value=${q}
        onInput=${(e: any) => setQ(e.target.value)} />
    </div>
    ${
      results &&
      (results.length === 0
        ? html`<${Empty}>No messages match.</${Empty}>`
        : html`<ul class="list search-results" aria-label="Search results">
      ${results.map(
        (r) => html`<li class="list-item"><a class="grow" href=${'/backchannel/' + r.thread.id}>
        <span class="row gap center">
          <strong class="grow ellipsis">${
            r.thread.kind === 'dm'
              ? (r.thread.members.filter((m) => m.id !== me.value?.id)[0]?.displayName ?? 'Conversation')
              : r.thread.title
          }</strong>
          <span class="muted small">${timeAgo(r.message.createdAt)}</span>
        </span>
        <span class="small">
          ${r.message.author ? html`<span class="muted">${r.message.author.displayName}: </span>` : ''}
          ${highlighted(r.snippet)}
        </span>
      </a></li>`,
      )}</ul>`)
    }`
}

export function Inbox({ tab = 'inbox' }: { tab?: 'inbox' | 'requests' | 'rooms' }) {
  useEffect(() => {
    bc.startBackchannel()
    bc.loadInbox().catch(notifyError)
  }, [])
  const { inbox, requests, rooms } = bc.inboxLists()
  const state = bc.inboxState.value
  const list = tab === 'inbox' ? inbox : tab === 'requests' ? requests : rooms
  const empty =
    tab === 'inbox'
      ? "No conversations yet. Start one from someone's profile or with “New message”."
      : tab === 'requests'
        ? 'No message requests.'
        : 'The chats of rooms you were in show here.'
  return html`<${Header} title="Backchannel">
      <a class="btn small" href="/backchannel/group" aria-label="New group"><${LineIcon} name="plus" /> Group</a>
      <a class="btn small primary" href="/backchannel/new" aria-label="New message"><${LineIcon} name="pen" /> New</a>
    </${Header}>
    <div class="tabs" role="tablist" aria-label="Backchannel">
      <a role="tab" class=${'tab' + (tab === 'inbox' ? ' active' : '')} aria-selected=${tab === 'inbox'}
        href="/backchannel">Inbox</a>
      <a role="tab" class=${'tab' + (tab === 'requests' ? ' active' : '')} aria-selected=${tab === 'requests'}
        href="/backchannel/requests">
        Requests${requests.length ? html` <span class="unread-badge">${requests.length}</span>` : ''}</a>
      <a role="tab" class=${'tab' + (tab === 'rooms' ? ' active' : '')} aria-selected=${tab === 'rooms'}
        href="/backchannel/rooms">Rooms</a>
    </div>
    ${tab === 'inbox' && html`<${Search} />`}
    ${
      state === 'loading' && list.length === 0
        ? html`<p class="muted pad">Loading…</p>`
        : state === 'offline' && list.length === 0
          ? html`<${Empty}>You are offline.</${Empty}>`
          : list.length === 0
            ? html`<${Empty}>${empty}</${Empty}>`
            : html`<ul class="list thread-list">
                ${list.map((t) => html`<${ThreadRow} key=${t.id} t=${t} request=${tab === 'requests'} />`)}
              </ul>`
    }
    ${
      tab === 'requests' &&
      html`<section class="card">
      <label class="switch-row"><input type="checkbox" class="switch" checked=${bc.prefs.value.followersOnly}
        onChange=${(e: any) => bc.setFollowersOnly(e.target.checked).then(() => notify('Saved'), notifyError)} />
        <span class="grow">Only people I follow can message me<br />
          <span class="muted small">Others cannot start a conversation with you.</span></span></label>
      <p class="muted small">
        Messages from people you don't follow wait here until you accept them.${' '}
        They don't know whether you have read them.
      </p>
    </section>`
    }`
}

/** Opens (or creates) the 1:1 thread with someone, then shows it. The profile's "Message" button lands here. */
export function OpenDm({ username }: { username: string }) {
  const [err, setErr] = useState('')
  useEffect(() => {
    bc.startBackchannel()
    bc.openDm(username).then(
      (t) => navigate('/backchannel/' + t.id, true),
      (e) => setErr(errorText(e)),
    )
  }, [username])
  return err
    ? html`<${Header} title="New message" back="/backchannel" /><${Empty}>${err}</${Empty}>`
    : html`<${Header} title="New message" back="/backchannel" /><p class="muted pad">Opening…</p>`
}
