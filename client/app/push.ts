// Web Push on this device: whether it is possible, the permission, and subscribing through the service worker.
import { signal } from '@preact/signals'
import { get, post } from './api'

export type PushState = 'unsupported' | 'denied' | 'off' | 'on'
export const pushState = signal<PushState>('off')

export const pushSupported = () =>
  typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window

const keyBytes = (b64: string) => {
  const s = atob(b64.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64.length % 4)) % 4))
  return Uint8Array.from(s, (c) => c.charCodeAt(0))
}

async function registration() {
  return navigator.serviceWorker.ready
}

/** Reads the current state of this device (and re-sends a live subscription so the server knows it). */
export async function refreshPush(): Promise<PushState> {
  if (!pushSupported()) return (pushState.value = 'unsupported')
  if (Notification.permission === 'denied') return (pushState.value = 'denied')
  const sub = await (await registration()).pushManager.getSubscription().catch(() => null)
  if (sub && Notification.permission === 'granted') {
    await post('/push/subscribe', sub.toJSON()).catch(() => {})
    return (pushState.value = 'on')
  }
  return (pushState.value = 'off')
}

/** Asks for permission (from a click) and subscribes this device. */
export async function enablePush(): Promise<PushState> {
  if (!pushSupported()) return (pushState.value = 'unsupported')
  const perm = await Notification.requestPermission()
  if (perm !== 'granted') return (pushState.value = perm === 'denied' ? 'denied' : 'off')
  const { publicKey } = await get<{ publicKey: string }>('/push/key')
  const reg = await registration()
  let sub = await reg.pushManager.getSubscription()
  // A subscription made with another server key cannot be reused.
  const current = sub?.options.applicationServerKey
  if (sub && current && btoa(String.fromCharCode(...new Uint8Array(current))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') !== publicKey) {
    await sub.unsubscribe(); sub = null
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) })
  await post('/push/subscribe', sub.toJSON())
  return (pushState.value = 'on')
}

/** Unsubscribes this device (on the server and in the browser). */
export async function disablePush(): Promise<PushState> {
  if (!pushSupported()) return (pushState.value = 'unsupported')
  const sub = await (await registration()).pushManager.getSubscription()
  if (sub) {
    await post('/push/unsubscribe', { endpoint: sub.endpoint }).catch(() => {})
    await sub.unsubscribe().catch(() => {})
  }
  return (pushState.value = 'off')
}
