// /reset/<token>: choose a new password with the one-time link an admin made.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { checkReset, resetPassword } from '../../app/admin'
import { errorText } from '../../app/state'
import { navigate } from '../../app/router'
import { ErrorLine, Field } from '../ui'

export function ResetPassword({ token }: { token: string }) {
  const [info, setInfo] = useState<{ username: string } | null>(null)
  const [err, setErr] = useState('')
  const [pw, setPw] = useState({ a: '', b: '' })
  const [done, setDone] = useState(false)
  useEffect(() => {
    checkReset(token).then(setInfo, (e) => setErr(errorText(e)))
  }, [token])
  const submit = async (e: Event) => {
    e.preventDefault()
    if (pw.a !== pw.b) return setErr('The two passwords differ.')
    try {
      await resetPassword(token, pw.a)
      setDone(true)
      setErr('')
    } catch (x) {
      setErr(errorText(x))
    }
  }
  return html`<main class="auth"><div class="auth-card">
    <img class="auth-logo" src="/icons/icon-192.png" alt="" width="64" height="64" />
    <h1>Choose a new password</h1>
    ${
      done
        ? html`<p>Your password is changed. You were signed out everywhere.</p>
          <button class="btn primary" onClick=${() => {
            navigate('/')
            location.reload()
          }}>Sign in</button>`
        : info
          ? html`<p class="muted">for @${info.username}</p>
        <form class="stack" onSubmit=${submit}>
          <${Field} label="New password" hint="At least 10 characters">
            <input type="password" autocomplete="new-password" minlength="10" maxlength="256" required value=${pw.a}
              onInput=${(e: any) => setPw({ ...pw, a: e.target.value })} />
          </${Field}>
          <${Field} label="Repeat the new password">
            <input type="password" autocomplete="new-password" minlength="10" maxlength="256" required value=${pw.b}
              onInput=${(e: any) => setPw({ ...pw, b: e.target.value })} />
          </${Field}>
          <${ErrorLine} error=${err} />
          <button class="btn primary" type="submit">Set password</button>
        </form>`
          : err
            ? html`<p class="form-error" role="alert">${err}</p><p class="muted small">Ask an admin for a new link.</p>`
            : html`<p class="muted">Checking the link…</p>`
    }
  </div></main>`
}
