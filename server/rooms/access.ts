// Who may join a room and who may see it: open → every member; social → members a moderator follows; closed → the
// invited; co-hosts always; never someone a moderator blocked or who was removed; guests only open rooms, when allowed.
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import type { ErrorCode } from '../errors'
import type { RoomRow } from './model'
import { isModerator, type Seat } from './session'
import type { RoomsDirectory } from './directory'

export class RoomAccess {
  constructor(
    private deps: { core: Core; accounts: AccountsApi },
    private store: RoomsDirectory,
    private seats: (roomId: number) => Iterable<Seat>,
  ) {}

  /** The creator and co-hosts: they join as moderators and may start a scheduled room. */
  isHostly(room: RoomRow, userId: number) {
    return room.creator_id === userId || this.store.person(room.id, userId) === 'cohost'
  }

  /** The host, co-hosts and the moderators on stage now. */
  moderatorIds(room: RoomRow): number[] {
    const ids = new Set([room.creator_id, room.host_id])
    for (const p of this.store.people(room.id)) if (p.kind === 'cohost') ids.add(p.user_id)
    for (const s of this.seats(room.id)) if (s.userId && isModerator(s.role)) ids.add(s.userId)
    return [...ids]
  }

  /** Why a member (or a guest: null) may not join a room, or null when they may. Ignores the room's state. */
  joinRefusal(room: RoomRow, userId: number | null): ErrorCode | null {
    if (userId === null) return this.deps.core.settings.get().guests && room.kind === 'open' ? null : 'room_sign_in'
    if (this.store.isRemoved(room.id, userId)) return 'removed_from_room'
    const mods = this.moderatorIds(room)
    if (mods.includes(userId)) return null
    const a = this.deps.accounts
    if (mods.some((m) => a.hasBlocked(m, userId))) return 'blocked'
    if (room.kind === 'open') return null
    if (room.kind === 'social') return mods.some((m) => a.isFollowing(m, userId)) ? null : 'room_followers_only'
    return this.store.person(room.id, userId) ? null : 'room_invite_only'
  }

  /** Whether someone may see a room at all (its page): those who may join, who were in it, or who were removed. */
  mayKnow(room: RoomRow, userId: number | null) {
    if (userId !== null && this.store.wasParticipant(room.id, userId)) return true
    const refusal = this.joinRefusal(room, userId)
    return refusal === null || refusal === 'removed_from_room'
  }
}
