// The hallway: the live and upcoming rooms a viewer may join, rooms with people they follow on stage first,
// then by size; and a coalesced "hallway changed" notice on the hallway topic so open hallways refresh.
import type { AccountsApi } from '../contracts'
import type { HallwayRoom, PublicUser } from '../protocol'
import { HALLWAY_TOPIC, type Bus, type RoomRegistry } from '../realtime/bus'
import { roomView, type RoomRow } from './model'
import type { RoomsService } from './service'
import { HALLWAY_THROTTLE_MS, onStage, type RoomSession } from './session'

/** Speakers' avatars shown on a hallway card. */
const CARD_SPEAKERS = 6
/** Scheduled rooms stay listed this long after their planned start if nobody started them. */
const UPCOMING_STALE_MS = 6 * 3600_000
const NO_RSVP = { going: 0, people: [], mine: null }
/** Who a card shows for a host whose account is gone. */
const UNKNOWN: PublicUser = { id: 0, username: 'unknown', displayName: 'Unknown', avatar: null, role: 'member' }

/**
 * What a live room's hallway card shows of its session, as the node holding the room publishes it for every node's
 * hallway (core.registry.setCard): the stage (first the host, then by seniority), the counts, whether it is full.
 */
export interface LiveCard {
  speakers: PublicUser[]
  speakerCount: number
  listenerCount: number
  /** Everyone on stage by user id (whom the viewer follows is the viewer's, counted by the reading node). */
  stage: number[]
  full: boolean
}

export function liveCard(session: RoomSession | null): LiveCard {
  const seats = [...(session?.seats.values() ?? [])]
  const stage = seats
    .filter((s) => s.userId !== null && onStage(s.role))
    .sort((a, b) => (b.role === 'host' ? 1 : 0) - (a.role === 'host' ? 1 : 0) || a.since - b.since)
  return {
    speakers: stage.slice(0, CARD_SPEAKERS).map((s) => s.user!),
    speakerCount: stage.length,
    listenerCount: seats.length - stage.length,
    stage: stage.map((s) => s.userId!),
    full: session?.audioFull ?? false,
  }
}

/**
 * The "hallway changed" notice: one `hallway.changed` per interval however many changes happened in it. With
 * several nodes, `before` first publishes this node's cards (so the other nodes read them when they hear the notice).
 */
export class HallwayFeed {
  private timer: ReturnType<typeof setTimeout> | null = null
  private closed = false

  constructor(
    private bus: Bus,
    private before?: () => Promise<void>,
  ) {}

  changed() {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = null
      const publish = () => {
        if (!this.closed) this.bus.publish(HALLWAY_TOPIC, { type: 'hallway.changed' })
      }
      if (this.before) void this.before().finally(publish)
      else publish()
    }, HALLWAY_THROTTLE_MS)
  }

  close() {
    this.closed = true
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
  }
}

export class Hallway {
  constructor(
    private accounts: AccountsApi,
    private rooms: RoomsService,
    /** Several nodes: the live rooms are those some node holds, with the cards their holders published. */
    private registry: RoomRegistry | null = null,
  ) {}

  async list(viewerId: number | null): Promise<{ live: HallwayRoom[]; upcoming: HallwayRoom[] }> {
    const cards = this.registry
      ? new Map((await this.registry.hallway()).map((c) => [c.roomId, c.card as LiveCard]))
      : null
    const store = this.rooms.store
    const rows = {
      live: await store.live(),
      upcoming: viewerId === null ? [] : await store.upcoming(Date.now() - UPCOMING_STALE_MS),
    }
    return this.build(viewerId, cards, rows)
  }

  private build(
    viewerId: number | null,
    cards: Map<number, LiveCard> | null,
    rows: { live: RoomRow[]; upcoming: RoomRow[] },
  ): { live: HallwayRoom[]; upcoming: HallwayRoom[] } {
    const following = viewerId === null ? new Set<number>() : this.accounts.followingIds(viewerId)
    const users = new Map<number, PublicUser>()
    const user = (id: number) => {
      let u = users.get(id)
      if (!u) {
        u = this.accounts.publicUser(id) ?? { ...UNKNOWN, id }
        users.set(id, u)
      }
      return u
    }
    const visible = (r: RoomRow) => this.rooms.access.joinRefusal(r, viewerId) === null
    // Live rooms take no answers: their cards carry no RSVPs (no query per live card).
    const event = (r: RoomRow) => ({
      cohosts: this.rooms.schedule.cohostIds(r.id).map(user),
      rsvp: r.state === 'scheduled' ? this.rooms.schedule.rsvpView(r, viewerId, following) : NO_RSVP,
    })
    // A room held here is read from its session; one held by another node from the card it published; with several
    // nodes, a room the database says is live but that no node holds (its node died) is not listed.
    const live = rows.live
      .filter(visible)
      .flatMap((r) => {
        const session = this.rooms.session(r.id)
        const card = session || !cards ? liveCard(session) : cards.get(r.id)
        if (!card) return []
        const { stage, ...shown } = card
        return [
          {
            ...roomView(r),
            host: user(r.host_id),
            ...shown,
            followedOnStage: stage.filter((id) => following.has(id)).length,
            ...event(r),
          },
        ]
      })
      .sort(
        (a, b) =>
          Number(b.followedOnStage > 0) - Number(a.followedOnStage > 0) ||
          b.speakerCount + b.listenerCount - (a.speakerCount + a.listenerCount) ||
          b.id - a.id,
      )
    const upcoming = rows.upcoming.filter(visible).map((r) => ({
      ...roomView(r),
      host: user(r.host_id),
      speakers: [user(r.host_id)],
      speakerCount: 0,
      listenerCount: 0,
      followedOnStage: following.has(r.host_id) ? 1 : 0,
      ...event(r),
      full: false,
    }))
    return { live, upcoming }
  }
}
