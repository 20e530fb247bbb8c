// App-wide state: who I am, toasts, and the update banner. Views read these signals; logic lives in client/app.
import { effect, signal } from '@preact/signals'
import { fetchSession, logout, type Me } from './accounts'
import { ApiError } from './api'
import { conn } from './connection'
import { navigate } from './router'

export const me = signal<Me | null | undefined>(undefined) // undefined: still loading
export const toast = signal<{ text: string; kind: 'info' | 'error' } | null>(null)
export const updateReady = signal(false)

let toastTimer: ReturnType<typeof setTimeout> | undefined
export function notify(text: string, kind: 'info' | 'error' = 'info') {
  toast.value = { text, kind }
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => (toast.value = null), 4000)
}
export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))
/** Shows what went wrong (the catalog's message) as an error toast. */
export const notifyError = (e: unknown) => notify(errorText(e), 'error')
/** Waits for an action, then toasts its confirmation (when given) or its error. */
export const settle = (p: Promise<unknown>, ok?: string) =>
  p.then(() => {
    if (ok) notify(ok)
  }, notifyError)

/** Why I was signed out while the app was open (the sign-in screen says it): an admin's ban or suspension. */
export const signedOutReason = signal<string | null>(null)
// A tab whose sessions the server ended shows the signed-out screen at once, with the right word.
effect(() => {
  const why = conn.ended.value
  if (!why || !me.value) return
  signedOutReason.value = why
  me.value = null
  navigate('/', true)
})

/**
 * The app's first data, when the page carries it (P16; server/http/static.ts): who I am and, on a member's hallway, its
 * list, in a JSON block that takes the place of the who-am-I request. Read once (the block is removed); null when the
 * page is the plain shell (the service worker's, offline), and the app then asks the server as before.
 */
export function takeFirstData(): { user: Me | null; rooms?: unknown } | null {
  const block = document.getElementById('first-data')
  if (!block) return null
  block.remove()
  try {
    const data = JSON.parse(block.textContent ?? '') as { user?: Me | null; rooms?: unknown }
    return data && typeof data === 'object' && 'user' in data ? { user: data.user ?? null, rooms: data.rooms } : null
  } catch (e) {
    console.warn('the page’s first data could not be read', e)
    return null
  }
}

/** Who I am, known already (the page's first data): the same as loadMe's answer, without the request. */
export function startAs(user: Me | null) {
  me.value = user
  if (user) conn.connect()
}

export async function loadMe() {
  try {
    me.value = await fetchSession()
    if (me.value) conn.connect()
  } catch (e) {
    if (e instanceof ApiError && e.code === 'offline') me.value = me.value ?? null
    else me.value = null
  }
}

export function signedIn(user: Me) {
  me.value = user
  signedOutReason.value = null
  conn.ended.value = null
  conn.connect()
}

export async function signOut() {
  // This tab closes its socket first: the server's close of the session is not news to it.
  conn.close()
  try {
    await logout()
  } finally {
    me.value = null
    navigate('/')
  }
}
