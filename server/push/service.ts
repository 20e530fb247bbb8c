// Web Push (VAPID, aes128gcm): the server's keys, each member's device subscriptions and settings, and sending.
// web-push builds the signed, encrypted request; we send it with fetch. (The 10-minute reminder for scheduled rooms
// is reminders.ts.)
import webpush from 'web-push'
import type { AccountsApi, PushApi, PushKind } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import type { RateLimiter } from '../lib/ratelimit'
import { checkHost, pinnedPost } from './address'
import { PushStore, type SubscriptionRow } from './store'

const PUSH_KINDS: PushKind[] = ['dm', 'room_started', 'room_reminder', 'speak_invite', 'activity']
const SEND_TIMEOUT_MS = 10_000
/** Sends in flight at once (a room start can notify hundreds of followers). */
const MAX_IN_FLIGHT = 16

/** How long a push service keeps trying, and how urgent it is, per kind. */
const DELIVERY: Record<PushKind | 'test', { ttl: number; urgency: 'normal' | 'high' }> = {
  dm: { ttl: 86_400, urgency: 'high' },
  room_started: { ttl: 3_600, urgency: 'normal' },
  room_reminder: { ttl: 600, urgency: 'normal' },
  speak_invite: { ttl: 120, urgency: 'high' },
  activity: { ttl: 86_400, urgency: 'normal' },
  test: { ttl: 600, urgency: 'normal' },
}

/** Devices a member keeps; subscribing one more replaces the oldest (bounds the fan-out of one notification). */
const MAX_DEVICES = 10
/** What notify returns when there is nothing to send. */
const DONE = Promise.resolve()

export interface PushMessage {
  title: string
  body: string
  url: string
  tag?: string
}
export interface VapidKeys {
  publicKey: string
  privateKey: string
}

const SETTINGS_KEY = 'vapid_keys'

export class PushService implements PushApi {
  readonly store: PushStore
  readonly keys: VapidKeys
  /** Sends that reached a push service (counted for /metrics). */
  sent = 0
  failed = 0
  /** Test notifications a member may ask for: 5, then one every 12 s. */
  readonly testLimit: RateLimiter
  private inFlight = 0
  private queue: (() => void)[] = []

  constructor(
    private core: Core,
    private accounts: AccountsApi,
  ) {
    this.store = new PushStore(core.db)
    this.testLimit = core.limiter('push-test', 5, 1 / 12)
    this.keys = PushService.loadKeys(core)
  }

  /** The VAPID key pair: made on first run and kept in the database (DATA_DIR), so subscriptions survive restarts. */
  static loadKeys(core: Core): VapidKeys {
    const raw = core.settings.raw(SETTINGS_KEY)
    if (raw) return JSON.parse(raw) as VapidKeys
    const keys = webpush.generateVAPIDKeys()
    core.settings.setRaw(SETTINGS_KEY, JSON.stringify(keys))
    core.log.info('push: VAPID keys created')
    return keys
  }

  async subscribe(
    userId: number,
    sub: { endpoint: string; keys: { p256dh: string; auth: string } },
    userAgent: string,
  ) {
    let u: URL
    try {
      u = new URL(sub.endpoint)
    } catch {
      fail('validation', 'endpoint: expected a URL')
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && this.core.config.pushAllowHttp))
      fail('validation', 'endpoint: a push service URL must use https')
    // A name that does not resolve now is taken (push services are sometimes briefly unreachable) and checked again
    // at each send; one that resolves to anything but public unicast addresses is refused.
    const checked = this.core.config.pushAllowHttp ? null : await checkHost(u.hostname)
    if (checked && !checked.ok && checked.why === 'not_public')
      fail('validation', 'endpoint: a push service must be on the public internet')
    const p256dh = Buffer.from(sub.keys.p256dh, 'base64url')
    const auth = Buffer.from(sub.keys.auth, 'base64url')
    if (p256dh.length !== 65 || p256dh[0] !== 4)
      fail('validation', 'keys.p256dh: expected an uncompressed P-256 public key')
    if (auth.length !== 16) fail('validation', 'keys.auth: expected 16 bytes')
    this.core.db.transaction(() => {
      // An endpoint is one device of one member. The same device (the same keys, which only the browser and we know)
      // may change hands: whoever subscribed last gets it, the previous member no longer. Someone who knows only the
      // endpoint URL cannot take it over.
      const held = this.store.byEndpoint(sub.endpoint)
      if (held && held.user_id !== userId) {
        if (held.p256dh !== sub.keys.p256dh || held.auth !== sub.keys.auth) fail('push_endpoint_taken')
        this.store.removeId(held.id)
      }
      this.store.upsert(userId, sub.endpoint, sub.keys.p256dh, sub.keys.auth, userAgent.slice(0, 200))
      const subs = this.store.byUser(userId)
      for (const old of subs.slice(0, Math.max(0, subs.length - MAX_DEVICES))) this.store.removeId(old.id)
    })()
  }

  unsubscribe(userId: number, endpoint: string) {
    return this.store.remove(userId, endpoint)
  }

  settings(userId: number): Record<PushKind, boolean> {
    const out = Object.fromEntries(PUSH_KINDS.map((k) => [k, true])) as Record<PushKind, boolean>
    for (const p of this.store.prefs(userId)) out[p.kind] = p.enabled === 1
    return out
  }

  updateSettings(userId: number, patch: Partial<Record<PushKind, boolean>>) {
    this.core.db.transaction(() => {
      for (const k of PUSH_KINDS) if (typeof patch[k] === 'boolean') this.store.setPref(userId, k, patch[k]!)
    })()
    return this.settings(userId)
  }

  devices(userId: number) {
    return this.store.byUser(userId).map((s) => ({
      id: s.id,
      endpointHost: new URL(s.endpoint).host,
      userAgent: s.user_agent,
      createdAt: s.created_at,
      lastUsedAt: s.last_used_at,
    }))
  }

  /** PushApi: sends to each of the member's devices unless they turned this kind off. Never throws. */
  notify(userId: number, kind: PushKind, message: PushMessage): Promise<void> {
    // A member with no device costs nothing more (most of a message's recipients).
    return this.store.mayHaveDevices(userId) ? this.notifyDevices(userId, kind, message) : DONE
  }

  private async notifyDevices(userId: number, kind: PushKind, message: PushMessage): Promise<void> {
    try {
      const user = this.accounts.byId(userId)
      if (user?.status !== 'active') return
      if (!this.store.enabled(userId, kind)) return
      await this.sendAll(userId, kind, message)
    } catch (e) {
      this.core.log.error('push: notify failed', { userId, kind, error: e })
    }
  }

  /** PushApi: a banned member's devices are forgotten. */
  removeDevices(userId: number) {
    this.store.removeUser(userId)
  }

  /** PushApi: for /metrics. */
  stats() {
    return { subscriptions: this.store.count(), sent: this.sent, failed: this.failed }
  }

  /** A test notification to all of my devices (the settings screen's button); ignores the settings. */
  test(userId: number) {
    return this.sendAll(userId, 'test', {
      title: 'Townhall',
      body: 'Notifications work on this device.',
      url: '/settings/notifications',
      tag: 'test',
    })
  }

  private async sendAll(userId: number, kind: PushKind | 'test', m: PushMessage) {
    const subs = this.store.byUser(userId)
    const payload = JSON.stringify({
      kind,
      title: m.title.slice(0, 120),
      body: m.body.slice(0, 400),
      url: m.url.startsWith('/') && !m.url.startsWith('//') ? m.url : '/',
      tag: m.tag?.slice(0, 64),
    })
    const results = await Promise.all(subs.map((s) => this.send(s, payload, DELIVERY[kind])))
    return results.filter(Boolean).length
  }

  /** One signed, encrypted POST to a push service. 404/410: the subscription is gone and is dropped. */
  private async send(
    s: SubscriptionRow,
    payload: string,
    d: { ttl: number; urgency: 'normal' | 'high' },
  ): Promise<boolean> {
    if (this.inFlight >= MAX_IN_FLIGHT) await new Promise<void>((go) => this.queue.push(go))
    this.inFlight++
    try {
      return await this.post(s, payload, d)
    } finally {
      this.inFlight--
      this.queue.shift()?.()
    }
  }

  private async post(
    s: SubscriptionRow,
    payload: string,
    d: { ttl: number; urgency: 'normal' | 'high' },
  ): Promise<boolean> {
    try {
      // Checked again at each send (a name may have been pointed into our network since it was subscribed), and the
      // POST goes to the address checked: no second lookup for a rebinding DNS server to answer differently.
      const host = new URL(s.endpoint).hostname
      const checked = this.core.config.pushAllowHttp ? null : await checkHost(host)
      if (checked && !checked.ok) {
        this.failed++
        this.core.log.warn('push: endpoint is not a public address; not sent', { host, why: checked.why })
        return false
      }
      const req = webpush.generateRequestDetails(
        { endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } },
        payload,
        {
          vapidDetails: { subject: this.core.config.vapidSubject, ...this.keys },
          TTL: d.ttl,
          urgency: d.urgency,
          contentEncoding: 'aes128gcm',
        },
      )
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]))
      const status = await pinnedPost(req.endpoint, {
        headers,
        body: req.body ? new Uint8Array(req.body) : undefined,
        timeoutMs: SEND_TIMEOUT_MS,
        pinned: checked ?? undefined,
      })
      if (status === 404 || status === 410) {
        this.store.removeId(s.id)
        this.core.log.info('push: dropped an expired subscription', { userId: s.user_id, status })
        return false
      }
      if (status < 200 || status >= 300) {
        this.failed++
        this.core.log.warn('push: push service refused', { status, host: new URL(s.endpoint).host })
        return false
      }
      this.store.used(s.id)
      this.sent++
      return true
    } catch (e) {
      this.failed++
      this.core.log.warn('push: send failed', { host: new URL(s.endpoint).host, error: (e as Error).message })
      return false
    }
  }
}
