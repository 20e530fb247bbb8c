// Web Push (VAPID, aes128gcm): the server's keys, each member's device subscriptions and settings, and sending.
// web-push builds the signed, encrypted request; we send it with fetch. (The 10-minute reminder for scheduled rooms
// is reminders.ts.)
import webpush from 'web-push'
import type { AccountsApi, PushApi, PushKind } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import type { Logger } from '../lib/log'
import type { RateLimiter } from '../lib/ratelimit'
import type { ClusterLink } from '../settings'
import { checkHost, pinnedPost } from './address'
import type { PushStore, SubscriptionRow } from './store'

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

/**
 * Several nodes: a device subscribed on one node is published on `<prefix>push-devices` (the member's id), and every
 * other node counts the member among those who may have a device. After a lost connection a node subscribes and
 * reads who has a device again (it may have missed some). Call after the node started and before the push domain
 * starts.
 */
export async function sharePushDevices(push: PushService, node: ClusterLink, log: Logger) {
  const channel = node.key('push-devices')
  const onMessage = (m: string) => {
    const userId = Number(m)
    if (Number.isSafeInteger(userId) && userId > 0) push.deviceAdded(userId)
  }
  await node.sub.subscribe(channel, onMessage)
  node.onReconnect(async () => {
    await node.sub.subscribe(channel, onMessage)
    await push.loadDevices()
  })
  push.share((userId) => {
    node.cmd
      .publish(channel, String(userId))
      .catch((e) => log.error('push: telling the other nodes failed', { error: e }))
  })
}

export class PushService implements PushApi {
  private _keys: VapidKeys | null = null
  /**
   * Members who may have a device: everyone with one at start and everyone subscribed since (here, or on another
   * node: `deviceAdded`); a member found with none leaves it. A notification to anyone else costs no query (a
   * message's recipients, most of whom have no device). Kept in memory: `notify` stays a cheap synchronous check.
   */
  private withDevices = new Set<number>()
  /** Several nodes: tells the others a member subscribed a device (sharePushDevices). */
  private published: ((userId: number) => void) | null = null
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
    readonly store: PushStore,
  ) {
    this.testLimit = core.limiter('push-test', 5, 1 / 12)
  }

  /** At start: the VAPID keys and who has a device. */
  async start() {
    this._keys = await PushService.loadKeys(this.core)
    await this.loadDevices()
  }

  /** Who has a device, from the store (at start, and after a lost link to the other nodes). */
  async loadDevices() {
    this.withDevices = new Set(await this.store.usersWithDevices())
  }

  /** The VAPID key pair (loaded by start()). */
  get keys(): VapidKeys {
    if (!this._keys) throw new Error('push: the VAPID keys are read before start()')
    return this._keys
  }

  /**
   * The VAPID key pair: made on first run and kept in the database (DATA_DIR), so subscriptions survive restarts. Two
   * nodes starting together on a new database keep the first one written.
   */
  static async loadKeys(core: Core): Promise<VapidKeys> {
    let made = false
    const raw = await core.settings.rawOrSet(SETTINGS_KEY, () => {
      made = true
      return JSON.stringify(webpush.generateVAPIDKeys())
    })
    if (made) core.log.info('push: VAPID keys created')
    return JSON.parse(raw) as VapidKeys
  }

  /** Several nodes: subscriptions on this node are told to the others (sharePushDevices). */
  share(publish: (userId: number) => void) {
    this.published = publish
  }

  /** Another node says a member subscribed a device. */
  deviceAdded(userId: number) {
    this.withDevices.add(userId)
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
    const { store } = this
    await store.transaction(async (tx) => {
      // An endpoint is one device of one member. The same device (the same keys, which only the browser and we know)
      // may change hands: whoever subscribed last gets it, the previous member no longer. Someone who knows only the
      // endpoint URL cannot take it over.
      const { endpoint, keys } = sub
      const row = { userId, endpoint, p256dh: keys.p256dh, auth: keys.auth, userAgent: userAgent.slice(0, 200) }
      if ((await store.upsert(row, tx)) === null) fail('push_endpoint_taken')
      const subs = await store.byUser(userId, tx)
      for (const old of subs.slice(0, Math.max(0, subs.length - MAX_DEVICES))) await store.removeId(old.id, tx)
    })
    // Again once committed: a send that found no device meanwhile (before the commit) took the member out.
    this.withDevices.add(userId)
    this.published?.(userId)
  }

  unsubscribe(userId: number, endpoint: string) {
    return this.store.remove(userId, endpoint)
  }

  async settings(userId: number): Promise<Record<PushKind, boolean>> {
    const out = Object.fromEntries(PUSH_KINDS.map((k) => [k, true])) as Record<PushKind, boolean>
    for (const p of await this.store.prefs(userId)) out[p.kind] = p.enabled
    return out
  }

  async updateSettings(userId: number, patch: Partial<Record<PushKind, boolean>>) {
    await this.store.transaction(async (tx) => {
      for (const k of PUSH_KINDS) if (typeof patch[k] === 'boolean') await this.store.setPref(userId, k, patch[k]!, tx)
    })
    return this.settings(userId)
  }

  async devices(userId: number) {
    return (await this.store.byUser(userId)).map((s) => ({
      id: s.id,
      endpointHost: new URL(s.endpoint).host,
      userAgent: s.user_agent,
      createdAt: s.created_at,
      lastUsedAt: s.last_used_at,
    }))
  }

  /** PushApi: whether notify() has a device of the member to send to. */
  hasDevice(userId: number): boolean {
    return this.withDevices.has(userId)
  }

  /** PushApi: sends to each of the member's devices unless they turned this kind off. Never throws. */
  notify(userId: number, kind: PushKind, message: PushMessage): Promise<void> {
    // A member with no device costs nothing more (most of a message's recipients).
    return this.withDevices.has(userId) ? this.notifyDevices(userId, kind, message) : DONE
  }

  private async notifyDevices(userId: number, kind: PushKind, message: PushMessage): Promise<void> {
    try {
      const user = this.accounts.byId(userId)
      if (user?.status !== 'active') return
      if (!(await this.store.enabled(userId, kind))) return
      await this.sendAll(userId, kind, message)
    } catch (e) {
      this.core.log.error('push: notify failed', { userId, kind, error: e })
    }
  }

  /** PushApi: a banned member's devices are forgotten. */
  async removeDevices(userId: number) {
    await this.store.removeUser(userId)
    this.withDevices.delete(userId)
  }

  /** PushApi: for /metrics. */
  async stats() {
    return { subscriptions: await this.store.count(), sent: this.sent, failed: this.failed }
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
    const subs = await this.store.byUser(userId)
    if (!subs.length) this.withDevices.delete(userId)
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
        await this.store.removeId(s.id)
        this.core.log.info('push: dropped an expired subscription', { userId: s.user_id, status })
        return false
      }
      if (status < 200 || status >= 300) {
        this.failed++
        this.core.log.warn('push: push service refused', { status, host: new URL(s.endpoint).host })
        return false
      }
      await this.store.used(s.id)
      this.sent++
      return true
    } catch (e) {
      this.failed++
      this.core.log.warn('push: send failed', { host: new URL(s.endpoint).host, error: (e as Error).message })
      return false
    }
  }
}
