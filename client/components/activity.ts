// The activity inbox: the bell in the top bar (with the unread count) and the screen that lists what happened. Each
// item opens what it is about and is read on every device at once.
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import {
  activityItems,
  activityState,
  activityUnread,
  loadOlder,
  readAll,
  readItem,
  startActivity,
  type ActivityItem,
} from '../app/activity'
import { navigate } from '../app/router'
import { notifyError } from '../app/state'
import { LineIcon } from './icons'
import { Avatar, Empty, Header, timeAgo } from './ui'

export function Bell() {
  useEffect(() => startActivity(), [])
  const n = activityUnread.value
  const label = n ? `Activity, ${n} unread` : 'Activity'
  return html`<a class="bell" href="/activity" aria-label=${label} title="Activity">
    <${LineIcon} name="bell" />
    ${n > 0 && html`<span class="bell-badge" aria-hidden="true">${n > 99 ? '99+' : n}</span>`}
  </a>`
}

const open = (item: ActivityItem) => {
  if (!item.read) readItem(item.id).catch(notifyError)
  navigate(item.url)
}

function Row({ item }: { item: ActivityItem }) {
  const who = item.actor
  return html`<li>
    <button class=${'activity-row' + (item.read ? '' : ' unread')} onClick=${() => open(item)}>
      ${who ? html`<${Avatar} user=${who} size=${40} />` : html`<span class="activity-dot" aria-hidden="true">!</span>`}
      <span class="activity-text">
        <span class="activity-line">${who && html`<strong>${who.displayName}</strong> `}${item.text}</span>
        ${item.detail && html`<span class="activity-detail">${item.detail}</span>`}
        <span class="activity-time">${timeAgo(item.createdAt)}</span>
      </span>
      ${!item.read && html`<span class="visually-hidden">Unread</span><span class="unread-dot" aria-hidden="true" />`}
    </button>
  </li>`
}

export function ActivityScreen() {
  useEffect(() => startActivity(), [])
  const [more, setMore] = useState(true)
  const items = activityItems.value
  return html`<section class="page activity">
    <${Header} title="Activity">
      ${
        activityUnread.value > 0 &&
        html`<button class="btn small" onClick=${() => readAll().catch(notifyError)}>Mark all read</button>`
      }
    </${Header}>
    ${
      activityState.value === 'loading' && !items.length
        ? html`<${Empty}>Loading…</${Empty}>`
        : !items.length
          ? html`<${Empty}>Nothing yet. Invitations, new followers, mentions and rooms from people you follow show up
              here.</${Empty}>`
          : html`<ul class="activity-list">${items.map((i) => html`<${Row} key=${i.id} item=${i} />`)}</ul>`
    }
    ${
      items.length >= 50 &&
      more &&
      html`<button class="btn ghost" onClick=${() => loadOlder().then(setMore, notifyError)}>Older</button>`
    }
  </section>`
}
