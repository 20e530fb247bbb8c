// Backups: make one now (database snapshot and uploads, one tar), list and download them; how to restore.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { backups, backupUrl, createBackup, deleteBackup, type Backup } from '../../app/admin'
import { notify, notifyError } from '../../app/state'
import { Empty } from '../ui'

const size = (n: number) =>
  n > 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n > 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.ceil(n / 1e3)} KB`
const when = (ms: number) => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })

export function Backups() {
  const [list, setList] = useState<Backup[] | null>(null)
  const [busy, setBusy] = useState(false)
  const load = () => backups().then(setList, notifyError)
  useEffect(() => {
    load()
  }, [])
  const create = async () => {
    setBusy(true)
    try {
      const b = await createBackup()
      notify(`Backup ${b.name} written (${b.files} files, ${size(b.size)}, integrity ${b.integrity})`)
      load()
    } catch (e) {
      notifyError(e)
    } finally {
      setBusy(false)
    }
  }
  const remove = async (name: string) => {
    if (!confirm(`Delete ${name}?`)) return
    try {
      await deleteBackup(name)
      notify('Backup deleted')
      load()
    } catch (e) {
      notifyError(e)
    }
  }
  return html`<section class="card stack">
    <div class="row gap center wrap"><h2 class="grow">Backups</h2>
      <button class="btn primary" disabled=${busy} onClick=${create} aria-busy=${busy}>
        ${busy ? 'Backing up…' : 'Back up now'}
      </button></div>
    <p class="muted small">
      A backup is one file: a consistent copy of the database, taken while the server runs, and every upload.${' '}
      The server also makes one on its own schedule (<code>BACKUP_EVERY</code>, keeping <code>BACKUP_KEEP</code>);${' '}
      on the server, <code>townhall backup</code> makes one too. Keep copies somewhere else.
    </p>
    <details class="small">
      <summary>How to restore</summary>
      <p class="muted">Restoring replaces everything, so it is done on the server, not from here: stop Townhall,${' '}
        then run <code>townhall restore townhall-….tar</code> with the same <code>DATA_DIR</code> and start it${' '}
        again. The backup is checked first; what the folder held is kept in <code>replaced-…/</code>.${' '}
        Copies marked “before upgrade” hold only the database, as it was before a new version migrated it.</p>
    </details>
    ${
      list === null
        ? html`<p class="muted">Loading…</p>`
        : list.length === 0
          ? html`<${Empty}>No backups yet.</${Empty}>`
          : html`<ul class="list" aria-label="Backups">
      ${list.map(
        (b) => html`<li class="list-item backup-row">
        <div class="grow"><strong>${when(b.createdAt)}</strong> <span class="muted small">· ${size(b.size)}${
          b.kind === 'pre-migrate' ? ' · before upgrade' : ''
        }</span>
          <div class="mono muted small">${b.name}</div></div>
        <div class="row gap backup-actions">
          <a class="btn small" href=${backupUrl(b.name)} download=${b.name}
            aria-label=${`Download ${b.name}`}>Download</a>
          <button class="btn small danger-text" aria-label=${`Delete ${b.name}`}
            onClick=${() => remove(b.name)}>Delete</button>
        </div>
      </li>`,
      )}</ul>`
    }
  </section>`
}
