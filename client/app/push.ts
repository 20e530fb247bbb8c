// Web Push on this device: whether it is possible, the permission, and subscribing through the service worker;
// and my notification settings. The HTTP calls are server/push/routes.ts's, typed by what each returns.
import { signal } from '@preact/signals'
import { get, patch, post } from './api'
// The wire shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { PushKind } from '../../server/contracts'

export type { PushKind }
/** A device subscribed to my notifications. */
export interface PushDevice {
  id: number
  endpointHost: string
  userAgent: string
  createdAt: number
  lastUsedAt: number | null
}
export type PushSettings = Record<PushKind, boolean>

// ── over HTTP ──
const serverKey = () => get<{ publicKey: string }>('/push/key').then((r) => r.publicKey)
const subscribe = (sub: PushSubscriptionJSON) => post<{ ok: true }>('/push/subscribe', sub).then(() => {})
/** Removes a subscription on the server; false when it did not know it. */
const unsubscribe = (endpoint: string) =>
  post<{ removed: boolean }>('/push/unsubscribe', { endpoint }).then((r) => r.removed)
/** My settings per kind of notification, and my subscribed devices. */
export const pushSettings = () => get<{ settings: PushSettings; devices: PushDevice[] }>('/push/settings')
export const updatePushSettings = (changes: Partial<PushSettings>) =>
  patch<{ settings: PushSettings }>('/push/settings', changes).then((r) => r.settings)
/** Sends a test notification to my devices; false when none received it. */
export const sendTestPush = () => post<{ sent: boolean }>('/push/test').then((r) => r.sent)

// ── this device ──
export type PushState = 'unsupported' | 'denied' | 'off' | 'on'
export const pushState = signal<PushState>('off')

const pushSupported = () =>
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
    await subscribe(sub.toJSON()).catch(() => {})
    return (pushState.value = 'on')
  }
  return (pushState.value = 'off')
}

/** Asks for permission (from a click) and subscribes this device. */
export async function enablePush(): Promise<PushState> {
  if (!pushSupported()) return (pushState.value = 'unsupported')
  const perm = await Notification.requestPermission()
  if (perm !== 'granted') return (pushState.value = perm === 'denied' ? 'denied' : 'off')
  const publicKey = await serverKey()
  const reg = await registration()
  let sub = await reg.pushManager.getSubscription()
  // A subscription made with another server key cannot be reused.
  const current = sub?.options.applicationServerKey
  if (
    sub &&
    current &&
    btoa(String.fromCharCode(...new Uint8Array(current)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '') !== publicKey
  ) {
    await sub.unsubscribe()
    sub = null
  }
  sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) })
  await subscribe(sub.toJSON())
  return (pushState.value = 'on')
}

/** Unsubscribes this device (on the server and in the browser). */
export async function disablePush(): Promise<PushState> {
  if (!pushSupported()) return (pushState.value = 'unsupported')
  const sub = await (await registration()).pushManager.getSubscription()
  if (sub) {
    await unsubscribe(sub.endpoint).catch(() => {})
    await sub.unsubscribe().catch(() => {})
  }
  return (pushState.value = 'off')
}
