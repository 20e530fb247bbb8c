// The room's Backchannel panels, mounted in the room screen's panel area: Chat (everyone in the room), Backstage
// (host, moderators, speakers) and Q&A (the audience asks, everyone upvotes, moderators answer or bring to stage).
import { html } from 'htm/preact'
import { signal } from '@preact/signals'
import { useEffect, useState } from 'preact/hooks'
import * as bc from '../../app/backchannel'
import { myRole, registerRoomPanel } from '../../app/rooms'
import { errorText, me, notifyError, settle } from '../../app/state'
import { Avatar, Empty } from '../ui'
import { Composer, MessageList } from './message'

const rooms = signal<ReadonlyMap<number, bc.RoomBackchannel | { error: string }>>(new Map())
const STAGE = ['host', 'moderator', 'speaker']

/** Opens the room's threads once per room and role (a new speaker gains backstage). */
function useRoom(roomId: number) {
  const role = myRole.value
  useEffect(() => {
    if (!me.value) return
    bc.startBackchannel()
    let live = true
    bc.openRoom(roomId).then(
      (r) => {
        if (live) rooms.value = new Map(rooms.value).set(roomId, r)
      },
      (e) => {
        if (live) rooms.value = new Map(rooms.value).set(roomId, { error: errorText(e) })
      },
    )
    return () => {
      live = false
    }
  }, [roomId, role])
  return rooms.value.get(roomId)
}

function ThreadPanel({ roomId, which }: { roomId: number; which: 'chat' | 'backstage' }) {
  const r = useRoom(roomId)
  const [replyTo, setReplyTo] = useState<bc.Message | null>(null)
  const threadId = r && 'chat' in r ? (which === 'chat' ? r.chat.id : r.backstage?.id) : undefined
  useEffect(() => {
    if (!threadId) return
    bc.openThread(threadId).catch(notifyError)
    return () => bc.closeThread(threadId)
  }, [threadId])
  if (!r) return html`<p class="muted pad">Loading…</p>`
  if ('error' in r) return html`<${Empty}>${r.error}</${Empty}>`
  if (!threadId) return html`<${Empty}>Backstage is for the people on stage.</${Empty}>`
  const t = bc.threads.value.get(threadId)
  const live = r.room.state === 'live' && r.role !== null
  const off = which === 'chat' && t && !t.chatEnabled
  const disabled = !live
    ? 'This room has ended; the conversation is read-only.'
    : off && !r.canModerate
      ? 'The hosts turned the chat off.'
      : undefined
  return html`<div class="room-thread">
    ${
      which === 'chat' &&
      r.canModerate &&
      live &&
      html`<div class="row gap center pad-y">
      <span class="grow muted small">${off ? 'Chat is off for the audience.' : 'Chat is on.'}</span>
      <button class="btn small" onClick=${() => bc.setChat(roomId, !!off).catch(notifyError)}>
        ${off ? 'Turn chat on' : 'Turn chat off'}
      </button>
    </div>`
    }
    <${MessageList} threadId=${threadId} compact canModerate=${which === 'chat' && r.canModerate}
      onReply=${setReplyTo} />
    <${Composer} threadId=${threadId} replyTo=${replyTo} onCancelReply=${() => setReplyTo(null)} disabled=${disabled}
      allowImages=${false} placeholder=${which === 'chat' ? 'Message the room' : 'Message the stage'} />
  </div>`
}

function QuestionsPanel({ roomId }: { roomId: number }) {
  const r = useRoom(roomId)
  const [text, setText] = useState('')
  const [showDone, setShowDone] = useState(false)
  if (!r) return html`<p class="muted pad">Loading…</p>`
  if ('error' in r) return html`<${Empty}>${r.error}</${Empty}>`
  const live = r.room.state === 'live' && r.role !== null
  const all = bc.questions.value.get(roomId) ?? []
  const open = all.filter((q) => q.state === 'open').sort((a, b) => b.votes - a.votes || a.id - b.id)
  const done = all.filter((q) => q.state !== 'open')
  const submit = (e: Event) => {
    e.preventDefault()
    const body = text.trim()
    if (!body) return
    settle(
      bc.ask(roomId, body).then(() => setText('')),
      'Question sent',
    )
  }
  const item = (q: bc.Question) => html`<li class="list-item question">
    <button class=${'vote' + (q.voted ? ' on' : '')} aria-label="Upvote" aria-pressed=${q.voted}
      disabled=${!live || q.voted || q.state !== 'open'} onClick=${() => settle(bc.upvote(q.id))}>
      ▲<span>${q.votes}</span>
    </button>
    <div class="grow">
      <p class="q-text">${q.body}</p>
      <p class="muted small">
        ${q.author ? html`<${Avatar} user=${q.author} size=${18} /> ${q.author.displayName}` : 'Someone'}
        ${q.stagedAt ? ' · brought to stage' : ''}${q.state !== 'open' ? ` · ${q.state}` : ''}
      </p>
      ${
        r.canModerate &&
        live &&
        q.state === 'open' &&
        html`<div class="row gap wrap">
        <button class="btn small primary" aria-label="Bring to stage" disabled=${!!q.stagedAt}
          onClick=${() => settle(bc.bringToStage(q.id), 'Invited to speak; question pinned')}>Bring to stage</button>
        <button class="btn small" aria-label="Mark answered"
          onClick=${() => settle(bc.markQuestion(q.id, 'answered'))}>Answered</button>
        <button class="btn small" aria-label="Dismiss"
          onClick=${() => settle(bc.markQuestion(q.id, 'dismissed'))}>Dismiss</button>
      </div>`
      }
    </div>
  </li>`
  return html`<div class="qa">
    ${
      live &&
      html`<form class="composer" onSubmit=${submit}><div class="composer-row">
      <textarea class="grow" rows="1" maxlength="500" aria-label="Your question" placeholder="Your question"
        value=${text} onInput=${(e: any) => setText(e.target.value)} onKeyDown=${(e: KeyboardEvent) => {
          if (e.key === 'Enter' && !e.shiftKey) submit(e)
        }}></textarea>
      <button class="btn primary" type="submit" aria-label="Ask a question" disabled=${!text.trim()}>Ask</button>
    </div><p class="muted small counter">${text.length}/500</p></form>`
    }
    ${open.length === 0 ? html`<${Empty}>No open questions.</${Empty}>` : html`<ol class="list">${open.map(item)}</ol>`}
    ${
      done.length > 0 &&
      html`<button class="link-btn pad" aria-expanded=${showDone} onClick=${() => setShowDone(!showDone)}>
        ${showDone ? 'Hide' : 'Show'} answered and dismissed (${done.length})
      </button>
      ${showDone && html`<ol class="list done">${done.map(item)}</ol>`}`
    }
  </div>`
}

registerRoomPanel({
  id: 'chat',
  label: 'Chat',
  view: (roomId) => html`<${ThreadPanel} key=${'chat' + roomId} roomId=${roomId} which="chat" />`,
  visible: () => !!me.value,
})
registerRoomPanel({
  id: 'backstage',
  label: 'Backstage',
  view: (roomId) => html`<${ThreadPanel} key=${'back' + roomId} roomId=${roomId} which="backstage" />`,
  visible: (role) => !!me.value && role !== null && STAGE.includes(role),
})
registerRoomPanel({
  id: 'qa',
  label: 'Q&A',
  view: (roomId) => html`<${QuestionsPanel} roomId=${roomId} />`,
  visible: () => !!me.value,
})
