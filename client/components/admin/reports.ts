// The reports queue: what members reported and why; resolve or dismiss, and act on a reported member.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  handleReport,
  reports,
  suspendMember,
  type AdminReport,
  type ReportStatus,
  type ReportTarget,
} from '../../app/admin'
import { notify, notifyError } from '../../app/state'
import { Empty, timeAgo } from '../ui'

function Target({ t }: { t: ReportTarget }) {
  if (t.type === 'member')
    return t.username
      ? html`member <a href=${'/u/' + t.username}>@${t.username}</a>
          ${t.status !== 'active' ? html` <span class="badge warn">${t.status}</span>` : ''}`
      : html`a member who is gone`
  if (t.type === 'room')
    return t.title
      ? html`room <a href=${'/rooms/' + t.id}>${t.title}</a>${t.host ? ` by @${t.host}` : ''}`
      : html`a room that is gone`
  return t.author !== undefined
    ? html`message by ${t.author ? html`<a href=${'/u/' + t.author}>@${t.author}</a>` : 'someone'}
        <blockquote class="quote">${t.body || '(deleted)'}</blockquote>`
    : html`a message that is gone`
}

/** Whom a report lets the admin act on: the reported member, the message's author or the room's host. */
type Who = { id: number; name?: string | null; status?: string; role?: string }

export function Reports() {
  const [status, setStatus] = useState<ReportStatus | 'all'>('open')
  const [list, setList] = useState<AdminReport[] | null>(null)
  const load = () => reports(status).then(setList, notifyError)
  useEffect(() => {
    setList(null)
    load()
  }, [status])
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn()
      notify(ok)
      load()
    } catch (e) {
      notifyError(e)
    }
  }
  const memberOf = (t: ReportTarget): Who | null =>
    t.type === 'member'
      ? { id: t.id, name: t.username, status: t.status, role: t.role }
      : t.type === 'message' && t.authorId
        ? { id: t.authorId, name: t.author }
        : t.type === 'room' && t.hostId
          ? { id: t.hostId, name: t.host }
          : null
  return html`<section class="card stack">
    <div class="row gap center"><h2 class="grow">Reports</h2>
      <select aria-label="Show reports" class="filter" value=${status}
        onChange=${(e: any) => setStatus(e.target.value)}>
        <option value="open">Open</option><option value="resolved">Resolved</option>
        <option value="dismissed">Dismissed</option><option value="all">All</option>
      </select></div>
    ${
      list === null
        ? html`<p class="muted">Loading…</p>`
        : list.length === 0
          ? html`<${Empty}>${status === 'open' ? 'No open reports. All quiet.' : 'Nothing here.'}</${Empty}>`
          : html`<ul class="list" aria-label="Reports">
      ${list.map((r) => {
        const who = memberOf(r.target)
        return html`<li class="list-item report-row" data-id=${r.id}>
          <div class="grow stack tight">
            <div class="small muted">
              #${r.id} · ${r.reporter ? `@${r.reporter}` : 'someone'} reported <${Target} t=${r.target} /> ·${' '}
              ${timeAgo(r.createdAt)}
            </div>
            <p class="report-reason">${r.reason}</p>
            ${
              r.status !== 'open' &&
              html`<p class="muted small">${r.status} by @${r.handledBy ?? '?'}${r.note ? ` — ${r.note}` : ''}</p>`
            }
            <div class="row gap wrap">
              ${
                r.status === 'open'
                  ? html`
                <button class="btn small primary" aria-label=${`Resolve report ${r.id}`}
                  onClick=${() => act(() => handleReport(r.id, 'resolved'), 'Report resolved')}>Resolve</button>
                <button class="btn small" aria-label=${`Dismiss report ${r.id}`}
                  onClick=${() => act(() => handleReport(r.id, 'dismissed'), 'Report dismissed')}>Dismiss</button>
                ${
                  who &&
                  who.status !== 'suspended' &&
                  who.role !== 'admin' &&
                  html`<button class="btn small" aria-label=${`Suspend @${who.name} (report ${r.id})`} onClick=${() =>
                    act(async () => {
                      await suspendMember(who.id, `report #${r.id}`)
                      await handleReport(r.id, 'resolved', `suspended @${who.name}`)
                    }, `@${who.name} suspended`)}>Suspend @${who.name}</button>`
                }`
                  : html`<button class="btn small" aria-label=${`Reopen report ${r.id}`}
                      onClick=${() => act(() => handleReport(r.id, 'open'), 'Report reopened')}>Reopen</button>`
              }
            </div>
          </div>
        </li>`
      })}</ul>`
    }
  </section>`
}
