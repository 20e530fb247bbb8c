// Invite links: create, copy, revoke, and see their state. Admins see every invite; members their own.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { createInvite, myInvites, revokeInvite, type InviteView } from '../app/invites'
import { loadMe, me, notify, notifyError } from '../app/state'
import { Empty, Field, timeAgo } from './ui'

const STATE_LABEL: Record<string, string> = {
  pending: 'Pending',
  used_up: 'Used up',
  expired: 'Expired',
  revoked: 'Revoked',
}

export function InviteManager() {
  const isAdmin = me.value?.role === 'admin'
  const [list, setList] = useState<InviteView[] | null>(null)
  const [quota, setQuota] = useState<number | null>(null)
  const [form, setForm] = useState({ uses: 1, hours: 168, note: '' })
  const [fresh, setFresh] = useState<string | null>(null)
  const load = () =>
    myInvites().then((r) => {
      setList(r.invites)
      setQuota(r.quota)
    }, notifyError)
  useEffect(() => {
    load()
  }, [])
  const create = async (e: Event) => {
    e.preventDefault()
    try {
      const r = await createInvite({
        uses: Number(form.uses),
        expiresInHours: Number(form.hours) || undefined,
        note: form.note || undefined,
      })
      setFresh(r.url)
      load()
      if (!isAdmin) loadMe()
    } catch (err) {
      notifyError(err)
    }
  }
  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url)
      notify('Link copied')
    } catch {
      notify('Copy the link from the box', 'error')
    }
  }
  const revoke = async (id: number) => {
    try {
      await revokeInvite(id)
      notify('Invite revoked')
      load()
      if (!isAdmin) loadMe()
    } catch (err) {
      notifyError(err)
    }
  }
  return html`<section class="card stack">
    <h2 style="margin:0">Create an invite</h2>
    ${
      !isAdmin &&
      html`<p class="muted small" style="margin:0">You have ${quota ?? '…'} invite${quota === 1 ? '' : 's'} left.</p>`
    }
    <form class="stack" onSubmit=${create}>
      <div class="row gap wrap">
        <${Field} label="Uses">
          <input type="number" min="1" max=${isAdmin ? 1000 : Math.max(1, quota ?? 1)} value=${form.uses}
            onInput=${(e: any) => setForm({ ...form, uses: e.target.value })} />
        </${Field}>
        <${Field} label="Expires in">
          <select value=${form.hours} onChange=${(e: any) => setForm({ ...form, hours: e.target.value })}>
            <option value="24">1 day</option><option value="168">7 days</option>
            <option value="720">30 days</option><option value="0">Never</option>
          </select></${Field}>
      </div>
      <${Field} label="Note (only you see it)">
        <input maxlength="200" value=${form.note} onInput=${(e: any) => setForm({ ...form, note: e.target.value })} />
      </${Field}>
      <button class="btn primary" type="submit">Create invite link</button>
    </form>
    ${
      fresh &&
      html`<div class="invite-link">
        <input readonly value=${fresh} aria-label="New invite link" onFocus=${(e: any) => e.target.select()} />
      <button class="btn small" onClick=${() => copy(fresh)}>Copy link</button></div>
      <p class="muted small" style="margin:0">
        Copy it now: only a fingerprint of the link is kept, so it cannot be shown again.
      </p>`
    }
  </section>
  <section class="card">
    <h2>${isAdmin ? 'All invites' : 'Your invites'}</h2>
    ${
      list === null
        ? html`<p class="muted">Loading…</p>`
        : list.length === 0
          ? html`<${Empty}>No invites yet.</${Empty}>`
          : html`<ul class="list">
      ${list.map(
        (i) => html`<li class="list-item invite-row" data-state=${i.state}>
        <div class="grow"><span class=${'state ' + i.state}>${STATE_LABEL[i.state]}</span>
          <span class="small"> ${i.uses}/${i.usesAllowed} used
            ${i.expiresAt ? ` · expires ${new Date(i.expiresAt).toLocaleDateString()}` : ''}</span>
          <div class="muted small">
            ${i.note || 'No note'}${isAdmin && i.createdBy ? ` · by @${i.createdBy}` : ''} · ${timeAgo(i.createdAt)}
            ${i.usedBy.length ? ` · joined: ${i.usedBy.map((u: string) => '@' + u).join(', ')}` : ''}
          </div>
        </div>
        ${
          i.state === 'pending' &&
          html`<button class="btn small danger-text" aria-label=${`Revoke invite ${i.id}`}
            onClick=${() => revoke(i.id)}>Revoke</button>`
        }
      </li>`,
      )}</ul>`
    }
  </section>`
}
