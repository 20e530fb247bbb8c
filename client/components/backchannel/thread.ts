// A thread: its header (people, mute, group settings), a request banner, paged history, typing, and the composer.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import * as bc from '../../app/backchannel'
import { navigate } from '../../app/router'
import { errorText, me, notifyError, settle } from '../../app/state'
import { Empty, Header } from '../ui'
import { others, threadTitle } from './inbox'
import { Composer, MessageList, Typing } from './message'
import { LineIcon } from '../icons'

function GroupSettings({ t, onClose }: { t: bc.Thread; onClose: () => void }) {
  const [title, setTitle] = useState(t.title)
  const [add, setAdd] = useState('')
  const creator = t.creatorId === me.value?.id
  const leave = () => confirm('Leave this group?') && bc.leave(t.id).then(() => navigate('/backchannel'), notifyError)
  return html`<section class="card stack" aria-label="Group settings">
    <form class="row gap" onSubmit=${(e: Event) => {
      e.preventDefault()
      settle(bc.rename(t.id, title.trim()), 'Renamed')
    }}>
      <input aria-label="Group title" maxlength="80" required value=${title}
        onInput=${(e: any) => setTitle(e.target.value)} />
      <button class="btn" type="submit">Rename</button>
    </form>
    <ul class="list">${t.members.map(
      (m) => html`<li class="list-item">
        <a class="grow" href=${'/u/' + m.username}>${m.displayName} <span class="muted small">
          @${m.username}${m.id === t.creatorId ? ' · creator' : ''}${m.state === 'request' ? ' · invited' : ''}
        </span></a>
        ${
          creator &&
          m.id !== me.value?.id &&
          html`<button class="btn small danger-text" aria-label=${'Remove @' + m.username}
            onClick=${() => settle(bc.removeMember(t.id, m.id), 'Removed')}>Remove</button>`
        }</li>`,
    )}</ul>
    ${
      creator &&
      html`<form class="row gap" onSubmit=${(e: Event) => {
        e.preventDefault()
        settle(
          bc.addMembers(
            t.id,
            add
              .split(/[\s,]+/)
              .map((x) => x.replace(/^@/, ''))
              .filter(Boolean),
          ),
          'Added',
        ).then(() => setAdd(''))
      }}>
      <input aria-label="Add people by username" placeholder="@username" value=${add}
        onInput=${(e: any) => setAdd(e.target.value)} />
      <button class="btn" type="submit">Add</button>
    </form>`
    }
    <div class="row gap wrap">
      <button class="btn danger-text" onClick=${leave}>Leave group</button>
      <button class="btn" onClick=${onClose}>Done</button>
    </div>
  </section>`
}

export function ThreadScreen({ id }: { id: number }) {
  const [err, setErr] = useState('')
  const [replyTo, setReplyTo] = useState<bc.Message | null>(null)
  const [settings, setSettings] = useState(false)
  useEffect(() => {
    if (!Number.isSafeInteger(id) || id < 1) {
      setErr('This conversation does not exist.')
      return
    }
    bc.startBackchannel()
    setErr('')
    bc.openThread(id).catch((e) => setErr(errorText(e)))
    return () => bc.closeThread(id)
  }, [id])
  const t = bc.threads.value.get(id)
  if (err) return html`<${Header} title="Conversation" back="/backchannel" /><${Empty}>${err}</${Empty}>`
  if (!t) return html`<${Header} title="Conversation" back="/backchannel" /><p class="muted pad">Loading…</p>`
  if (t.kind === 'room_chat' || t.kind === 'backstage') return html`<${RoomThread} t=${t} />`
  const other = t.kind === 'dm' ? others(t)[0] : undefined
  // "Seen" under my latest message that the other person (1:1) or everyone (group) has read.
  const mineLast = (bc.messages.value.get(id) ?? [])
    .filter((m) => m.author?.id === me.value?.id && !m.pending && !m.failed)
    .at(-1)
  const readers = others(t).filter((m) => m.state === 'active' && mineLast && m.lastReadId >= mineLast.id)
  const seen = (m: bc.Message) =>
    mineLast && m.id === mineLast.id && readers.length
      ? t.kind === 'dm'
        ? 'Seen'
        : `Seen by ${readers.length === others(t).length ? 'everyone' : readers.map((r) => r.displayName).join(', ')}`
      : undefined
  return html`<div class="thread-screen">
    <${Header} title=${threadTitle(t)} back="/backchannel">
      <button class="btn small" aria-pressed=${t.muted}
        aria-label=${t.muted ? 'Unmute conversation' : 'Mute conversation'}
        onClick=${() => settle(bc.mute(t.id, !t.muted), t.muted ? 'Unmuted' : 'Muted')}>
        <${LineIcon} name=${t.muted ? 'bell-off' : 'bell'} />
      </button>
      ${
        t.kind === 'group' &&
        html`<button class="btn small" aria-expanded=${settings} onClick=${() => setSettings(!settings)}>Group</button>`
      }
    </${Header}>
    <p class="thread-sub muted small">
      ${
        other
          ? html`<a href=${'/u/' + other.username}>@${other.username}</a>`
          : `${t.memberCount} ${t.memberCount === 1 ? 'member' : 'members'}`
      }
    </p>
    ${settings && t.kind === 'group' && html`<${GroupSettings} t=${t} onClose=${() => setSettings(false)} />`}
    ${
      t.state === 'request' &&
      html`<section class="card request-banner" role="region" aria-label="Message request">
      <p>
        <strong>${t.kind === 'dm' ? other?.displayName : t.title}</strong> wants to send you messages.${' '}
        They won't know you've seen this until you accept.
      </p>
      <div class="row gap"><button class="btn primary" aria-label="Accept request"
          onClick=${() => settle(bc.accept(t.id), 'Accepted')}>Accept</button>
        <button class="btn" aria-label="Decline request" onClick=${() =>
          settle(
            bc.decline(t.id).then(() => navigate('/backchannel/requests')),
            'Declined',
          )}>Decline</button></div>
    </section>`
    }
    <${MessageList} threadId=${id} onReply=${setReplyTo} seen=${seen} />
    <${Typing} threadId=${id} />
    <${Composer} threadId=${id} replyTo=${replyTo} onCancelReply=${() => setReplyTo(null)}
      disabled=${t.state === 'left' ? 'You are no longer in this conversation.' : undefined} />
  </div>`
}

/** A room's chat or backstage outside the room: readable (after the room too) by those who were in it. */
function RoomThread({ t }: { t: bc.Thread }) {
  const [showQa, setShowQa] = useState(false)
  useEffect(() => {
    if (t.kind === 'room_chat' && t.roomId)
      bc.openRoom(t.roomId).catch(() => {
        /* questions are optional here */
      })
  }, [t.id])
  const qs = (t.roomId && bc.questions.value.get(t.roomId)) || []
  const question = (q: bc.Question) => html`<li class="list-item question">
    <span class="vote" aria-label=${q.votes + ' upvotes'}>▲<span>${q.votes}</span></span>
    <div class="grow">
      <p class="q-text">${q.body}</p>
      <p class="muted small">
        ${q.author?.displayName ?? 'Someone'} · ${q.state}${q.stagedAt ? ' · brought to stage' : ''}
      </p>
    </div>
  </li>`
  return html`<div class="thread-screen">
    <${Header} title=${threadTitle(t)} back="/backchannel/rooms" />
    <p class="thread-sub muted small">From the room · <a href=${'/rooms/' + t.roomId}>Open the room</a></p>
    ${
      qs.length > 0 &&
      html`<section class="card">
      <button class="link-btn" aria-expanded=${showQa} onClick=${() => setShowQa(!showQa)}>
        ${showQa ? 'Hide' : 'Show'} questions (${qs.length})
      </button>
      ${showQa && html`<ol class="list">${[...qs].sort((a, b) => b.votes - a.votes).map(question)}</ol>`}
    </section>`
    }
    <${MessageList} threadId=${t.id} onReply=${() => {}} />
    <${Composer} threadId=${t.id} replyTo=${null} onCancelReply=${() => {}}
      disabled="Room conversations are read here; write in the room while it is live." />
  </div>`
}
