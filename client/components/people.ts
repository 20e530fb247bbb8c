// Find people by name and follow them; someone's followers and following.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  blockedUsers,
  follow,
  followList,
  searchUsers,
  unblock,
  unfollow,
  type FoundUser,
  type PublicUser,
} from '../app/accounts'
import { errorText, me, notify, notifyError } from '../app/state'
import { Avatar, Empty, Header } from './ui'

export function People() {
  const [q, setQ] = useState('')
  const [users, setUsers] = useState<FoundUser[] | null>(null)
  useEffect(() => {
    const t = setTimeout(() => searchUsers(q, 30).then(setUsers, notifyError), 150)
    return () => clearTimeout(t)
  }, [q])
  const toggle = async (u: FoundUser) => {
    try {
      await (u.isFollowing ? unfollow : follow)(u.username)
      setUsers(users!.map((x) => (x.id === u.id ? { ...x, isFollowing: !u.isFollowing } : x)))
    } catch (e) {
      notifyError(e)
    }
  }
  return html`<${Header} title="People" />
  <div class="pad">
    <input type="search" class="search" placeholder="Search by name or @username" aria-label="Search people" value=${q}
      onInput=${(e: any) => setQ(e.target.value)} />
  </div>
  ${
    users === null
      ? html`<p class="muted pad">Loading…</p>`
      : users.length === 0
        ? html`<${Empty}>Nobody found.</${Empty}>`
        : html`<ul class="list">
    ${users.map(
      (u) => html`<li class="list-item">
      <a class="row gap center grow" href=${'/u/' + u.username}>
        <${Avatar} user=${u} />
        <span><strong>${u.displayName}</strong><br/><span class="muted small">@${u.username}</span></span>
      </a>
      ${
        u.id === me.value?.id
          ? html`<span class="badge">You</span>`
          : html`<button class=${'btn small' + (u.isFollowing ? '' : ' primary')}
              aria-label=${(u.isFollowing ? 'Unfollow @' : 'Follow @') + u.username} onClick=${() => toggle(u)}>
              ${u.isFollowing ? 'Following' : 'Follow'}
            </button>`
      }
    </li>`,
    )}</ul>`
  }`
}

/** Someone's followers or the people they follow, with a follow button for each. */
export function FollowList({ username, which }: { username: string; which: 'followers' | 'following' }) {
  const [users, setUsers] = useState<PublicUser[] | null>(null)
  const [err, setErr] = useState('')
  useEffect(() => {
    setUsers(null)
    setErr('')
    followList(username, which).then(setUsers, (e) => setErr(errorText(e)))
  }, [username, which])
  const title = which === 'followers' ? `Followers of @${username}` : `@${username} follows`
  const back = '/u/' + encodeURIComponent(username)
  if (err) return html`<${Header} title=${title} back=${back} /><${Empty}>${err}</${Empty}>`
  return html`<${Header} title=${title} back=${back} />
  ${
    users === null
      ? html`<p class="muted pad">Loading…</p>`
      : users.length === 0
        ? html`<${Empty}>${which === 'followers' ? 'No followers yet.' : 'Not following anyone yet.'}</${Empty}>`
        : html`<ul class="list" aria-label=${title}>${users.map(
            (u) => html`<li class="list-item">
      <a class="row gap center grow" href=${'/u/' + u.username}>
        <${Avatar} user=${u} />
        <span><strong>${u.displayName}</strong><br/><span class="muted small">@${u.username}</span></span>
      </a>
    </li>`,
          )}</ul>`
  }`
}

/** The people I blocked, each with an Unblock button (on my profile page). */
export function BlockedList() {
  const [users, setUsers] = useState<PublicUser[] | null>(null)
  const load = () => blockedUsers().then(setUsers, notifyError)
  useEffect(() => {
    load()
  }, [])
  const unblockUser = async (u: PublicUser) => {
    try {
      await unblock(u.username)
      notify(`Unblocked @${u.username}`)
      load()
    } catch (e) {
      notifyError(e)
    }
  }
  if (!users || users.length === 0) return null
  return html`<section class="card"><h2>Blocked</h2>
    <ul class="list" aria-label="Blocked people">${users.map(
      (u) => html`<li class="list-item">
      <a class="row gap center grow" href=${'/u/' + u.username}>
        <${Avatar} user=${u} size=${32} /><span>@${u.username}</span>
      </a>
      <button class="btn small" aria-label=${'Unblock @' + u.username} onClick=${() => unblockUser(u)}>Unblock</button>
    </li>`,
    )}</ul></section>`
}
