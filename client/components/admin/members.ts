// Members: search and filter; suspend, ban (with a reason, confirmed inline), make admin, password-reset link.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  banMember,
  members,
  resetLink,
  setMemberRole,
  suspendMember,
  unbanMember,
  unsuspendMember,
  type AdminMember,
  type MemberFilter,
} from '../../app/admin'
import { me, notify, notifyError } from '../../app/state'
import { Avatar, Empty, timeAgo } from '../ui'

type Pending = { id: number; action: 'suspend' | 'ban' } | null

export function Members() {
  const [q, setQ] = useState('')
  const [status, setStatus] = useState<MemberFilter>('all')
  const [list, setList] = useState<AdminMember[] | null>(null)
  const [pending, setPending] = useState<Pending>(null)
  const [reason, setReason] = useState('')
  const [reset, setReset] = useState<{ id: number; url: string } | null>(null)
  const load = () => members(q.trim(), status, 100).then(setList, notifyError)
  useEffect(() => {
    const t = setTimeout(load, 200)
    return () => clearTimeout(t)
  }, [q, status])
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn()
      notify(ok)
      setPending(null)
      setReason('')
      load()
    } catch (e) {
      notifyError(e)
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
  return html`<section class="card stack">
    <div class="row gap wrap">
      <input class="search grow" type="search" placeholder="Search members" aria-label="Search members" value=${q}
        onInput=${(e: any) => setQ(e.target.value)} maxlength="50" />
      <select aria-label="Filter by status" value=${status} onChange=${(e: any) => setStatus(e.target.value)}
        class="filter">
        <option value="all">Everyone</option><option value="active">Active</option>
        <option value="suspended">Suspended</option>
        <option value="banned">Banned</option><option value="admin">Admins</option>
      </select>
    </div>
    ${
      list === null
        ? html`<p class="muted">Loading…</p>`
        : list.length === 0
          ? html`<${Empty}>No members match.</${Empty}>`
          : html`<ul class="list" aria-label="Members">
      ${list.map((m) => {
        const ask = pending?.id === m.id ? pending : null
        const link = reset && reset.id === m.id ? reset.url : null
        const self = m.id === me.value?.id
        const at = `@${m.username}`
        return html`<li class="list-item member-row" data-username=${m.username} data-status=${m.status}>
          <div class="member-main">
            <a class="row gap center grow" href=${'/u/' + m.username}>
              <${Avatar} user=${m} size=${40} ring=${m.online} />
              <span class="grow"><strong>${m.displayName}</strong> <span class="muted">${at}</span>
                ${m.role === 'admin' && html` <span class="badge">admin</span>`}
                ${m.status !== 'active' && html` <span class="badge warn">${m.status}</span>`}
                <br /><span class="muted small">joined ${timeAgo(m.createdAt)}
                  ${m.invitedBy ? ` · invited by @${m.invitedBy}` : ''}
                  ${m.online ? ' · online' : m.lastSeenAt ? ` · seen ${timeAgo(m.lastSeenAt)}` : ''}</span></span></a>
          </div>
          ${
            !self &&
            html`<div class="member-actions row gap wrap">
            ${
              m.status === 'active' &&
              m.role !== 'admin' &&
              html`<button class="btn small" aria-label=${`Suspend ${at}`} onClick=${() => {
                setPending({ id: m.id, action: 'suspend' })
                setReason('')
              }}>Suspend</button>`
            }
            ${
              m.status === 'suspended' &&
              html`<button class="btn small" aria-label=${`Unsuspend ${at}`}
                onClick=${() => act(() => unsuspendMember(m.id), `${at} can sign in again`)}>Unsuspend</button>`
            }
            ${
              m.status !== 'banned' &&
              m.role !== 'admin' &&
              html`<button class="btn small danger-text" aria-label=${`Ban ${at}`} onClick=${() => {
                setPending({ id: m.id, action: 'ban' })
                setReason('')
              }}>Ban</button>`
            }
            ${
              m.status === 'banned' &&
              html`<button class="btn small" aria-label=${`Unban ${at}`}
                onClick=${() => act(() => unbanMember(m.id), `${at} is no longer banned`)}>Unban</button>`
            }
            ${
              m.status === 'active' &&
              (m.role === 'admin'
                ? html`<button class="btn small" aria-label=${`Remove admin from ${at}`}
                    onClick=${() => act(() => setMemberRole(m.id, 'member'), `${at} is no longer an admin`)}>
                    Remove admin
                  </button>`
                : html`<button class="btn small" aria-label=${`Make ${at} admin`}
                    onClick=${() => act(() => setMemberRole(m.id, 'admin'), `${at} is now an admin`)}>
                    Make admin
                  </button>`)
            }
            ${
              m.status !== 'banned' &&
              html`<button class="btn small" aria-label=${`Password-reset link for ${at}`} onClick=${async () => {
                try {
                  setReset({ id: m.id, url: (await resetLink(m.id)).url })
                } catch (e) {
                  notifyError(e)
                }
              }}>Reset link</button>`
            }
          </div>`
          }
          ${
            ask &&
            html`<form class="confirm stack" onSubmit=${(e: Event) => {
              e.preventDefault()
              act(
                () => (ask.action === 'ban' ? banMember : suspendMember)(m.id, reason.trim() || undefined),
                ask.action === 'ban' ? `${at} is banned` : `${at} is suspended`,
              )
            }}>
            <p class="small">${
              ask.action === 'ban'
                ? `Ban ${at}? They are signed out everywhere, removed from rooms and hidden from everyone.`
                : `Suspend ${at}? They are signed out everywhere and cannot sign in until you unsuspend them.`
            }</p>
            <input aria-label="Reason (only admins see it)" placeholder="Reason (only admins see it)" maxlength="500"
              value=${reason} onInput=${(e: any) => setReason(e.target.value)} />
            <div class="row gap">
              <button type="submit" class=${'btn small ' + (ask.action === 'ban' ? 'danger' : 'primary')}>
                ${ask.action === 'ban' ? `Confirm ban` : 'Confirm suspension'}
              </button>
              <button type="button" class="btn small" onClick=${() => setPending(null)}>Cancel</button></div>
          </form>`
          }
          ${
            link &&
            html`<div class="confirm stack">
            <p class="small">
              A one-time link for ${at} to choose a new password. It works for 24 hours; send it to them privately.
            </p>
            <div class="invite-link">
              <input readonly value=${link} aria-label="Password-reset link" onFocus=${(e: any) => e.target.select()} />
            <button class="btn small" onClick=${() => copy(link)}>Copy link</button></div></div>`
          }
        </li>`
      })}</ul>`
    }
  </section>`
}
