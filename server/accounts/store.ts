// The accounts store: its contract (AccountsStore, asynchronous: docs/ARCHITECTURE.md, "Stores") over users, sessions,
// follows and blocks, and its SQLite implementation (bun:sqlite underneath, through the gate). The Postgres one is
// store-pg.ts; test/integration/store-accounts.test.ts runs the same tests against both. The hot reads (an account by
// id or name, who follows or blocks whom) are not here but in the node's directory (directory.ts), loaded from this.
import type { SqliteGate } from '../db/sqlite-gate'
import type { Transactor, Tx } from '../db/store'
import type { Role } from '../protocol'
import type { AccountRow, Status, UserRow } from './model'

export interface NewUser {
  username: string
  displayName: string
  passwordHash: string
  role: Role
  invitedBy: number | null
  inviteId: number | null
  quota: number
}

/** A row of the admin console's member list: the account, who invited them and when they were last seen. */
export interface MemberRow extends AccountRow {
  inviter: string | null
  last_seen: number | null
}

export interface SessionRow {
  id: number
  user_id: number
  token_hash: Uint8Array
  created_at: number
  last_seen_at: number
  expires_at: number
  user_agent: string
}

/** A follow (follower → followee) or a block (blocker → blocked), with when it was made. */
export interface EdgeRow {
  from_id: number
  to_id: number
  created_at: number
}

/** An account in a list of follows or blocks, with when that edge was made. */
export interface LinkedRow extends AccountRow {
  since: number
}

/** Every method takes the transaction it belongs to, if any (`tx` from `transaction`). */
export interface AccountsStore extends Transactor {
  // users
  /** Adds an account; its id, or null when the username is taken (ignoring case), however many sign up at once. */
  insertUser(user: NewUser, tx?: Tx): Promise<number | null>
  byId(id: number, tx?: Tx): Promise<UserRow | null>
  /** By username, ignoring case. */
  byName(username: string, tx?: Tx): Promise<UserRow | null>
  /** Every account without its password hash, by id (the directory's load). */
  accounts(tx?: Tx): Promise<AccountRow[]>
  /** Every follow, or every block, oldest first (the directory's load). */
  edges(kind: 'follows' | 'blocks', tx?: Tx): Promise<EdgeRow[]>
  /** One member's follows and blocks, both ways, oldest first (the directory's reload of one member). */
  edgesOf(userId: number, tx?: Tx): Promise<{ follows: EdgeRow[]; blocks: EdgeRow[] }>
  /** Who joined with each of these invites, oldest first. */
  joinedWith(inviteIds: readonly number[], tx?: Tx): Promise<{ invite_id: number; username: string }[]>
  /** The admin console's search, newest first: `q` in the username or display name (ignoring case; `%` and `_` are
   * plain characters), `status` a status, 'admin' or 'all'. */
  members(q: string, status: string, limit: number, offset: number, tx?: Tx): Promise<MemberRow[]>
  member(id: number, tx?: Tx): Promise<MemberRow | null>
  /** Active accounts whose username or display name starts with `q` (ignoring case; wildcards are plain), shortest
   * username first. */
  search(q: string, limit: number, tx?: Tx): Promise<AccountRow[]>
  adminCount(tx?: Tx): Promise<number>
  /** The first-run setup token every node shares (A35): the one stored, else `fresh`, stored now (the first writer
   * wins; every caller gets the same token). */
  setupToken(fresh: string, now: number, tx?: Tx): Promise<string>
  /** The stored setup token, or null. */
  storedSetupToken(tx?: Tx): Promise<string | null>
  /** Deletes the setup token if it is `token`: true for the one caller that deleted it (its first use wins). */
  takeSetupToken(token: string, tx?: Tx): Promise<boolean>
  /** These return false when there is no such account. */
  setStatus(id: number, status: Status, tx?: Tx): Promise<boolean>
  setRole(id: number, role: Role, tx?: Tx): Promise<boolean>
  /** Adds `delta` to the invite quota unless it would go below 0: false then (two spends at once cannot both win). */
  addQuota(id: number, delta: number, tx?: Tx): Promise<boolean>
  setProfile(id: number, displayName: string, bio: string, tx?: Tx): Promise<boolean>
  setAvatar(id: number, file: string | null, tx?: Tx): Promise<boolean>
  setPassword(id: number, hash: string, tx?: Tx): Promise<boolean>
  /** Empties an account of the person (member-data.ts): the new username, an unusable hash, banned, no avatar. */
  eraseUser(id: number, username: string, unusableHash: string, tx?: Tx): Promise<boolean>

  // sessions
  insertSession(userId: number, tokenHash: Uint8Array, userAgent: string, expiresAt: number, tx?: Tx): Promise<number>
  sessionByHash(tokenHash: Uint8Array, tx?: Tx): Promise<SessionRow | null>
  touchSession(id: number, tx?: Tx): Promise<void>
  /** False when it was already gone. */
  deleteSession(id: number, tx?: Tx): Promise<boolean>
  /** Every session of a member (all but `keep`, when given); how many ended. */
  deleteUserSessions(userId: number, keep?: number | null, tx?: Tx): Promise<number>
  /** Sessions that expired before `now`; how many. */
  deleteExpiredSessions(now: number, tx?: Tx): Promise<number>

  // follows and blocks: each write says whether it changed anything (two at once: one wins)
  follow(followerId: number, followeeId: number, tx?: Tx): Promise<boolean>
  unfollow(followerId: number, followeeId: number, tx?: Tx): Promise<boolean>
  isFollowing(followerId: number, followeeId: number, tx?: Tx): Promise<boolean>
  /** Who follows the member, whom they follow, whom they blocked: newest first, at most `limit`. */
  followers(userId: number, limit: number, tx?: Tx): Promise<LinkedRow[]>
  following(userId: number, limit: number, tx?: Tx): Promise<LinkedRow[]>
  blocking(userId: number, limit: number, tx?: Tx): Promise<LinkedRow[]>
  block(blockerId: number, blockedId: number, tx?: Tx): Promise<boolean>
  unblock(blockerId: number, blockedId: number, tx?: Tx): Promise<boolean>
  hasBlocked(blockerId: number, blockedId: number, tx?: Tx): Promise<boolean>
  /** Every follow and block of a member, both ways; how many rows went. */
  dropEdges(userId: number, tx?: Tx): Promise<number>
}

/** `q` for LIKE … ESCAPE '\': its wildcards and the escape itself as plain characters. */
export const likeEscaped = (q: string) => q.replace(/[\\%_]/g, (c) => '\\' + c)

const ACCOUNT_COLUMNS =
  'id, username, display_name, bio, avatar, role, status, invited_by, invite_id, invite_quota, created_at'
const accountCols = (alias: string) =>
  ACCOUNT_COLUMNS.split(', ')
    .map((c) => `${alias}.${c}`)
    .join(', ')

const statements = (gate: SqliteGate) => {
  const db = gate.db
  const linked = (edge: string, from: string, to: string) =>
    db.prepare<LinkedRow, [number, number]>(
      `SELECT ${accountCols('u')}, e.created_at AS since FROM ${edge} e JOIN users u ON u.id = e.${to}
         WHERE e.${from} = ? ORDER BY e.created_at DESC, u.id DESC LIMIT ?`,
    )
  const memberSelect = `SELECT ${accountCols('u')}, i.username AS inviter,
      (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
    FROM users u LEFT JOIN users i ON i.id = u.invited_by`
  return {
    insertUser: db.prepare<
      { id: number },
      [string, string, string, Role, number | null, number | null, number, number]
    >(
      `INSERT INTO users (username, display_name, password_hash, role, invited_by, invite_id, invite_quota, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING RETURNING id`,
    ),
    byId: db.prepare<UserRow, [number]>('SELECT * FROM users WHERE id = ?'),
    // The column is COLLATE NOCASE: `=` ignores case.
    byName: db.prepare<UserRow, [string]>('SELECT * FROM users WHERE username = ?'),
    accounts: db.prepare<AccountRow, []>(`SELECT ${ACCOUNT_COLUMNS} FROM users ORDER BY id`),
    follows: db.prepare<EdgeRow, []>(
      `SELECT follower_id AS from_id, followee_id AS to_id, created_at FROM follows
         ORDER BY created_at, from_id, to_id`,
    ),
    blocks: db.prepare<EdgeRow, []>(
      'SELECT blocker_id AS from_id, blocked_id AS to_id, created_at FROM blocks ORDER BY created_at, from_id, to_id',
    ),
    followsOf: db.prepare<EdgeRow, [number, number]>(
      `SELECT follower_id AS from_id, followee_id AS to_id, created_at FROM follows
         WHERE follower_id = ? OR followee_id = ? ORDER BY created_at, from_id, to_id`,
    ),
    blocksOf: db.prepare<EdgeRow, [number, number]>(
      `SELECT blocker_id AS from_id, blocked_id AS to_id, created_at FROM blocks
         WHERE blocker_id = ? OR blocked_id = ? ORDER BY created_at, from_id, to_id`,
    ),
    joinedWith: db.prepare<{ invite_id: number; username: string }, [string]>(
      'SELECT invite_id, username FROM users WHERE invite_id IN (SELECT value FROM json_each(?)) ORDER BY id',
    ),
    members: db.prepare<MemberRow, [string, string, number, number]>(
      `${memberSelect}
       WHERE (u.username LIKE ?1 ESCAPE '\\' OR u.display_name LIKE ?1 ESCAPE '\\')
         AND (?2 = 'all' OR u.status = ?2 OR (?2 = 'admin' AND u.role = 'admin'))
       ORDER BY u.id DESC LIMIT ?3 OFFSET ?4`,
    ),
    member: db.prepare<MemberRow, [number]>(`${memberSelect} WHERE u.id = ?`),
    search: db.prepare<AccountRow, [string, number]>(
      `SELECT ${ACCOUNT_COLUMNS} FROM users
         WHERE status = 'active' AND (username LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\')
         ORDER BY length(username), username LIMIT ?2`,
    ),
    adminCount: db.prepare<{ n: number }, []>(`SELECT COUNT(*) AS n FROM users WHERE role = 'admin'`),
    addSetupToken: db.prepare<{ token: string }, [string, number]>(
      `INSERT INTO setup_token (k, token, created_at) VALUES (0, ?, ?)
         ON CONFLICT (k) DO UPDATE SET k = setup_token.k RETURNING token`,
    ),
    setupToken: db.prepare<{ token: string }, []>('SELECT token FROM setup_token WHERE k = 0'),
    takeSetupToken: db.prepare<never, [string]>('DELETE FROM setup_token WHERE k = 0 AND token = ?'),
    setStatus: db.prepare<never, [Status, number]>('UPDATE users SET status = ? WHERE id = ?'),
    setRole: db.prepare<never, [Role, number]>('UPDATE users SET role = ? WHERE id = ?'),
    addQuota: db.prepare<never, [number, number]>(
      'UPDATE users SET invite_quota = invite_quota + ?1 WHERE id = ?2 AND invite_quota + ?1 >= 0',
    ),
    setProfile: db.prepare<never, [string, string, number]>('UPDATE users SET display_name = ?, bio = ? WHERE id = ?'),
    setAvatar: db.prepare<never, [string | null, number]>('UPDATE users SET avatar = ? WHERE id = ?'),
    setPassword: db.prepare<never, [string, number]>('UPDATE users SET password_hash = ? WHERE id = ?'),
    eraseUser: db.prepare<never, [string, string, number]>(
      `UPDATE users SET username = ?, display_name = 'Deleted member', bio = '', avatar = NULL, password_hash = ?,
         role = 'member', status = 'banned', invite_quota = 0 WHERE id = ?`,
    ),
    insertSession: db.prepare<{ id: number }, [number, Uint8Array, string, number, number, number]>(
      `INSERT INTO sessions (user_id, token_hash, user_agent, created_at, last_seen_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    sessionByHash: db.prepare<SessionRow, [Uint8Array]>('SELECT * FROM sessions WHERE token_hash = ?'),
    touchSession: db.prepare<never, [number, number]>('UPDATE sessions SET last_seen_at = ? WHERE id = ?'),
    deleteSession: db.prepare<never, [number]>('DELETE FROM sessions WHERE id = ?'),
    deleteUserSessions: db.prepare<never, [number, number | null]>(
      'DELETE FROM sessions WHERE user_id = ?1 AND (?2 IS NULL OR id != ?2)',
    ),
    deleteExpired: db.prepare<never, [number]>('DELETE FROM sessions WHERE expires_at < ?'),
    follow: db.prepare<never, [number, number, number]>(
      'INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)',
    ),
    unfollow: db.prepare<never, [number, number]>('DELETE FROM follows WHERE follower_id = ? AND followee_id = ?'),
    isFollowing: db.prepare<{ x: number }, [number, number]>(
      'SELECT 1 AS x FROM follows WHERE follower_id = ? AND followee_id = ?',
    ),
    followers: linked('follows', 'followee_id', 'follower_id'),
    following: linked('follows', 'follower_id', 'followee_id'),
    blocking: linked('blocks', 'blocker_id', 'blocked_id'),
    block: db.prepare<never, [number, number, number]>(
      'INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)',
    ),
    unblock: db.prepare<never, [number, number]>('DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?'),
    hasBlocked: db.prepare<{ x: number }, [number, number]>(
      'SELECT 1 AS x FROM blocks WHERE blocker_id = ? AND blocked_id = ?',
    ),
    dropFollows: db.prepare<never, [number]>('DELETE FROM follows WHERE follower_id = ?1 OR followee_id = ?1'),
    dropBlocks: db.prepare<never, [number]>('DELETE FROM blocks WHERE blocker_id = ?1 OR blocked_id = ?1'),
  }
}

/** Users, sessions, follows and blocks on SQLite: prepared once, run through the gate. */
export class SqliteAccountsStore implements AccountsStore {
  private q: ReturnType<typeof statements>
  constructor(private gate: SqliteGate) {
    this.q = statements(gate)
  }
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.gate.transaction(fn)
  }
  private run<T>(tx: Tx | undefined, statement: () => T) {
    return this.gate.run(tx, statement)
  }

  insertUser(u: NewUser, tx?: Tx) {
    return this.run(tx, () => {
      try {
        const row = this.q.insertUser.get(
          u.username,
          u.displayName,
          u.passwordHash,
          u.role,
          u.invitedBy,
          u.inviteId,
          u.quota,
          Date.now(),
        )
        return row ? row.id : null
      } catch (e) {
        throw new Error(`store: unable to add user ${u.username}: ${(e as Error).message}`, { cause: e })
      }
    })
  }
  byId(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.byId.get(id))
  }
  byName(name: string, tx?: Tx) {
    return this.run(tx, () => this.q.byName.get(name))
  }
  accounts(tx?: Tx) {
    return this.run(tx, () => this.q.accounts.all())
  }
  edges(kind: 'follows' | 'blocks', tx?: Tx) {
    return this.run(tx, () => (kind === 'follows' ? this.q.follows : this.q.blocks).all())
  }
  edgesOf(userId: number, tx?: Tx) {
    return this.run(tx, () => ({
      follows: this.q.followsOf.all(userId, userId),
      blocks: this.q.blocksOf.all(userId, userId),
    }))
  }
  joinedWith(inviteIds: readonly number[], tx?: Tx) {
    return this.run(tx, () => this.q.joinedWith.all(JSON.stringify(inviteIds)))
  }
  members(q: string, status: string, limit: number, offset: number, tx?: Tx) {
    return this.run(tx, () => this.q.members.all(`%${likeEscaped(q)}%`, status, limit, offset))
  }
  member(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.member.get(id))
  }
  search(q: string, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.search.all(`${likeEscaped(q)}%`, limit))
  }
  adminCount(tx?: Tx) {
    return this.run(tx, () => this.q.adminCount.get()!.n)
  }
  setupToken(fresh: string, now: number, tx?: Tx) {
    return this.run(tx, () => this.q.addSetupToken.get(fresh, now)!.token)
  }
  storedSetupToken(tx?: Tx) {
    return this.run(tx, () => this.q.setupToken.get()?.token ?? null)
  }
  takeSetupToken(token: string, tx?: Tx) {
    return this.run(tx, () => this.q.takeSetupToken.run(token).changes === 1)
  }
  setStatus(id: number, status: Status, tx?: Tx) {
    return this.run(tx, () => this.q.setStatus.run(status, id).changes === 1)
  }
  setRole(id: number, role: Role, tx?: Tx) {
    return this.run(tx, () => this.q.setRole.run(role, id).changes === 1)
  }
  addQuota(id: number, delta: number, tx?: Tx) {
    return this.run(tx, () => this.q.addQuota.run(delta, id).changes === 1)
  }
  setProfile(id: number, displayName: string, bio: string, tx?: Tx) {
    return this.run(tx, () => this.q.setProfile.run(displayName, bio, id).changes === 1)
  }
  setAvatar(id: number, file: string | null, tx?: Tx) {
    return this.run(tx, () => this.q.setAvatar.run(file, id).changes === 1)
  }
  setPassword(id: number, hash: string, tx?: Tx) {
    return this.run(tx, () => this.q.setPassword.run(hash, id).changes === 1)
  }
  eraseUser(id: number, username: string, unusableHash: string, tx?: Tx) {
    return this.run(tx, () => this.q.eraseUser.run(username, unusableHash, id).changes === 1)
  }

  insertSession(userId: number, hash: Uint8Array, ua: string, expiresAt: number, tx?: Tx) {
    const n = Date.now()
    return this.run(tx, () => this.q.insertSession.get(userId, hash, ua, n, n, expiresAt)!.id)
  }
  sessionByHash(hash: Uint8Array, tx?: Tx) {
    return this.run(tx, () => this.q.sessionByHash.get(hash))
  }
  async touchSession(id: number, tx?: Tx) {
    await this.run(tx, () => this.q.touchSession.run(Date.now(), id))
  }
  deleteSession(id: number, tx?: Tx) {
    return this.run(tx, () => this.q.deleteSession.run(id).changes === 1)
  }
  deleteUserSessions(userId: number, keep: number | null = null, tx?: Tx) {
    return this.run(tx, () => this.q.deleteUserSessions.run(userId, keep).changes)
  }
  deleteExpiredSessions(now: number, tx?: Tx) {
    return this.run(tx, () => this.q.deleteExpired.run(now).changes)
  }

  follow(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => this.q.follow.run(a, b, Date.now()).changes === 1)
  }
  unfollow(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => this.q.unfollow.run(a, b).changes === 1)
  }
  isFollowing(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => !!this.q.isFollowing.get(a, b))
  }
  followers(id: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.followers.all(id, limit))
  }
  following(id: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.following.all(id, limit))
  }
  blocking(id: number, limit: number, tx?: Tx) {
    return this.run(tx, () => this.q.blocking.all(id, limit))
  }
  block(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => this.q.block.run(a, b, Date.now()).changes === 1)
  }
  unblock(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => this.q.unblock.run(a, b).changes === 1)
  }
  hasBlocked(a: number, b: number, tx?: Tx) {
    return this.run(tx, () => !!this.q.hasBlocked.get(a, b))
  }
  dropEdges(userId: number, tx?: Tx) {
    return this.run(tx, () => this.q.dropFollows.run(userId).changes + this.q.dropBlocks.run(userId).changes)
  }
}
