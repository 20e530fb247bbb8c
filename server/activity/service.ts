// The activity inbox: items for a member, each from one cause (a follow, an invitation, a mention…), told live to
// every tab of theirs and pushed per their settings. One rule for every kind (add): never to oneself, never to a
// member who is not active, never between two people when either blocked the other, and once per cause.
import type { AccountsApi, PushApi, PushKind } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { ACTIVITY_PAGE, type ActivityItem, type ActivityKind, type Person } from '../protocol'
import type { ActivityRow, ActivityStore, NewActivity } from './store'

/**
 * What each kind pushes: null where another domain pushes it already (rooms push invitations to speak, rooms going
 * live and the changes and cancellations of scheduled rooms; the reminders push scheduled rooms), and for message
 * requests (B3: they push nothing).
 */
const PUSHED: Record<ActivityKind, PushKind | null> = {
  speak_invite: null,
  room_invite: 'activity',
  follower: 'activity',
  room_started: null,
  room_scheduled: 'activity',
  event_reminder: null,
  event_changed: null,
  event_cancelled: null,
  mention: 'activity',
  // A request sends no push (B3): a stranger's first message waits in Requests and in the inbox, silently.
  message_request: null,
  report_handled: 'activity',
  replay_ready: 'activity',
}

/** Items are kept this long. */
export const ACTIVITY_KEEP_MS = 90 * 86_400_000

export class ActivityService {
  constructor(
    private deps: { core: Core; accounts: AccountsApi; push: PushApi },
    readonly store: ActivityStore,
  ) {}

  /**
   * Adds an item for a member (after the change it describes committed). Returns it, or null when it is not due. The
   * member's tabs hear of it (with the unread count) once it is written.
   */
  async add(userId: number, a: NewActivity): Promise<ActivityItem | null> {
    const { accounts } = this.deps
    if (a.actorId === userId) return null
    if (accounts.byId(userId)?.status !== 'active') return null
    if (a.actorId !== null) {
      const actor = accounts.byId(a.actorId)
      if (!actor || actor.status === 'banned' || accounts.blockedEither(userId, a.actorId)) return null
    }
    const row = await this.store.insert(userId, a)
    if (!row) return null
    const item = this.items([row])[0]!
    const unread = await this.store.unread(userId)
    this.deps.core.bus.toUsers([userId], { type: 'activity.new', item, unread })
    const kind = PUSHED[a.kind]
    if (kind) {
      const title = item.actor ? `${item.actor.displayName} ${a.text}` : a.text
      this.deps.push
        .notify(userId, kind, { title, body: a.detail.slice(0, 140), url: a.url, tag: `activity:${row.id}` })
        .catch((error) => this.deps.core.log.warn('activity: push failed', { userId, error }))
    }
    return item
  }

  /**
   * `add` for callers that do not wait (other domains' events, ActivityApi): a failure is logged, never thrown into
   * them.
   */
  fire(userId: number, a: NewActivity) {
    this.add(userId, a).catch((error) =>
      this.deps.core.log.error('activity: adding an item failed', { userId, kind: a.kind, error }),
    )
  }

  async list(userId: number, before?: number, limit = ACTIVITY_PAGE) {
    const rows = await this.store.page(userId, before ?? Number.MAX_SAFE_INTEGER, limit)
    return { items: this.items(rows, userId), unread: await this.store.unread(userId) }
  }

  /** Marks one item or every item up to one read; every tab of the member hears of it. */
  async read(userId: number, m: { itemId?: number; upTo?: number }) {
    if (m.itemId === undefined && m.upTo === undefined) fail('activity_read_target')
    if (m.itemId !== undefined) {
      if (!(await this.store.byId(userId, m.itemId))) fail('activity_not_found')
      await this.store.readOne(userId, m.itemId)
    }
    if (m.upTo !== undefined) await this.store.readUpTo(userId, m.upTo)
    const unread = await this.store.unread(userId)
    this.deps.core.bus.toUsers([userId], {
      type: 'activity.read',
      itemId: m.itemId ?? null,
      upTo: m.upTo ?? null,
      unread,
    })
    return { unread }
  }

  /** Rows → wire items; for a reader, items from someone they have blocked since are left out. */
  private items(rows: ActivityRow[], readerId?: number): ActivityItem[] {
    const { accounts } = this.deps
    const actors = accounts.byIds(new Set(rows.flatMap((r) => (r.actor_id === null ? [] : [r.actor_id]))))
    return rows.flatMap((r) => {
      let actor: Person | null = null
      if (r.actor_id !== null) {
        const a = actors.get(r.actor_id)
        if (!a || a.status === 'banned') return []
        if (readerId !== undefined && accounts.hasBlocked(readerId, a.id)) return []
        actor = { id: a.id, username: a.username, displayName: a.displayName, avatar: a.avatar }
      }
      return [
        {
          id: r.id,
          kind: r.kind,
          actor,
          text: r.text,
          detail: r.detail,
          url: r.url,
          createdAt: r.created_at,
          read: r.read_at !== null,
        },
      ]
    })
  }
}
