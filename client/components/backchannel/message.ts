// One message, a list of them, and the composer: shared by the thread screen and the room's panels.
// User text is always rendered as text; only http(s) URLs become links (new tab, no referrer, no follow).
import { html } from 'htm/preact'
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import * as bc from '../../app/backchannel'
import { me, notify, notifyError, settle } from '../../app/state'
import { Avatar } from '../ui'
import { LineIcon } from '../icons'
import { linkify } from './text'
import { MediaAttachment, MediaButtons, MediaTray } from './media'
import { ReportButton } from '../admin/report'

const REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🙏']
/** How long a touch must rest on a message to open its actions. */
const LONG_PRESS_MS = 500

const time = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

interface ItemProps {
  m: bc.Shown
  showAuthor: boolean
  canModerate?: boolean
  onReply: (m: bc.Message) => void
  seenBy?: string
}

function MessageItem({ m, showAuthor, canModerate, onReply, seenBy }: ItemProps) {
  const mine = m.author?.id === me.value?.id
  const [editing, setEditing] = useState(false)
  const [draft, setDraft] = useState(m.body)
  const [menu, setMenu] = useState(false)
  const close = () => setMenu(false)
  // Long-press on touch (or the context menu) opens the actions; a scroll or a short tap does not.
  const press = useRef<ReturnType<typeof setTimeout> | null>(null)
  const cancelPress = () => {
    if (press.current) clearTimeout(press.current)
    press.current = null
  }
  const actionable = !m.pending && !m.failed && !m.deleted && !m.hidden
  // A tap or click elsewhere closes the menu.
  const item = useRef<HTMLLIElement>(null)
  useEffect(() => {
    if (!menu) return
    const away = (e: PointerEvent) => {
      if (!item.current?.contains(e.target as Node)) setMenu(false)
    }
    document.addEventListener('pointerdown', away)
    return () => document.removeEventListener('pointerdown', away)
  }, [menu])
  const saveEdit = (e: Event) => {
    e.preventDefault()
    if (draft.trim() && draft !== m.body) settle(bc.edit(m.id, draft))
    setEditing(false)
  }
  const stored = !m.pending && !m.failed
  const name = m.author?.displayName ?? 'Someone'
  const cls = 'msg' + (mine ? ' mine' : '') + (m.pending ? ' pending' : '') + (m.failed ? ' failed' : '')
  const imageLink =
    m.image &&
    html`<a href=${m.image} target="_blank" rel="noopener noreferrer">
      <img class="msg-image" src=${m.image} alt=${'Image from ' + name} loading="lazy" />
    </a>`
  return html`<li class=${cls} data-id=${m.id} ref=${item}>
    ${
      showAuthor &&
      !mine &&
      html`<div class="msg-author">${
        m.author
          ? html`<a href=${'/u/' + m.author.username}><${Avatar} user=${m.author} size=${22} /> ${name}</a>`
          : name
      }</div>`
    }
    <div class="msg-bubble"
      onContextMenu=${(e: Event) => {
        if (!actionable || editing) return
        e.preventDefault()
        setMenu(true)
      }}
      onPointerDown=${(e: PointerEvent) => {
        if (e.pointerType !== 'touch' || !actionable || editing) return
        press.current = setTimeout(() => setMenu(true), LONG_PRESS_MS)
      }}
      onPointerUp=${cancelPress} onPointerMove=${cancelPress} onPointerCancel=${cancelPress}>
      ${
        m.replyTo &&
        html`<div class="msg-quote">
          <span class="muted small">↩ ${m.replyTo.author ? '@' + m.replyTo.author : ''}</span> ${
            m.replyTo.deleted ? html`<em>deleted message</em>` : m.replyTo.body
          }
        </div>`
      }
      ${
        m.hidden
          ? html`<p class="msg-text muted"><em>Message from someone you blocked</em></p>`
          : m.deleted
            ? html`<p class="msg-text muted"><em>Message deleted</em></p>`
            : editing
              ? html`<form class="msg-edit" onSubmit=${saveEdit}>
            <textarea aria-label="Edit message" maxlength="4000" rows="2" value=${draft}
              onInput=${(e: any) => setDraft(e.target.value)}
              onKeyDown=${(e: KeyboardEvent) => {
                if (e.key === 'Enter' && !e.shiftKey) saveEdit(e)
                if (e.key === 'Escape') setEditing(false)
              }}></textarea>
            <div class="row gap">
              <button class="btn small primary" type="submit">Save</button>
              <button class="btn small" type="button" onClick=${() => setEditing(false)}>Cancel</button>
            </div>
          </form>`
              : html`${imageLink}<${MediaAttachment} m=${m} />
            ${m.body && html`<p class="msg-text">${linkify(m.body)}</p>`}`
      }
      <div class="msg-meta">
        ${time(m.createdAt)}${m.editedAt && !m.deleted ? ' · edited' : ''}${m.pending ? ' · sending…' : ''}
        ${seenBy ? ` · ${seenBy}` : ''}
      </div>
    </div>
    ${
      Object.keys(m.reactions).length > 0 &&
      html`<div class="msg-reactions">
      ${Object.entries(m.reactions).map(([emoji, users]) => {
        const on = users.includes(me.value!.id)
        return html`<button class=${'chip' + (on ? ' on' : '')} aria-pressed=${on}
          aria-label=${`${emoji} ${users.length}${on ? ', remove your reaction' : ''}`}
          onClick=${() => settle(bc.react(m.id, emoji, !on))}>${emoji} ${users.length}</button>`
      })}</div>`
    }
    ${
      m.failed &&
      html`<div class="msg-failed" role="alert">
        Not sent: ${m.failed} <button class="btn small"
          onClick=${() => bc.discardFailed(m.threadId, m.clientId)}>Remove</button>
      </div>`
    }
    ${
      stored &&
      !m.deleted &&
      !m.hidden &&
      !editing &&
      html`<button class="msg-more" aria-label="Message actions" aria-haspopup="menu" aria-expanded=${menu}
        onClick=${() => setMenu(!menu)}>⋯</button>`
    }
    ${
      menu &&
      html`<div class="msg-menu" role="menu" aria-label="Message actions" onKeyDown=${(e: KeyboardEvent) => {
        if (e.key === 'Escape') close()
      }}>
      <span class="emoji-pick" role="group" aria-label="Reactions">${REACTIONS.map(
        (e) =>
          html`<button class="chip" role="menuitem" aria-label=${'React ' + e} onClick=${() => {
            close()
            settle(bc.react(m.id, e, true))
          }}>${e}</button>`,
      )}</span>
      <button class="msg-menu-item" role="menuitem" onClick=${() => {
        close()
        onReply(m)
      }}>Reply</button>
      ${
        mine &&
        !m.image &&
        html`<button class="msg-menu-item" role="menuitem" onClick=${() => {
          close()
          setDraft(m.body)
          setEditing(true)
        }}>Edit</button>`
      }
      ${
        (mine || canModerate) &&
        html`<button class="msg-menu-item danger-text" role="menuitem"
          onClick=${() => {
            close()
            if (confirm('Delete this message?')) settle(bc.remove(m.id))
          }}>Delete</button>`
      }
      ${
        !mine &&
        html`<${ReportButton} type="message" id=${m.id} label=${`this message from ${name}`}
          className="msg-menu-item" />`
      }
    </div>`
    }
  </li>`
}

/** The messages of a thread, oldest first, with "load earlier" and stick-to-bottom scrolling. */
export function MessageList({
  threadId,
  canModerate,
  onReply,
  seen,
  compact,
}: {
  threadId: number
  canModerate?: boolean
  onReply: (m: bc.Message) => void
  seen?: (m: bc.Message) => string | undefined
  compact?: boolean
}) {
  const list = bc.messages.value.get(threadId)
  const ref = useRef<HTMLDivElement>(null)
  const atBottom = useRef(true)
  const count = list?.length ?? 0
  const lastId = list?.at(-1)?.id
  useLayoutEffect(() => {
    const el = ref.current
    if (el && atBottom.current) el.scrollTop = el.scrollHeight
  }, [count, lastId])
  if (!list) return html`<div class="msgs" ref=${ref}><p class="muted pad">Loading…</p></div>`
  const earlier = async () => {
    const el = ref.current!
    const before = el.scrollHeight
    atBottom.current = false
    try {
      await bc.loadEarlier(threadId)
    } catch (e) {
      notifyError(e)
    }
    requestAnimationFrame(() => {
      el.scrollTop = el.scrollHeight - before
    })
  }
  return html`<div class=${'msgs' + (compact ? ' compact' : '')} ref=${ref} onScroll=${(e: any) => {
    const el = e.currentTarget
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80
  }}>
    ${
      bc.hasMore.value.get(threadId) &&
      html`<div class="center-text"><button class="btn small" onClick=${earlier}>Load earlier messages</button></div>`
    }
    ${list.length === 0 && html`<p class="empty">No messages yet. Say hello!</p>`}
    <ol class="msg-list" aria-live="polite" aria-relevant="additions">
      ${list.map(
        (m, i) => html`<${MessageItem} key=${m.clientId + m.id} m=${m} canModerate=${canModerate}
        showAuthor=${i === 0 || list[i - 1]!.author?.id !== m.author?.id} onReply=${onReply} seenBy=${seen?.(m)} />`,
      )}
    </ol>
  </div>`
}

/** The composer: Enter sends, Shift+Enter is a new line; an image can be attached; a reply shows above. */
export function Composer({
  threadId,
  replyTo,
  onCancelReply,
  disabled,
  placeholder = 'Message',
  allowImages = true,
}: {
  threadId: number
  replyTo: bc.Message | null
  onCancelReply: () => void
  disabled?: string
  placeholder?: string
  allowImages?: boolean
}) {
  const [text, setText] = useState('')
  const [image, setImage] = useState<{ name: string; url: string } | null>(null)
  const [busy, setBusy] = useState(false)
  const input = useRef<HTMLTextAreaElement>(null)
  useEffect(() => {
    if (replyTo) input.current?.focus()
  }, [replyTo])
  if (disabled) return html`<div class="composer disabled"><p class="muted small">${disabled}</p></div>`
  const submit = (e?: Event) => {
    e?.preventDefault()
    const body = text.trim()
    if ((!body && !image) || body.length > 4000) return
    bc.send(threadId, body, { image: image?.name, imageUrl: image?.url, replyTo }).catch(notifyError)
    setText('')
    setImage(null)
    onCancelReply()
    input.current?.focus()
  }
  const attach = async (e: any) => {
    const file = e.target.files?.[0] as File | undefined
    e.target.value = ''
    if (!file) return
    if (file.size > 10 * 1024 * 1024) return notify('An image may be at most 10 MB.', 'error')
    setBusy(true)
    try {
      setImage(await bc.uploadImage(threadId, file))
    } catch (err) {
      notifyError(err)
    } finally {
      setBusy(false)
    }
  }
  const takeCaption = () => {
    const body = text.trim().slice(0, 4000)
    setText('')
    onCancelReply()
    return body
  }
  const replyingTo = replyTo?.author ? '@' + replyTo.author.username : 'a message'
  return html`<form class="composer" onSubmit=${submit}>
    ${
      replyTo &&
      html`<div class="composer-reply">
        <span class="grow">Replying to ${replyingTo}: <span class="muted">${replyTo.body.slice(0, 80)}</span></span>
        <button type="button" class="link-btn" aria-label="Cancel reply" onClick=${onCancelReply}>✕</button>
      </div>`
    }
    ${
      image &&
      html`<div class="composer-reply">
        <img src=${image.url} alt="Image to send" class="composer-thumb" />
        <span class="grow muted small">Image attached</span>
        <button type="button" class="link-btn" aria-label="Remove image" onClick=${() => setImage(null)}>✕</button>
      </div>`
    }
    <${MediaTray} threadId=${threadId} />
    <div class="composer-row">
      ${allowImages && html`<${MediaButtons} threadId=${threadId} replyTo=${replyTo} takeCaption=${takeCaption} />`}
      ${
        allowImages &&
        html`<label class="icon-btn attach" title="Attach image" aria-busy=${busy}>
          <${LineIcon} name="clip" />
          <input class="visually-hidden" type="file" accept="image/png,image/jpeg,image/webp,image/gif"
            aria-label="Attach image" onChange=${attach} />
        </label>`
      }
      <textarea ref=${input} class="grow" rows="1" maxlength="4000" aria-label=${placeholder}
        placeholder=${placeholder} value=${text}
        onInput=${(e: any) => {
          setText(e.target.value)
          if (e.target.value) bc.sendTyping(threadId)
        }}
        onKeyDown=${(e: KeyboardEvent) => {
          if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) submit(e)
        }}></textarea>
      <button class="btn primary send" type="submit" aria-label="Send"
        disabled=${busy || (!text.trim() && !image)}>Send</button>
    </div>
  </form>`
}

export function Typing({ threadId }: { threadId: number }) {
  const who = (bc.typing.value.get(threadId) ?? []).filter((x) => x.until > Date.now())
  const text = who.length
    ? `${who.map((w) => '@' + w.username).join(', ')} ${who.length > 1 ? 'are' : 'is'} typing…`
    : ''
  return html`<div class="typing" aria-live="polite">${text}</div>`
}
