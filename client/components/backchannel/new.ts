// New message (pick a person) and new group (a title and up to 49 people) screens.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { searchUsers } from '../../app/accounts'
import * as bc from '../../app/backchannel'
import { navigate } from '../../app/router'
import { me, notify, notifyError } from '../../app/state'
import { Avatar, Empty, Field, Header } from '../ui'

interface Found {
  id: number
  username: string
  displayName: string
  avatar: string | null
}

function usePeople(q: string) {
  const [users, setUsers] = useState<Found[] | null>(null)
  useEffect(() => {
    const t = setTimeout(
      () => searchUsers(q, 20).then((users) => setUsers(users.filter((u) => u.id !== me.value?.id)), notifyError),
      150,
    )
    return () => clearTimeout(t)
  }, [q])
  return users
}

export function NewMessage() {
  const [q, setQ] = useState('')
  const users = usePeople(q)
  return html`<${Header} title="New message" back="/backchannel">
      <a class="btn small" href="/backchannel/group">New group</a>
    </${Header}>
  <div class="pad">
    <input type="search" class="search" autofocus placeholder="Search people" aria-label="Search people" value=${q}
      onInput=${(e: any) => setQ(e.target.value)} />
  </div>
  ${
    users === null
      ? html`<p class="muted pad">Loading…</p>`
      : users.length === 0
        ? html`<${Empty}>Nobody found.</${Empty}>`
        : html`<ul class="list">
    ${users.map(
      (u) => html`<li class="list-item"><${Avatar} user=${u} />
      <span class="grow"><strong>${u.displayName}</strong><br /><span class="muted small">@${u.username}</span></span>
      <a class="btn small primary" href=${'/backchannel/new/' + encodeURIComponent(u.username)}
        aria-label=${'Message @' + u.username}>Message</a></li>`,
    )}
  </ul>`
  }`
}

export function NewGroup() {
  const [title, setTitle] = useState('')
  const [q, setQ] = useState('')
  const [picked, setPicked] = useState<Found[]>([])
  const [busy, setBusy] = useState(false)
  const users = usePeople(q)
  useEffect(() => bc.startBackchannel(), [])
  const toggle = (u: Found) =>
    setPicked(
      picked.some((p) => p.id === u.id)
        ? picked.filter((p) => p.id !== u.id)
        : picked.length >= 49
          ? picked
          : [...picked, u],
    )
  const create = async (e: Event) => {
    e.preventDefault()
    if (!title.trim() || picked.length === 0)
      return notify('Give the group a title and pick at least one person.', 'error')
    setBusy(true)
    try {
      navigate(
        '/backchannel/' +
          (
            await bc.createGroup(
              title.trim(),
              picked.map((p) => p.username),
            )
          ).id,
        true,
      )
    } catch (err) {
      notifyError(err)
    } finally {
      setBusy(false)
    }
  }
  return html`<${Header} title="New group" back="/backchannel" />
  <form class="card stack" onSubmit=${create}>
    <${Field} label="Title">
      <input required maxlength="80" value=${title} placeholder="Speakers' corner"
        onInput=${(e: any) => setTitle(e.target.value)} />
    </${Field}>
    <div class="chips" aria-label="Members" aria-live="polite">${
      picked.length === 0
        ? html`<span class="muted small">Pick up to 49 people below.</span>`
        : picked.map(
            (p) =>
              html`<button type="button" class="chip on" aria-label=${'Remove @' + p.username}
                onClick=${() => toggle(p)}>@${p.username} ✕</button>`,
          )
    }</div>
    <button class="btn primary" type="submit" disabled=${busy}>Create group (${picked.length + 1})</button>
  </form>
  <div class="pad">
    <input type="search" class="search" placeholder="Search people to add" aria-label="Search people to add" value=${q}
      onInput=${(e: any) => setQ(e.target.value)} />
  </div>
  ${
    users &&
    html`<ul class="list">${users.map((u) => {
      const on = picked.some((p) => p.id === u.id)
      return html`<li class="list-item"><${Avatar} user=${u} />
        <span class="grow"><strong>${u.displayName}</strong><br /><span class="muted small">@${u.username}</span></span>
        <button class=${'btn small' + (on ? '' : ' primary')} aria-pressed=${on}
          aria-label=${(on ? 'Remove @' : 'Add @') + u.username} onClick=${() => toggle(u)}>
          ${on ? 'Added' : 'Add'}
        </button>
      </li>`
    })}</ul>`
  }`
}
