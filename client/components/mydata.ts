// My data: download everything of mine in one file; delete my account (the password is asked again), saying first
// what happens to my messages.
import { html } from 'htm/preact'
import { useState } from 'preact/hooks'
import * as accounts from '../app/accounts'
import { conn } from '../app/connection'
import { navigate } from '../app/router'
import { me, notify, notifyError } from '../app/state'
import { Field } from './ui'

export function YourData() {
  const [open, setOpen] = useState(false)
  const [password, setPassword] = useState('')
  const [busy, setBusy] = useState(false)
  const remove = async (e: Event) => {
    e.preventDefault()
    if (!confirm('Delete your account for good? This cannot be undone.')) return
    setBusy(true)
    try {
      await accounts.deleteAccount(password)
      conn.close()
      me.value = null
      notify('Your account was deleted')
      navigate('/')
    } catch (err) {
      notifyError(err)
    } finally {
      setBusy(false)
    }
  }
  return html`<section class="card stack" aria-labelledby="your-data">
    <h2 id="your-data">Your data</h2>
    <p class="muted small">One file with your profile, who you follow and block, your conversations, every message you
      wrote and the images you uploaded (JSON and the files, in a .tar).</p>
    <div><a class="btn" href=${accounts.exportUrl} download>Download my data</a></div>
    ${
      open
        ? html`<form class="stack" onSubmit=${remove} aria-label="Delete my account">
        <p class="small">Deleting your account removes your profile, avatar, follows, blocks, devices and unused
          invites, and signs you out everywhere.${' '}
          <strong>Your messages in groups and room chats are deleted.</strong>${' '}
          In one-to-one conversations the other person keeps what you sent them, shown as from “Deleted member”.
          Rooms you hosted stay in their history under that name. Your username becomes free.</p>
        <${Field} label="Your password">
          <input type="password" autocomplete="current-password" required value=${password}
            onInput=${(e: any) => setPassword(e.target.value)} />
        </${Field}>
        <div class="row gap wrap">
          <button class="btn danger" type="submit" disabled=${busy} aria-busy=${busy}>Delete my account</button>
          <button class="btn" type="button" onClick=${() => setOpen(false)}>Cancel</button>
        </div>
      </form>`
        : html`<div><button class="btn danger-text" onClick=${() => setOpen(true)}>Delete my account…</button></div>`
    }
  </section>`
}
