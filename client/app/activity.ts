// The activity inbox kept in step over the socket: the newest items and the unread count (the bell's badge). Items
// arrive live (`activity.new`); reading on any of my devices reaches every tab (`activity.read`).
import { signal } from '@preact/signals'
import type { ActivityItem } from '../../server/protocol'
import { conn } from './connection'

export type { ActivityItem }

export const activityItems = signal<ActivityItem[]>([])
export const activityUnread = signal(0)
export const activityState = signal<'loading' | 'ready' | 'offline'>('loading')

let started = false

async function load() {
  try {
    const r = await conn.request('activity.list', {})
    activityItems.value = r.items
    activityUnread.value = r.unread
    activityState.value = 'ready'
  } catch {
    activityState.value = activityItems.value.length ? 'ready' : 'offline'
  }
}

function markLocal(itemId: number | null, upTo: number | null) {
  activityItems.value = activityItems.value.map((i) =>
    (itemId !== null && i.id === itemId) || (upTo !== null && i.id <= upTo) ? { ...i, read: true } : i,
  )
}

/** Follows the inbox from now on (the shell calls it once). */
export function startActivity() {
  if (started) return
  started = true
  conn.on('activity.new', (e) => {
    activityItems.value = [e.item, ...activityItems.value.filter((i) => i.id !== e.item.id)].slice(0, 200)
    activityUnread.value = e.unread
  })
  conn.on('activity.read', (e) => {
    markLocal(e.itemId, e.upTo)
    activityUnread.value = e.unread
  })
  conn.onResume(() => void load())
  if (conn.state.value === 'open') void load()
}

export async function loadOlder() {
  const last = activityItems.value.at(-1)
  if (!last) return false
  const r = await conn.request('activity.list', { before: last.id })
  activityItems.value = [...activityItems.value, ...r.items]
  return r.items.length > 0
}

export async function readItem(itemId: number) {
  markLocal(itemId, null)
  activityUnread.value = (await conn.request('activity.read', { itemId })).unread
}

export async function readAll() {
  const top = activityItems.value[0]
  if (!top) return
  markLocal(null, top.id)
  activityUnread.value = (await conn.request('activity.read', { upTo: top.id })).unread
}
