// The scheduled rooms' reminders, each sent once (the push domain's own table, keyed by room, lead and start time:
// a restart never sends one twice, nor do two nodes running it at once, and a new start time reminds again):
// - 10 minutes before: the host, their followers and those who said yes ("Remind me"), never who said no;
// - at the start (until START_LATE_MS after it, the room scheduled or already live): those who said yes and the host.
// It reads the rooms through RoomsApi (passed in), so app.ts builds it after the rooms, and tells the rooms what went
// out (announceReminder: the in-app reminder and RoomsApi's eventReminder).
import type { AccountsApi, PushApi, RoomsApi, RoomSummary } from '../contracts'
import type { Core } from '../core'
import type { PushStore } from './store'

const REMINDER_LEAD_MS = 10 * 60_000
/** How late the reminder at the start may still go out (a server that was down at the start). */
const START_LATE_MS = 15 * 60_000
const REMINDER_EVERY_MS = 15_000

export type ReminderRooms = Pick<RoomsApi, 'scheduledBetween' | 'startingBetween' | 'rsvps' | 'announceReminder'>

export interface RemindersDeps {
  core: Core
  accounts: AccountsApi
  push: PushApi
  /** The push domain's store: which reminders were sent already. */
  store: PushStore
  rooms: ReminderRooms
}

export class Reminders {
  private timer: ReturnType<typeof setInterval> | null = null
  constructor(private deps: RemindersDeps) {}

  /** Sends the reminders due at `now`; returns how many rooms were reminded. */
  async run(now = Date.now()) {
    const { rooms, store } = this.deps
    const sends: Promise<void>[] = []
    let n = 0
    for (const r of rooms.scheduledBetween(now, now + REMINDER_LEAD_MS)) {
      if (r.state !== 'scheduled' || r.startsAt === null || !(await store.markReminded(r.id, 'soon', r.startsAt)))
        continue
      const { yes, no } = rooms.rsvps(r.id)
      const declined = new Set(no)
      const who = [r.hostId, ...this.deps.accounts.followers(r.hostId).map((u) => u.id), ...yes]
      sends.push(
        this.remind(
          r,
          'soon',
          [...new Set(who)].filter((id) => !declined.has(id)),
          now,
        ),
      )
      n++
    }
    for (const r of rooms.startingBetween(now - START_LATE_MS, now + 1)) {
      if (r.startsAt === null || !(await store.markReminded(r.id, 'start', r.startsAt))) continue
      sends.push(this.remind(r, 'start', [...new Set([r.hostId, ...rooms.rsvps(r.id).yes])], now))
      n++
    }
    await Promise.all(sends)
    return n
  }

  private async remind(r: RoomSummary, lead: 'soon' | 'start', userIds: number[], now: number) {
    const host = this.deps.accounts.byId(r.hostId)
    const by = host ? ` · hosted by @${host.username}` : ''
    const mins = Math.max(1, Math.round(((r.startsAt ?? now) - now) / 60_000))
    const when =
      lead === 'soon'
        ? `Starts in ${mins} minute${mins === 1 ? '' : 's'}`
        : r.state === 'live'
          ? 'Live now'
          : 'Starts now'
    const msg = { title: r.title, body: when + by, url: `/rooms/${r.id}`, tag: `room-${r.id}` }
    this.deps.rooms.announceReminder({ roomId: r.id, lead, userIds })
    await Promise.all(userIds.map((id) => this.deps.push.notify(id, 'room_reminder', msg)))
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
