// The invite tree: who invited whom, drawn as a tree; revoke a branch (its unused invites, optionally suspending
// those below).
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { inviteTree, revokeBranch, type BranchNode } from '../../app/admin'
import { notify, notifyError } from '../../app/state'

const count = (n: BranchNode): number => n.children.reduce((s, c) => s + 1 + count(c), 0)

function Node({
  node,
  onRevoke,
  open,
}: {
  node: BranchNode
  onRevoke: (n: BranchNode) => void
  open: BranchNode | null
}) {
  const below = count(node)
  return html`<li data-username=${node.username}>
    <div class=${'tree-node' + (open?.id === node.id ? ' selected' : '')}>
      <a href=${'/u/' + node.username}>@${node.username}</a>
      ${node.role === 'admin' && html`<span class="badge">admin</span>`}
      ${node.status !== 'active' && html`<span class="badge warn">${node.status}</span>`}
      <span class="muted small">
        ${below ? `${below} below` : ''}${below && node.pendingInvites ? ' · ' : ''}
        ${node.pendingInvites ? `${node.pendingInvites} unused invite${node.pendingInvites === 1 ? '' : 's'}` : ''}
      </span>
      ${
        (below > 0 || node.pendingInvites > 0) &&
        html`<button class="btn small danger-text tree-revoke" aria-label=${`Revoke branch of @${node.username}`}
          onClick=${() => onRevoke(node)}>Revoke branch</button>`
      }
    </div>
    ${
      node.children.length > 0 &&
      html`<ul>${node.children.map((c) => html`<${Node} node=${c} onRevoke=${onRevoke} open=${open} />`)}</ul>`
    }
  </li>`
}

export function InviteTree() {
  const [tree, setTree] = useState<BranchNode[] | null>(null)
  const [open, setOpen] = useState<BranchNode | null>(null)
  const [suspend, setSuspend] = useState(false)
  const load = () => inviteTree().then(setTree, notifyError)
  useEffect(() => {
    load()
  }, [])
  const revoke = async () => {
    try {
      const r = await revokeBranch(open!.id, suspend)
      notify(
        `Revoked ${r.revoked.length} invite${r.revoked.length === 1 ? '' : 's'}${
          r.suspended.length ? `, suspended ${r.suspended.length} member${r.suspended.length === 1 ? '' : 's'}` : ''
        }`,
      )
      setOpen(null)
      setSuspend(false)
      load()
    } catch (e) {
      notifyError(e)
    }
  }
  return html`<section class="card"><h2>Invite tree</h2>
    <p class="muted small">
      Who invited whom. Revoking a branch cancels the unused invites of that member and of everyone they brought in.
    </p>
    ${
      open &&
      html`<div class="confirm stack" role="dialog" aria-label=${`Revoke the branch of @${open.username}`}>
      <p><strong>Revoke the branch of @${open.username}?</strong>${' '}
        ${count(open)} member${count(open) === 1 ? '' : 's'} below.</p>
      <label class="row gap center small">
        <input type="checkbox" class="check" checked=${suspend} onChange=${(e: any) => setSuspend(e.target.checked)} />
        Also suspend the ${count(open)} member${count(open) === 1 ? '' : 's'} invited below @${open.username}</label>
      <div class="row gap">
        <button class="btn small danger" onClick=${revoke}>Confirm revoke</button>
        <button class="btn small" onClick=${() => setOpen(null)}>Cancel</button>
      </div>
    </div>`
    }
    ${
      tree
        ? html`<ul class="tree" aria-label="Invite tree">
            ${tree.map((n) => html`<${Node} node=${n} onRevoke=${setOpen} open=${open} />`)}
          </ul>`
        : html`<p class="muted">Loading…</p>`
    }
  </section>`
}
