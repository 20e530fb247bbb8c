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
  /** How many days replays are kept after they are ready (0: forever; RP64). */
  replayKeepDays: number
}

const DEFAULT_MAX_VIDEO_MB = 50

export class SettingsService {
  private cache: Settings
  private get$
  private set$

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
    this.cache = { ...this.cache, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) }
  }

  /** Raw key/value for other domains' own state (e.g. VAPID keys). */
  raw(key: string): string | null {
    return this.get$.get(key)?.value ?? null
  }
  setRaw(key: string, value: string) {
    this.set$.run(key, value)
  }
}
