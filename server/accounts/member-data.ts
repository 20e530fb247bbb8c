// A member's own data: what their export holds of the accounts domain (profile, follows both ways, blocks), and the
// erasure of their account. An erased account stays as a row (rooms, invites and messages point at it) but holds
// nothing of the person: username `deleted_<id>`, display name "Deleted member", no bio, avatar or usable password,
// status banned (never signs in, never shown as a profile), no sessions, follows or blocks.
import type { Database } from 'bun:sqlite'
import { newToken } from '../lib/crypto'

const statements = (db: Database) => ({
  profile: db.prepare<
    {
      username: string
      display_name: string
      bio: string
      avatar: string | null
      role: string
      created_at: number
      invited_by: string | null
    },
    [number]
  >(
    `SELECT u.username, u.display_name, u.bio, u.avatar, u.role, u.created_at, i.username AS invited_by
     FROM users u LEFT JOIN users i ON i.id = u.invited_by WHERE u.id = ?`,
  ),
  following: db.prepare<{ username: string; created_at: number }, [number]>(
    `SELECT u.username, f.created_at FROM follows f JOIN users u ON u.id = f.followee_id
     WHERE f.follower_id = ? ORDER BY f.created_at`,
  ),
  followers: db.prepare<{ username: string; created_at: number }, [number]>(
    `SELECT u.username, f.created_at FROM follows f JOIN users u ON u.id = f.follower_id
     WHERE f.followee_id = ? ORDER BY f.created_at`,
  ),
  blocking: db.prepare<{ username: string; created_at: number }, [number]>(
    `SELECT u.username, b.created_at FROM blocks b JOIN users u ON u.id = b.blocked_id
     WHERE b.blocker_id = ? ORDER BY b.created_at`,
  ),
  erase: db.prepare<never, [string, string, number]>(
    `UPDATE users SET username = ?, display_name = 'Deleted member', bio = '', avatar = NULL, password_hash = ?,
       role = 'member', status = 'banned', invite_quota = 0 WHERE id = ?`,
  ),
  dropSessions: db.prepare<never, [number]>('DELETE FROM sessions WHERE user_id = ?'),
  dropFollows: db.prepare<never, [number, number]>('DELETE FROM follows WHERE follower_id = ? OR followee_id = ?'),
  dropBlocks: db.prepare<never, [number, number]>('DELETE FROM blocks WHERE blocker_id = ? OR blocked_id = ?'),
})

export class AccountData {
  private q: ReturnType<typeof statements>
  constructor(private db: Database) {
    this.q = statements(db)
  }

  /** The accounts part of a member's export. */
  exportOf(userId: number) {
    const p = this.q.profile.get(userId)
    if (!p) return null
    const names = (rows: { username: string; created_at: number }[]) =>
      rows.map((r) => ({ username: r.username, since: new Date(r.created_at).toISOString() }))
    return {
      avatar: p.avatar,
      profile: {
        username: p.username,
        displayName: p.display_name,
        bio: p.bio,
        role: p.role,
        joined: new Date(p.created_at).toISOString(),
        invitedBy: p.invited_by,
      },
      following: names(this.q.following.all(userId)),
      followers: names(this.q.followers.all(userId)),
      blocking: names(this.q.blocking.all(userId)),
    }
  }

  /** Erases the person from the account (one transaction); returns the avatar file to remove, if any. */
  async erase(userId: number): Promise<string | null> {
    // A valid argon2id hash of a secret nobody has: no password ever matches it.
    const unusable = await Bun.password.hash(newToken(), { algorithm: 'argon2id' })
    const avatar = this.q.profile.get(userId)?.avatar ?? null
    this.db.transaction(() => {
      this.q.erase.run(`deleted_${userId}`, unusable, userId)
      this.q.dropSessions.run(userId)
      this.q.dropFollows.run(userId, userId)
      this.q.dropBlocks.run(userId, userId)
    })()
    return avatar
  }
}
