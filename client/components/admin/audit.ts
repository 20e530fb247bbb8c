// The audit log: every admin and moderator action, newest first, filterable by kind.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { auditLog, type AuditRecord } from '../../app/admin'
import { notifyError } from '../../app/state'
import { Empty, timeAgo } from '../ui'

const FILTERS: [string, string][] = [
  ['', 'Everything'],
  ['member.', 'Members'],
  ['invite.', 'Invites'],
  ['report.', 'Reports'],
  ['settings.', 'Settings'],
  ['backup.', 'Backups'],
  ['room.', 'Rooms'],
  ['backchannel.', 'Backchannel'],
]

const detailText = (d: Record<string, unknown>) =>
  Object.entries(d ?? {})
    .map(
      ([k, v]) =>
        `${k}: ${
          typeof v === 'object' && v !== null
            ? 'from' in (v as any)
              ? `${JSON.stringify((v as any).from)} → ${JSON.stringify((v as any).to)}`
              : JSON.stringify(v)
            : String(v)
        }`,
    )
    .join(' · ')

export function AuditLog() {
  const [filter, setFilter] = useState('')
  const [entries, setEntries] = useState<AuditRecord[] | null>(null)
  const [more, setMore] = useState(false)
  const load = async (before?: number) => {
    try {
      const entries = await auditLog({ limit: 50, action: filter || undefined, before: before || undefined })
      setEntries((prev) => (before && prev ? [...prev, ...entries] : entries))
      setMore(entries.length === 50)
    } catch (e) {
      notifyError(e)
    }
  }
  useEffect(() => {
    setEntries(null)
    void load()
  }, [filter])
  return html`<section class="card stack">
    <div class="row gap center"><h2 class="grow">Audit log</h2>
      <select aria-label="Filter the audit log" class="filter" value=${filter}
        onChange=${(e: any) => setFilter(e.target.value)}>
        ${FILTERS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      </select></div>
    ${
      entries === null
        ? html`<p class="muted">Loading…</p>`
        : entries.length === 0
          ? html`<${Empty}>Nothing recorded yet.</${Empty}>`
          : html`<ol class="list audit" aria-label="Audit log">
      ${entries.map(
        (e) => html`<li class="list-item audit-row" data-action=${e.action}>
        <div class="grow">
          <div><strong>${e.actor ? `@${e.actor}` : 'system'}</strong> <code class="action">${e.action}</code>
          ${
            e.targetType &&
            html` <span class="muted">${
              e.targetName
                ? html`<a href=${'/u/' + e.targetName}>@${e.targetName}</a>`
                : `${e.targetType}${e.targetId ? ` ${e.targetId}` : ''}`
            }</span>`
          }</div>
          ${
            Object.keys(e.details ?? {}).length > 0 &&
            html`<div class="muted small details">${detailText(e.details)}</div>`
          }</div>
        <time class="muted small" datetime=${new Date(e.createdAt).toISOString()}
          title=${new Date(e.createdAt).toLocaleString()}>${timeAgo(e.createdAt)}</time>
      </li>`,
      )}</ol>`
    }
    ${more && html`<button class="btn" onClick=${() => load(entries!.at(-1)!.id)}>Show older</button>`}
  </section>`
}
