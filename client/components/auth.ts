// Sign in, register from an invite link, and the first-run admin setup.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { login, register, setup, setupStatus, type SetupStatus } from '../app/accounts'
import { checkInvite, registration, type InviteCheck } from '../app/invites'
import { errorText, signedIn, signedOutReason } from '../app/state'
import { navigate } from '../app/router'
import { ErrorLine, Field } from './ui'

function AuthCard({ title, subtitle, children }: { title: string; subtitle?: any; children: any }) {
  return html`<main class="auth">
    <div class="auth-card">
      <img class="auth-logo" src="/icons/icon-192.png" alt="" width="56" height="56" />
      <h1>${title}</h1>
      ${subtitle && html`<p class="muted">${subtitle}</p>`}
      ${children}
    </div>
  </main>`
}

function useSubmit(fn: () => Promise<void>) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState('')
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      await fn()
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, submit }
}

/** Sign in; `next`: where to go afterwards (a shared room's page). */
export function SignIn({ next = '/' }: { next?: string } = {}) {
  const [username, setU] = useState('')
  const [password, setP] = useState('')
  const [mode, setMode] = useState<string>('invite')
  useEffect(() => {
    registration()
      .then((r) => setMode(r.mode))
      .catch(() => {})
  }, [])
  const { busy, error, submit } = useSubmit(async () => {
    signedIn(await login(username, password))
    navigate(next, true)
  })
  const why = signedOutReason.value
  return html`<${AuthCard} title="Sign in to Townhall" subtitle="Live rooms and Backchannel for your community.">
    ${
      why &&
      html`<p class="banner warn signed-out" role="alert">
        ${
          why === 'banned'
            ? 'Your account was banned by an admin.'
            : why === 'suspended'
              ? 'Your account was suspended by an admin.'
              : 'You were signed out.'
        }
      </p>`
    }
    <form onSubmit=${submit} class="stack">
      <${Field} label="Username">
        <input name="username" autocomplete="username" required value=${username}
          onInput=${(e: any) => setU(e.target.value)} />
      </${Field}>
      <${Field} label="Password">
        <input name="password" type="password" autocomplete="current-password" required value=${password}
          onInput=${(e: any) => setP(e.target.value)} />
      </${Field}>
      <${ErrorLine} error=${error} />
      <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
    <p class="muted small">
      ${
        mode === 'open'
          ? html`New here? <a href="/join">Create an account</a>`
          : 'New here? Ask a member for an invite link.'
      }
    </p>
  </${AuthCard}>`
}

function AccountForm({
  submitLabel,
  onSubmit,
  busy,
  error,
}: {
  submitLabel: string
  onSubmit: (u: string, p: string) => void
  busy: boolean
  error: string
}) {
  const [username, setU] = useState('')
  const [password, setP] = useState('')
  return html`<form class="stack" onSubmit=${(e: Event) => {
    e.preventDefault()
    onSubmit(username, password)
  }}>
    <${Field} label="Username" hint="3–20 letters, digits or _">
      <input name="username" autocomplete="username" required minlength="3" maxlength="20" pattern="[A-Za-z0-9_]+"
        value=${username} onInput=${(e: any) => setU(e.target.value)} />
    </${Field}>
    <${Field} label="Password" hint="At least 10 characters">
      <input name="password" type="password" autocomplete="new-password" required minlength="10" maxlength="256"
        value=${password} onInput=${(e: any) => setP(e.target.value)} />
    </${Field}>
    <${ErrorLine} error=${error} />
    <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'One moment…' : submitLabel}</button>
  </form>`
}

export function Register({ token }: { token?: string }) {
  const [info, setInfo] = useState<InviteCheck | null>(null)
  const [bad, setBad] = useState('')
  useEffect(() => {
    if (token) checkInvite(token).then(setInfo, (e) => setBad(errorText(e)))
  }, [token])
  const [creds, setCreds] = useState<[string, string] | null>(null)
  const { busy, error, submit } = useSubmit(async () => {
    signedIn(await register({ username: creds![0], password: creds![1], invite: token }))
    navigate('/welcome', true)
  })
  useEffect(() => {
    if (creds) submit(new Event('submit'))
  }, [creds])
  if (bad)
    return html`<${AuthCard} title="This invite can't be used" subtitle=${bad}>
      <a class="btn" href="/">Go to sign in</a>
    </${AuthCard}>`
  const subtitle = token
    ? info
      ? info.invitedBy
        ? html`<strong>@${info.invitedBy}</strong> invited you to join.`
        : 'You have been invited to join.'
      : 'Checking your invite…'
    : 'Create your account.'
  return html`<${AuthCard} title="Join Townhall" subtitle=${subtitle}>
    <${AccountForm} submitLabel="Create account" busy=${busy} error=${error}
      onSubmit=${(u: string, p: string) => setCreds([u, p])} />
    <p class="muted small">Already a member? <a href="/">Sign in</a></p>
  </${AuthCard}>`
}

export function Setup({ token }: { token: string }) {
  const [status, setStatus] = useState<SetupStatus | null>(null)
  useEffect(() => {
    setupStatus(token).then(setStatus, () => setStatus({ needed: true, valid: false }))
  }, [token])
  const [creds, setCreds] = useState<[string, string] | null>(null)
  const { busy, error, submit } = useSubmit(async () => {
    signedIn(await setup(token, creds![0], creds![1]))
    navigate('/admin', true)
  })
  useEffect(() => {
    if (creds) submit(new Event('submit'))
  }, [creds])
  if (!status) return html`<${AuthCard} title="Set up your Townhall" subtitle="Checking your setup link…" />`
  if (!status.needed)
    return html`<${AuthCard} title="Townhall is set up" subtitle="This server already has an admin.">
      <a class="btn primary" href="/">Go to sign in</a>
    </${AuthCard}>`
  if (!status.valid)
    return html`<${AuthCard} title="This setup link is not valid"
      subtitle="Use the newest link the server printed when it started, or run: townhall admin create --username NAME">
      <a class="btn" href="/">Go to sign in</a>
    </${AuthCard}>`
  return html`<${AuthCard} title="Set up your Townhall" subtitle="Create the admin account. This link works once.">
    <${AccountForm} submitLabel="Create admin account" busy=${busy} error=${error}
      onSubmit=${(u: string, p: string) => setCreds([u, p])} />
  </${AuthCard}>`
}
