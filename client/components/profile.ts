// Profiles: mine (edit, avatar, password, my data, sign out) and others' (follow, block, message, invited by).
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import * as accounts from '../app/accounts'
import { errorText, loadMe, me, notify, notifyError, signOut } from '../app/state'
import { Avatar, Empty, Field, Header } from './ui'
import { BlockedList } from './people'
import { YourData } from './mydata'
import { ReportButton } from './admin/report'

export function Profile({ username }: { username: string }) {
  const [p, setP] = useState<accounts.Profile | null>(null)
  const [err, setErr] = useState('')
  const load = () => accounts.profile(username).then(setP, (e) => setErr(errorText(e)))
  useEffect(() => {
    setP(null)
    setErr('')
    load()
  }, [username])
  if (err) return html`<${Header} title="Profile" back="/people" /><${Empty}>${err}</${Empty}>`
  if (!p) return html`<${Header} title="Profile" /><p class="muted pad">Loading…</p>`
  const act = async (fn: () => Promise<unknown>, ok: string) => {
    try {
      await fn()
      notify(ok)
      load()
    } catch (e) {
      notifyError(e)
    }
  }
  const name = encodeURIComponent(p.username)
  return html`<${Header} title=${p.displayName} back="/people" />
  <section class="profile card">
    <div class="profile-top"><${Avatar} user=${p} size=${88} />
      <div><h2>${p.displayName}</h2>
        <p class="muted">@${p.username}${p.role === 'admin' ? html` <span class="badge">admin</span>` : ''}</p>
      ${p.invitedBy && html`<p class="muted small">invited by <a href=${'/u/' + p.invitedBy}>@${p.invitedBy}</a></p>`}
      ${p.followsYou && html`<p class="muted small">Follows you</p>`}</div>
    </div>
    ${p.bio && html`<p class="bio">${p.bio}</p>`}
    <p class="counts">
      <a href=${`/u/${name}/followers`}
        ><strong>${p.followers}</strong> ${p.followers === 1 ? 'follower' : 'followers'}</a> · <a
        href=${`/u/${name}/following`}><strong>${p.following}</strong> following</a>
    </p>
    ${
      p.isSelf
        ? html`<a class="btn" href="/me">Edit profile</a>`
        : html`<div class="row gap wrap">
      ${
        p.isFollowing
          ? html`<button class="btn"
              onClick=${() => act(() => accounts.unfollow(p.username), `Unfollowed @${p.username}`)}>Unfollow</button>`
          : html`<button class="btn primary" disabled=${p.blocked}
              onClick=${() => act(() => accounts.follow(p.username), `Following @${p.username}`)}>Follow</button>`
      }
      <a class="btn" href=${'/backchannel/new/' + name} aria-label="Message">Message</a>
      ${
        p.blocked
          ? html`<button class="btn" onClick=${() => act(() => accounts.unblock(p.username), 'Unblocked')}>
              Unblock
            </button>`
          : html`<button class="btn danger-text" onClick=${() =>
              confirm(`Block @${p.username}? You will not see each other's messages or rooms.`) &&
              act(() => accounts.block(p.username), 'Blocked')}>Block</button>`
      }
      <${ReportButton} type="member" id=${p.id} label=${'@' + p.username} className="btn" />
    </div>`
    }
  </section>`
}

export function MyProfile() {
  const user = me.value!
  const [displayName, setName] = useState(user.displayName === user.username ? '' : user.displayName)
  const [bio, setBio] = useState(user.bio)
  const [pw, setPw] = useState({ current: '', next: '' })
  const save = async (e: Event) => {
    e.preventDefault()
    try {
      me.value = await accounts.updateProfile({ displayName, bio })
      notify('Profile saved')
    } catch (err) {
      notifyError(err)
    }
  }
  const upload = async (e: any) => {
    const file = e.target.files?.[0]
    if (!file) return
    try {
      me.value = await accounts.setAvatar(file)
      notify('Avatar updated')
    } catch (err) {
      notifyError(err)
    }
    e.target.value = ''
  }
  const changePw = async (e: Event) => {
    e.preventDefault()
    try {
      await accounts.changePassword(pw.current, pw.next)
      setPw({ current: '', next: '' })
      notify('Password changed; other devices were signed out')
    } catch (err) {
      notifyError(err)
    }
  }
  return html`<${Header} title="Your profile"><a class="btn small" href=${'/u/' + user.username}>View</a></${Header}>
  <section class="card stack">
    <div class="row gap center"><${Avatar} user=${user} size=${72} />
      <label class="btn small">Change avatar<input class="visually-hidden" type="file"
        accept="image/png,image/jpeg,image/webp" onChange=${upload} aria-label="Upload avatar" /></label>
      ${
        user.avatar &&
        html`<button class="btn small" aria-label="Remove avatar" onClick=${async () => {
          await accounts.removeAvatar()
          await loadMe()
        }}>Remove</button>`
      }
    </div>
    <form class="stack" onSubmit=${save}>
      <${Field} label="Display name">
        <input maxlength="50" value=${displayName} placeholder=${user.username}
          onInput=${(e: any) => setName(e.target.value)} />
      </${Field}>
      <${Field} label="Bio" hint=${`${bio.length}/300`}>
        <textarea maxlength="300" rows="3" value=${bio} onInput=${(e: any) => setBio(e.target.value)}></textarea>
      </${Field}>
      <button class="btn primary" type="submit">Save profile</button>
    </form>
  </section>
  <section class="card stack">
    <h2>Password</h2>
    <form class="stack" onSubmit=${changePw}>
      <${Field} label="Current password">
        <input type="password" autocomplete="current-password" required value=${pw.current}
          onInput=${(e: any) => setPw({ ...pw, current: e.target.value })} />
      </${Field}>
      <${Field} label="New password" hint="At least 10 characters">
        <input type="password" autocomplete="new-password" minlength="10" required value=${pw.next}
          onInput=${(e: any) => setPw({ ...pw, next: e.target.value })} />
      </${Field}>
      <button class="btn" type="submit">Change password</button>
    </form>
  </section>
  <${BlockedList} />
  <${YourData} />
  <section class="card row gap wrap">
    <a class="btn" href="/invites">My invites (${user.inviteQuota} left)</a>
    <a class="btn" href="/settings/notifications">Notifications</a>
    <button class="btn" onClick=${() => signOut()}>Sign out</button>
    <button class="btn danger-text" onClick=${async () => {
      await accounts.logoutEverywhere()
      await signOut()
    }}>Sign out everywhere</button>
  </section>`
}
