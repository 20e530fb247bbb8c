import type { Database } from 'bun:sqlite'
import type { Role } from '../protocol'
import type { Status, UserRow } from './model'

interface MemberRow extends UserRow {
  inviter: string | null
  last_seen: number | null
}
interface SessionRow {
  id: number
  user_id: number
  token_hash: Uint8Array
  created_at: number
  last_seen_at: number
  expires_at: number
  user_agent: string
}

const statements = (db: Database) => ({
  insertUser: db.prepare<{ id: number }, [string, string, string, Role, number | null, number | null, number, number]>(
    `INSERT INTO users (username, display_name, password_hash, role, invited_by, invite_id, invite_quota, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  byId: db.prepare<UserRow, [number]>('SELECT * FROM users WHERE id = ?'),
  byName: db.prepare<UserRow, [string]>('SELECT * FROM users WHERE username = ?'),
  byIds: db.prepare<UserRow, [string]>('SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))'),
  usernames: db.prepare<{ id: number; username: string }, [string]>(
    'SELECT id, username FROM users WHERE id IN (SELECT value FROM json_each(?))',
  ),
  all: db.prepare<UserRow, []>('SELECT * FROM users ORDER BY id'),
  joinedWith: db.prepare<{ invite_id: number; username: string }, [string]>(
    'SELECT invite_id, username FROM users WHERE invite_id IN (SELECT value FROM json_each(?)) ORDER BY id',
  ),
  members: db.prepare<MemberRow, [string, string, number, number]>(
    `SELECT u.*, i.username AS inviter, (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
       FROM users u LEFT JOIN users i ON i.id = u.invited_by
       WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.display_name LIKE ?1 ESCAPE '\\')
         AND (?2 = 'all' OR u.status = ?2 OR (?2 = 'admin' AND u.role = 'admin'))
       ORDER BY u.id DESC LIMIT ?3 OFFSET ?4`,
  ),
  member: db.prepare<MemberRow, [number]>(
    `SELECT u.*, i.username AS inviter, (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
       FROM users u LEFT JOIN users i ON i.id = u.invited_by WHERE u.id = ?`,
  ),
  userCounts: db.prepare<
    { members: number; active: number; suspended: number; banned: number; admins: number; joinedToday: number },
    [number]
  >(
    `SELECT COUNT(*) AS members, SUM(status = 'active') AS active, SUM(status = 'suspended') AS suspended,
              SUM(status = 'banned') AS banned, SUM(role = 'admin') AS admins, SUM(created_at >= ?) AS joinedToday
       FROM users`,
  ),
  setStatus: db.prepare<never, [Status, number]>('UPDATE users SET status = ? WHERE id = ?'),
  setRole: db.prepare<never, [Role, number]>('UPDATE users SET role = ? WHERE id = ?'),
  addQuota: db.prepare<never, [number, number]>('UPDATE users SET invite_quota = invite_quota + ? WHERE id = ?'),
  countAdmins: db.prepare<{ n: number }, []>(`SELECT COUNT(*) AS n FROM users WHERE role = 'admin'`),
  setProfile: db.prepare<never, [string, string, number]>('UPDATE users SET display_name = ?, bio = ? WHERE id = ?'),
  setAvatar: db.prepare<never, [string | null, number]>('UPDATE users SET avatar = ? WHERE id = ?'),
  setPassword: db.prepare<never, [string, number]>('UPDATE users SET password_hash = ? WHERE id = ?'),
  search: db.prepare<UserRow, [string, string, number]>(
    `SELECT * FROM users WHERE status = 'active' AND (username LIKE ? ESCAPE '\\' OR display_name LIKE ? ESCAPE '\\')
       ORDER BY length(username), username LIMIT ?`,
  ),
  insertSession: db.prepare<{ id: number }, [number, Uint8Array, string, number, number, number]>(
    `INSERT INTO sessions (user_id, token_hash, user_agent, created_at, last_seen_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
  ),
  sessionByHash: db.prepare<SessionRow, [Uint8Array]>('SELECT * FROM sessions WHERE token_hash = ?'),
  touchSession: db.prepare<never, [number, number]>('UPDATE sessions SET last_seen_at = ? WHERE id = ?'),
  deleteSession: db.prepare<never, [number]>('DELETE FROM sessions WHERE id = ?'),
  deleteUserSessions: db.prepare<never, [number]>('DELETE FROM sessions WHERE user_id = ?'),
  deleteOtherSessions: db.prepare<never, [number, number]>('DELETE FROM sessions WHERE user_id = ? AND id != ?'),
  deleteExpired: db.prepare<never, [number]>('DELETE FROM sessions WHERE expires_at < ?'),
  follow: db.prepare<never, [number, number, number]>(
    'INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)',
  ),
  unfollow: db.prepare<never, [number, number]>('DELETE FROM follows WHERE follower_id = ? AND followee_id = ?'),
  isFollowing: db.prepare<{ x: number }, [number, number]>(
    'SELECT 1 AS x FROM follows WHERE follower_id = ? AND followee_id = ?',
  ),
  followers: db.prepare<UserRow, [number]>(
    `SELECT u.* FROM follows f JOIN users u ON u.id = f.follower_id
       WHERE f.followee_id = ? ORDER BY f.created_at DESC LIMIT 500`,
  ),
  following: db.prepare<UserRow, [number]>(
    `SELECT u.* FROM follows f JOIN users u ON u.id = f.followee_id
       WHERE f.follower_id = ? ORDER BY f.created_at DESC LIMIT 500`,
  ),
  followingIds: db.prepare<{ id: number }, [number]>('SELECT followee_id AS id FROM follows WHERE follower_id = ?'),
  counts: db.prepare<{ followers: number; following: number }, [number, number]>(
    `SELECT (SELECT COUNT(*) FROM follows WHERE followee_id = ?) AS followers,
            (SELECT COUNT(*) FROM follows WHERE follower_id = ?) AS following`,
  ),
  block: db.prepare<never, [number, number, number]>(
    'INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)',
  ),
  unblock: db.prepare<never, [number, number]>('DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?'),
  blockedEither: db.prepare<{ x: number }, [number, number, number, number]>(
    'SELECT 1 AS x FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)',
  ),
  hasBlocked: db.prepare<{ x: number }, [number, number]>(
    'SELECT 1 AS x FROM blocks WHERE blocker_id = ? AND blocked_id = ?',
  ),
  blockersOf: db.prepare<{ id: number }, [number]>('SELECT blocker_id AS id FROM blocks WHERE blocked_id = ?'),
  blockedBy: db.prepare<UserRow, [number]>(
    'SELECT u.* FROM blocks b JOIN users u ON u.id = b.blocked_id WHERE b.blocker_id = ? ORDER BY b.created_at DESC',
  ),
})

/** Users, sessions, follows and blocks: prepared once. */
export class AccountsStore {
  private q: ReturnType<typeof statements>
  constructor(readonly db: Database) {
    this.q = statements(db)
  }

  insertUser(u: {
    username: string
    displayName: string
    passwordHash: string
    role: Role
    invitedBy: number | null
    inviteId: number | null
    quota: number
  }) {
    try {
      return this.q.insertUser.get(
        u.username,
        u.displayName,
        u.passwordHash,
        u.role,
        u.invitedBy,
        u.inviteId,
        u.quota,
        Date.now(),
      )!.id
    } catch (e) {
      throw new Error(`store: unable to add user ${u.username}: ${(e as Error).message}`, { cause: e })
    }
  }
  byId(id: number) {
    return this.q.byId.get(id)
  }
  byName(name: string) {
    return this.q.byName.get(name)
  }
  byIds(ids: Iterable<number>) {
    return this.q.byIds.all(JSON.stringify([...ids]))
  }
  usernames(ids: Iterable<number>) {
    return this.q.usernames.all(JSON.stringify([...ids]))
  }
  all() {
    return this.q.all.all()
  }
  /** Who joined with each of these invites, oldest first. */
  joinedWith(inviteIds: Iterable<number>) {
    return this.q.joinedWith.all(JSON.stringify([...inviteIds]))
  }
  /** The admin console's search: by username or display name, `status` a status, 'admin' or 'all'. */
  members(q: string, status: string, limit: number, offset: number) {
    const like = '%' + q.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
    return this.q.members.all(like, status, limit, offset)
  }
  member(id: number) {
    return this.q.member.get(id)
  }
  /** Accounts by status and role, and how many were created since `since`. */
  userCounts(since: number) {
    return this.q.userCounts.get(since)!
  }
  setStatus(id: number, status: Status) {
    this.q.setStatus.run(status, id)
  }
  setRole(id: number, role: Role) {
    this.q.setRole.run(role, id)
  }
  addQuota(id: number, delta: number) {
    this.q.addQuota.run(delta, id)
  }
  adminCount() {
    return this.q.countAdmins.get()!.n
  }
  setProfile(id: number, displayName: string, bio: string) {
    this.q.setProfile.run(displayName, bio, id)
  }
  setAvatar(id: number, file: string | null) {
    this.q.setAvatar.run(file, id)
  }
  setPassword(id: number, hash: string) {
    this.q.setPassword.run(hash, id)
  }
  search(q: string, limit: number) {
    const like = q.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
    return this.q.search.all(like, like, limit)
  }

  insertSession(userId: number, hash: Uint8Array, ua: string, expiresAt: number) {
    const n = Date.now()
    return this.q.insertSession.get(userId, hash, ua, n, n, expiresAt)!.id
  }
  sessionByHash(hash: Uint8Array) {
    return this.q.sessionByHash.get(hash)
  }
  touchSession(id: number) {
    this.q.touchSession.run(Date.now(), id)
  }
  deleteSession(id: number) {
    this.q.deleteSession.run(id)
  }
  deleteUserSessions(userId: number) {
    this.q.deleteUserSessions.run(userId)
  }
  deleteOtherSessions(userId: number, keep: number) {
    this.q.deleteOtherSessions.run(userId, keep)
  }
  deleteExpiredSessions() {
    this.q.deleteExpired.run(Date.now())
  }

  /** True when the follow is new. */
  follow(a: number, b: number): boolean {
    return this.q.follow.run(a, b, Date.now()).changes > 0
  }
  unfollow(a: number, b: number) {
    this.q.unfollow.run(a, b)
  }
  isFollowing(a: number, b: number) {
    return !!this.q.isFollowing.get(a, b)
  }
  followers(id: number) {
    return this.q.followers.all(id)
  }
  following(id: number) {
    return this.q.following.all(id)
  }
  followingIds(id: number) {
    return new Set(this.q.followingIds.all(id).map((r) => r.id))
  }
  counts(id: number) {
    return this.q.counts.get(id, id)!
  }
  block(a: number, b: number) {
    this.q.block.run(a, b, Date.now())
    this.blockers.delete(b)
  }
  unblock(a: number, b: number) {
    this.q.unblock.run(a, b)
    this.blockers.delete(b)
  }
  /** True when either has blocked the other. */
  blockedEither(a: number, b: number) {
    return !!this.q.blockedEither.get(a, b, b, a)
  }
  hasBlocked(a: number, b: number) {
    return !!this.q.hasBlocked.get(a, b)
  }
  blockedBy(id: number) {
    return this.q.blockedBy.all(id)
  }
  /**
   * Who blocked this member (ids), cached until a block or unblock of them here (block() is the only insert; rows
   * that go otherwise, with an account, leave a cached id that checks again find unblocked).
   */
  blockersOf(id: number): readonly number[] {
    let ids = this.blockers.get(id)
    if (!ids) {
      ids = this.q.blockersOf.all(id).map((r) => r.id)
      if (this.blockers.size > 10_000) this.blockers.clear()
      this.blockers.set(id, ids)
    }
    return ids
  }
  private blockers = new Map<number, number[]>()
}
