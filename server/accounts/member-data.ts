// A member's own data: what their export holds of the accounts domain (profile, follows both ways, blocks), and the
// erasure of their account. An erased account stays as a row (rooms, invites and messages point at it) but holds
// nothing of the person: username `deleted_<id>`, display name "Deleted member", no bio, avatar or usable password,
// status banned (never signs in, never shown as a profile), no sessions, follows or blocks.
import { newToken } from '../lib/crypto'
import type { AccountsStore, LinkedRow } from './store'

/** Everything a member has in a list is in their export. */
const ALL = 1_000_000_000

export class AccountData {
  constructor(private store: AccountsStore) {}

  /** The accounts part of a member's export. */
  async exportOf(userId: number) {
    const u = await this.store.byId(userId)
    if (!u) return null
    const by = u.invited_by === null ? null : await this.store.byId(u.invited_by)
    const [following, followers, blocking] = await Promise.all([
      this.store.following(userId, ALL),
      this.store.followers(userId, ALL),
      this.store.blocking(userId, ALL),
    ])
    // Oldest first.
    const names = (rows: LinkedRow[]) =>
      rows.reverse().map((r) => ({ username: r.username, since: new Date(r.since).toISOString() }))
    return {
      avatar: u.avatar,
      profile: {
        username: u.username,
        displayName: u.display_name,
        bio: u.bio,
        role: u.role as string,
        joined: new Date(u.created_at).toISOString(),
        invitedBy: by?.username ?? null,
      },
      following: names(following),
      followers: names(followers),
      blocking: names(blocking),
    }
  }

  /** Erases the person from the account (one transaction); returns the avatar file to remove, if any. */
  async erase(userId: number): Promise<string | null> {
    // A valid argon2id hash of a secret nobody has: no password ever matches it.
    const unusable = await Bun.password.hash(newToken(), { algorithm: 'argon2id' })
    return this.store.transaction(async (tx) => {
      const avatar = (await this.store.byId(userId, tx))?.avatar ?? null
      await this.store.eraseUser(userId, `deleted_${userId}`, unusable, tx)
      await this.store.deleteUserSessions(userId, null, tx)
      await this.store.dropEdges(userId, tx)
      return avatar
    })
  }
}
