// The admin console: a tab per area (dashboard, members, invite tree, reports, settings, backups, audit log).
import { html } from 'htm/preact'
import { InviteManager } from './invites'
import { Header } from './ui'
import { me } from '../app/state'
import { Dashboard } from './admin/dashboard'
import { Members } from './admin/members'
import { InviteTree } from './admin/tree'
import { Reports } from './admin/reports'
import { ServerSettings } from './admin/settings'
import { Backups } from './admin/backups'
import { AuditLog } from './admin/audit'
import { AdminReplays } from './replays'

const TABS: { id: string; label: string; view: () => any }[] = [
  { id: '', label: 'Dashboard', view: () => html`<${Dashboard} /><${InviteManager} />` },
  { id: 'members', label: 'Members', view: () => html`<${Members} />` },
  { id: 'tree', label: 'Invite tree', view: () => html`<${InviteTree} />` },
  { id: 'reports', label: 'Reports', view: () => html`<${Reports} />` },
  { id: 'settings', label: 'Settings', view: () => html`<${ServerSettings} />` },
  { id: 'replays', label: 'Replays', view: () => html`<${AdminReplays} />` },
  { id: 'backups', label: 'Backups', view: () => html`<${Backups} />` },
  { id: 'audit', label: 'Audit log', view: () => html`<${AuditLog} />` },
]

export function Admin({ tab = '' }: { tab?: string }) {
  if (me.value?.role !== 'admin')
    return html`<${Header} title="Admin" /><p class="empty">Only admins can open the console.</p>`
  const current = TABS.find((t) => t.id === tab)
  return html`<${Header} title="Admin" />
    <nav class="admin-tabs" aria-label="Admin sections">
      ${TABS.map(
        (
          t,
        ) => html`<a href=${t.id ? `/admin/${t.id}` : '/admin'} class=${'admin-tab' + (t === current ? ' active' : '')}
        aria-current=${t === current ? 'page' : undefined}>${t.label}</a>`,
      )}
    </nav>
    ${current ? current.view() : html`<p class="empty">No such section.</p>`}`
}

export const MyInvites = () => html`<${Header} title="Invites" back="/me" /><${InviteManager} />`
