// Server settings an admin changes at run time (the `settings` table: JSON values by key; the config gives their
// defaults) and other domains' raw values kept there (the VAPID keys). The store is asynchronous (SettingsStore in
// store.ts, on SQLite, and store-pg.ts on Postgres: docs/ARCHITECTURE.md, "Stores"); the settings themselves are
// read on every request, so SettingsService keeps them in memory: loaded once at start (`load()`), read synchronously
// (`get()`), written through the store and then cached. With several nodes (REDIS_URL) a change on one node reaches
// the others through `shareSettings`: they load again.
import type { Config } from '../config'
import type { Logger } from '../lib/log'
import type { SettingsStore } from './store'

export { SqliteSettingsStore } from './store'

/** Server settings an admin can change at run time; the config gives their defaults. */
export interface Settings {
  registration: 'invite' | 'open' | 'closed'
  inviteQuota: number
  guests: boolean
  turnUrls: string[]
  /** The largest video a member may send in Backchannel, in MB. */
  maxVideoMb: number
  /** Whether hosts may record rooms (RP1); turning it off stops every recording in progress (RP3). */
  recording: boolean
  /** How many days replays are kept after they are ready (0: forever; RP64). */
  replayKeepDays: number
}

const DEFAULT_MAX_VIDEO_MB = 50

type Listener = (now: Readonly<Settings>, before: Readonly<Settings>) => void

export class SettingsService {
  private cache: Settings | null = null
  private readonly defaults: Settings
  private listeners: Listener[] = []
  /** Told after every update this node commits (shareSettings: the other nodes load again). */
  private committed: (() => void)[] = []

  constructor(
    private store: SettingsStore,
    config: Config,
  ) {
    this.defaults = {
      registration: config.registration,
      inviteQuota: config.inviteQuota,
      guests: config.guests,
      turnUrls: config.turnUrls,
      maxVideoMb: DEFAULT_MAX_VIDEO_MB,
      recording: true,
      replayKeepDays: 0,
    }
  }

  /**
   * Reads the settings from the store into the cache (at start, and on another node's change). The listeners hear
   * of what changed since the last load, as after an update.
   */
  async load() {
    const rows = new Map((await this.store.all()).map((r) => [r.key, r.value]))
    const next: Settings = { ...this.defaults }
    for (const key of Object.keys(this.defaults) as (keyof Settings)[]) {
      const value = rows.get(key)
      if (value !== undefined) (next as unknown as Record<string, unknown>)[key] = JSON.parse(value)
    }
    const before = this.cache
    this.cache = next
    if (before && JSON.stringify(before) !== JSON.stringify(next)) this.tell(next, before)
  }

  /** The settings now (from memory: `load()` must have run). */
  get(): Readonly<Settings> {
    if (!this.cache) throw new Error('settings: read before load()')
    return this.cache
  }

  /** Writes the given settings in one transaction, then caches them and tells the listeners (and the other nodes). */
  async update(patch: Partial<Settings>) {
    const entries = Object.entries(patch).filter(([, v]) => v !== undefined)
    await this.store.transaction(async (tx) => {
      for (const [k, v] of entries) await this.store.set(k, JSON.stringify(v), tx)
    })
    const before = this.get()
    this.cache = { ...before, ...Object.fromEntries(entries) }
    this.tell(this.cache, before)
    for (const fn of this.committed) fn()
  }

  private tell(now: Readonly<Settings>, before: Readonly<Settings>) {
    for (const fn of this.listeners) fn(now, before)
  }

  /** Called after every change (committed, here or on another node), with the settings now and before. */
  onChange(fn: Listener) {
    this.listeners.push(fn)
  }

  /** After every update committed on this node (not after a load). */
  onCommit(fn: () => void) {
    this.committed.push(fn)
  }

  /** Raw key/value for other domains' own state (e.g. VAPID keys), read from the store (not cached). */
  raw(key: string): Promise<string | null> {
    return this.store.get(key)
  }

  /**
   * The raw value of a key, written first if it has none: whoever writes first wins (two nodes starting together
   * agree on one value), and every caller gets the value kept.
   */
  async rawOrSet(key: string, make: () => string): Promise<string> {
    const held = await this.store.get(key)
    if (held !== null) return held
    await this.store.setIfAbsent(key, make())
    return (await this.store.get(key))!
  }
}

/** The part of a cluster's Redis link that settings and push devices are shared through (app.ts: RedisNode). */
export interface ClusterLink {
  readonly cmd: { publish(channel: string, message: string): Promise<number> }
  readonly sub: { subscribe(channel: string, fn: (message: string) => void): Promise<unknown> }
  key(name: string): string
  onReconnect(fn: () => Promise<void>): void
}

/**
 * Several nodes: an update committed on one node is published on `<prefix>settings` (the node's id), and every other
 * node loads the settings again when it hears it (its listeners run as for its own update). After a lost connection
 * a node subscribes and loads again (it may have missed a change). Call after the node started and before `load()`.
 */
export async function shareSettings(settings: SettingsService, node: ClusterLink, nodeId: string, log: Logger) {
  const channel = node.key('settings')
  const reload = () =>
    settings.load().catch((e) => log.error('settings: loading after a change on another node failed', { error: e }))
  const onMessage = (from: string) => {
    if (from !== nodeId) void reload()
  }
  await node.sub.subscribe(channel, onMessage)
  node.onReconnect(async () => {
    await node.sub.subscribe(channel, onMessage)
    await reload()
  })
  settings.onCommit(() => {
    node.cmd.publish(channel, nodeId).catch((e) => log.error('settings: telling the other nodes failed', { error: e }))
  })
}
