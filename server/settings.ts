import type { Database } from 'bun:sqlite'
import type { Config } from './config'

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

export class SettingsService {
  private cache: Settings
  private get$
  private set$
  private listeners: ((now: Readonly<Settings>, before: Readonly<Settings>) => void)[] = []

  constructor(
    private db: Database,
    config: Config,
  ) {
    this.get$ = db.prepare<{ value: string }, [string]>('SELECT value FROM settings WHERE key = ?')
    this.set$ = db.prepare<never, [string, string]>(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    )
    const defaults: Settings = {
      registration: config.registration,
      inviteQuota: config.inviteQuota,
      guests: config.guests,
      turnUrls: config.turnUrls,
      maxVideoMb: DEFAULT_MAX_VIDEO_MB,
      recording: true,
      replayKeepDays: 0,
    }
    this.cache = { ...defaults }
    for (const key of Object.keys(defaults) as (keyof Settings)[]) {
      const row = this.get$.get(key)
      if (row) (this.cache as any)[key] = JSON.parse(row.value)
    }
  }

  get(): Readonly<Settings> {
    return this.cache
  }

  update(patch: Partial<Settings>) {
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(patch)) if (v !== undefined) this.set$.run(k, JSON.stringify(v))
    })()
    const before = this.cache
    this.cache = { ...this.cache, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) }
    for (const fn of this.listeners) fn(this.cache, before)
  }

  /** Called after every update (committed), with the settings now and before. */
  onChange(fn: (now: Readonly<Settings>, before: Readonly<Settings>) => void) {
    this.listeners.push(fn)
  }

  /** Raw key/value for other domains' own state (e.g. VAPID keys). */
  raw(key: string): string | null {
    return this.get$.get(key)?.value ?? null
  }
  setRaw(key: string, value: string) {
    this.set$.run(key, value)
  }
}
