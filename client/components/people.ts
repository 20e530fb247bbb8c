// Find people by name and follow them.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { del, get, put } from '../app/api'
import { errorText, notify } from '../app/state'
import { Avatar, Empty, Header } from './ui'

export function People() {
  const [q, setQ] = useState('')
  const [users, setUsers] = useState<any[] | null>(null)
  useEffect(() => {
    const t = setTimeout(() => get(`/users?q=${encodeURIComponent(q)}&limit=30`).then((r) => setUsers(r.users), (e) => notify(errorText(e), 'error')), 150)
    return () => clearTimeout(t)
  }, [q])
  const toggle = async (u: any) => {
    try {
      await (u.isFollowing ? del : put)(`/users/${encodeURIComponent(u.username)}/follow`)
      setUsers(users!.map((x) => (x.id === u.id ? { ...x, isFollowing: !u.isFollowing } : x)))
    } catch (e) { notify(errorText(e), 'error') }
  }
  return html`<${Header} title="People" />
  <div class="pad"><input type="search" class="search" placeholder="Search by name or @username" aria-label="Search people" value=${q} onInput=${(e: any) => setQ(e.target.value)} /></div>
  ${users === null ? html`<p class="muted pad">Loading…</p>` : users.length === 0 ? html`<${Empty}>Nobody found.</${Empty}>` : html`<ul class="list">
    ${users.map((u) => html`<li class="list-item">
      <a class="row gap center grow" href=${'/u/' + u.username}><${Avatar} user=${u} /><span><strong>${u.displayName}</strong><br/><span class="muted small">@${u.username}</span></span></a>
      <button class=${'btn small' + (u.isFollowing ? '' : ' primary')} aria-label=${(u.isFollowing ? 'Unfollow @' : 'Follow @') + u.username} onClick=${() => toggle(u)}>${u.isFollowing ? 'Following' : 'Follow'}</button>
    </li>`)}</ul>`}`
}
