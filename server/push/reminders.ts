// The 10-minute reminder of scheduled rooms, sent once per room to the host and their followers. It reads the rooms
// through `scheduledBetween` (RoomsApi, passed in), so app.ts builds it after the rooms; which rooms were reminded is
// the push domain's own table, so it stays a part of push.
import type { AccountsApi, PushApi, RoomSummary } from '../contracts'
import type { Core } from '../core'
import type { PushStore } from './store'

const REMINDER_LEAD_MS = 10 * 60_000
const REMINDER_EVERY_MS = 30_000

export interface RemindersDeps {
  core: Core
  accounts: AccountsApi
  push: PushApi
  /** The push domain's store: which rooms were reminded already. */
  store: PushStore
  /** Scheduled rooms whose start time falls in [from, to) (RoomsApi.scheduledBetween). */
  scheduledBetween(from: number, to: number): RoomSummary[]
}

export class Reminders {
  private timer: ReturnType<typeof setInterval> | null = null
  constructor(private deps: RemindersDeps) {}

  /** Reminds the host and their followers of each scheduled room starting within 10 minutes, once per room. */
  async run(now = Date.now()) {
    const { accounts, push, store } = this.deps
    const rooms = this.deps.scheduledBetween(now, now + REMINDER_LEAD_MS)
    const sends: Promise<void>[] = []
    for (const r of rooms) {
      if (r.state !== 'scheduled' || !store.markReminded(r.id)) continue
      const host = accounts.byId(r.hostId)
      const mins = Math.max(1, Math.round(((r.startsAt ?? now) - now) / 60_000))
      const msg = {
        title: r.title,
        body: `Starts in ${mins} minute${mins === 1 ? '' : 's'}${host ? ` · hosted by @${host.username}` : ''}`,
        url: `/rooms/${r.id}`,
        tag: `room-${r.id}`,
      }
      const who = new Set([r.hostId, ...accounts.followers(r.hostId).map((u) => u.id)])
      for (const id of who) sends.push(push.notify(id, 'room_reminder', msg))
    }
    await Promise.all(sends)
    return rooms.length
  }

  start() {
    this.timer = setInterval(() => {
      this.run().catch((e) => this.deps.core.log.error('push: reminders failed', { error: e }))
    }, REMINDER_EVERY_MS)
  }

  stop() {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
