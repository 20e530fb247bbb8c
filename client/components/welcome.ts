// The first run of a new member: they already follow whoever invited them; here they find people to follow (the
// inviter's follows, who is speaking now) and the rooms coming up, then go to the hallway.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { follow, followList, profile, type PublicUser } from '../app/accounts'
import { hallway, loadHallway } from '../app/rooms'
import { me, notifyError } from '../app/state'
import { Avatar, Empty, Header } from './ui'

const when = (ms: number) => new Date(ms).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' })

/** At most this many suggestions. */
const SUGGESTIONS = 12

export function Welcome() {
  const user = me.value!
  const [inviter, setInviter] = useState<string | null>(null)
  const [people, setPeople] = useState<PublicUser[] | null>(null)
  const [followed, setFollowed] = useState<ReadonlySet<number>>(new Set())
  useEffect(() => {
    let live = true
    void (async () => {
      await loadHallway()
      const p = await profile(user.username).catch(() => null)
      const by = p?.invitedBy ?? null
      const theirs = by ? await followList(by, 'following').catch(() => []) : []
      const speaking = (hallway.value?.live ?? []).flatMap((r) => r.speakers)
      const seen = new Set<number>([user.id])
      const out: PublicUser[] = []
      for (const u of [...theirs, ...speaking]) {
        if (seen.has(u.id) || u.username === by) continue
        seen.add(u.id)
        out.push(u)
      }
      if (!live) return
      setInviter(by)
      setPeople(out.slice(0, SUGGESTIONS))
    })()
    return () => {
      live = false
    }
  }, [user.id])
  const add = (u: PublicUser) => async () => {
    try {
      await follow(u.username)
      setFollowed(new Set(followed).add(u.id))
    } catch (e) {
      notifyError(e)
    }
  }
  const upcoming = hallway.value?.upcoming ?? []
  return html`<section class="page welcome">
    <${Header} title=${`Welcome, ${user.displayName || user.username}`} />
    <div class="pad">
      <p class="lead">
        ${
          inviter
            ? html`You follow <a href=${'/u/' + inviter}>@${inviter}</a>, who invited you: their rooms and news reach
                you first.`
            : html`Townhall is live audio rooms and Backchannel messages among the people here.`
        }
      </p>
    </div>
    <h2 class="section-title pad">People to follow</h2>
    ${
      people === null
        ? html`<p class="muted pad">Loading…</p>`
        : people.length === 0
          ? html`<${Empty}>No suggestions yet: find people on the People screen.</${Empty}>`
          : html`<ul class="list">${people.map(
              (u) => html`<li class="list-item">
                <a class="row gap center grow" href=${'/u/' + u.username}>
                  <${Avatar} user=${u} />
                  <span><strong>${u.displayName}</strong><br /><span class="muted small">@${u.username}</span></span>
                </a>
                ${
                  followed.has(u.id)
                    ? html`<span class="badge">Following</span>`
                    : html`<button class="btn small primary" aria-label=${'Follow @' + u.username} onClick=${add(u)}>
                        Follow
                      </button>`
                }
              </li>`,
            )}</ul>`
    }
    <h2 class="section-title pad">Coming up</h2>
    ${
      upcoming.length === 0
        ? html`<${Empty}>No rooms scheduled yet.</${Empty}>`
        : html`<ul class="list">${upcoming.slice(0, 5).map(
            (r) => html`<li class="list-item">
              <span class="grow"><strong>${r.title}</strong><br />
                <span class="muted small">with ${r.host.displayName}${r.startsAt ? ` · ${when(r.startsAt)}` : ''}</span>
              </span>
            </li>`,
          )}</ul>`
    }
    <div class="pad welcome-go"><a class="btn primary" href="/">Go to the hallway</a></div>
  </section>`
}
