// The admin console: invites and the invite tree. (Members, reports, settings, backups plug in here.)
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { get } from '../app/api'
import { errorText, notify } from '../app/state'
import { InviteManager } from './invites'
import { Header } from './ui'

function TreeNode({ node }: { node: any }) {
  return html`<li><a href=${'/u/' + node.username}>@${node.username}</a>
    ${node.role === 'admin' && html` <span class="badge">admin</span>`}${node.status !== 'active' && html` <span class="badge warn">${node.status}</span>`}
    ${node.children.length > 0 && html`<ul>${node.children.map((c: any) => html`<${TreeNode} node=${c} />`)}</ul>`}</li>`
}

export function InviteTree() {
  const [tree, setTree] = useState<any[] | null>(null)
  useEffect(() => { get('/admin/invite-tree').then((r) => setTree(r.tree), (e) => notify(errorText(e), 'error')) }, [])
  return html`<section class="card"><h2>Invite tree</h2>
    ${tree ? html`<ul class="tree" aria-label="Invite tree">${tree.map((n) => html`<${TreeNode} node=${n} />`)}</ul>` : html`<p class="muted">Loading…</p>`}</section>`
}

export function Admin() {
  return html`<${Header} title="Admin" />
    <${InviteManager} />
    <${InviteTree} />`
}

export const MyInvites = () => html`<${Header} title="Invites" back="/me" /><${InviteManager} />`
