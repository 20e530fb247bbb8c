// The accounts store on Postgres (Bun.SQL): the same contract as the SQLite one (store.ts), the same tests
// (test/integration/store-accounts.test.ts). Rows come back in the SQLite shape (numbers, Uint8Array). Usernames are
// unique ignoring case through the index on lower(username); name lookups compare lower() to use it, and searches
// use ILIKE with the same escaping as SQLite's LIKE (which ignores ASCII case too).
import { bytes, int, intOrNull, type PgConn } from '../db/postgres'
import type { Tx } from '../db/store'
import type { Role } from '../protocol'
import type { AccountRow, Status, UserRow } from './model'
import {
  likeEscaped,
  type AccountsStore,
  type EdgeRow,
  type LinkedRow,
  type MemberRow,
  type NewUser,
  type SessionRow,
} from './store'

type Raw = Record<string, unknown>

const account = (r: Raw): AccountRow => ({
  id: int(r.id),
  username: r.username as string,
  display_name: r.display_name as string,
  bio: r.bio as string,
  avatar: (r.avatar as string | null) ?? null,
  role: r.role as Role,
  status: r.status as Status,
  invited_by: intOrNull(r.invited_by),
  invite_id: intOrNull(r.invite_id),
  invite_quota: int(r.invite_quota),
  created_at: int(r.created_at),
})
const user = (r: Raw): UserRow => ({ ...account(r), password_hash: r.password_hash as string })
const member = (r: Raw): MemberRow => ({
  ...account(r),
  inviter: (r.inviter as string | null) ?? null,
  last_seen: intOrNull(r.last_seen),
})
const linked = (r: Raw): LinkedRow => ({ ...account(r), since: int(r.since) })
const edge = (r: Raw): EdgeRow => ({ from_id: int(r.from_id), to_id: int(r.to_id), created_at: int(r.created_at) })
const session = (r: Raw): SessionRow => ({
  id: int(r.id),
  user_id: int(r.user_id),
  token_hash: bytes(r.token_hash as Uint8Array),
  created_at: int(r.created_at),
  last_seen_at: int(r.last_seen_at),
  expires_at: int(r.expires_at),
  user_agent: r.user_agent as string,
})

export class PgAccountsStore implements AccountsStore {
  constructor(private conn: PgConn) {}
  transaction<T>(fn: (tx: Tx) => Promise<T>) {
    return this.conn.transaction(fn)
  }

  async insertUser(u: NewUser, tx?: Tx) {
    try {
      const [row] = await this.conn.on(tx)`
        INSERT INTO users (username, display_name, password_hash, role, invited_by, invite_id, invite_quota, created_at)
        VALUES (${u.username}, ${u.displayName}, ${u.passwordHash}, ${u.role}, ${u.invitedBy}, ${u.inviteId},
                ${u.quota}, ${Date.now()})
        ON CONFLICT DO NOTHING RETURNING id`
      return row ? int(row.id) : null
    } catch (e) {
      throw new Error(`store: unable to add user ${u.username}: ${(e as Error).message}`, { cause: e })
    }
  }
  async byId(id: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM users WHERE id = ${id}`
    return row ? user(row) : null
  }
  async byName(name: string, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM users WHERE lower(username) = lower(${name})`
    return row ? user(row) : null
  }
  async accounts(tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT id, username, display_name, bio, avatar, role, status, invited_by, invite_id, invite_quota, created_at
        FROM users ORDER BY id`
    return rows.map(account)
  }
  async edges(kind: 'follows' | 'blocks', tx?: Tx) {
    const sql = this.conn.on(tx)
    const rows =
      kind === 'follows'
        ? await sql`SELECT follower_id AS from_id, followee_id AS to_id, created_at FROM follows
                      ORDER BY created_at, follower_id, followee_id`
        : await sql`SELECT blocker_id AS from_id, blocked_id AS to_id, created_at FROM blocks
                      ORDER BY created_at, blocker_id, blocked_id`
    return rows.map(edge)
  }
  async edgesOf(userId: number, tx?: Tx) {
    const sql = this.conn.on(tx)
    const follows = await sql`
      SELECT follower_id AS from_id, followee_id AS to_id, created_at FROM follows
        WHERE follower_id = ${userId} OR followee_id = ${userId} ORDER BY created_at, follower_id, followee_id`
    const blocks = await sql`
      SELECT blocker_id AS from_id, blocked_id AS to_id, created_at FROM blocks
        WHERE blocker_id = ${userId} OR blocked_id = ${userId} ORDER BY created_at, blocker_id, blocked_id`
    return { follows: follows.map(edge), blocks: blocks.map(edge) }
  }
  async joinedWith(inviteIds: readonly number[], tx?: Tx) {
    if (!inviteIds.length) return []
    const sql = this.conn.on(tx)
    const rows = await sql`SELECT invite_id, username FROM users WHERE invite_id IN ${sql([...inviteIds])} ORDER BY id`
    return rows.map((r: Raw) => ({ invite_id: int(r.invite_id), username: r.username as string }))
  }
  async members(q: string, status: string, limit: number, offset: number, tx?: Tx) {
    const like = `%${likeEscaped(q)}%`
    const rows = await this.conn.on(tx)`
      SELECT u.*, i.username AS inviter,
             (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
        FROM users u LEFT JOIN users i ON i.id = u.invited_by
        WHERE (u.username ILIKE ${like} ESCAPE '\\' OR u.display_name ILIKE ${like} ESCAPE '\\')
          AND (${status} = 'all' OR u.status = ${status} OR (${status} = 'admin' AND u.role = 'admin'))
        ORDER BY u.id DESC LIMIT ${limit} OFFSET ${offset}`
    return rows.map(member)
  }
  async member(id: number, tx?: Tx) {
    const [row] = await this.conn.on(tx)`
      SELECT u.*, i.username AS inviter,
             (SELECT MAX(last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen
        FROM users u LEFT JOIN users i ON i.id = u.invited_by WHERE u.id = ${id}`
    return row ? member(row) : null
  }
  async search(q: string, limit: number, tx?: Tx) {
    const like = `${likeEscaped(q)}%`
    // SQLite orders the NOCASE username by its ASCII lower case: lower() in "C" order does the same here.
    const rows = await this.conn.on(tx)`
      SELECT * FROM users
        WHERE status = 'active' AND (username ILIKE ${like} ESCAPE '\\' OR display_name ILIKE ${like} ESCAPE '\\')
        ORDER BY length(username), lower(username) COLLATE "C" LIMIT ${limit}`
    return rows.map(account)
  }
  private async changed(rows: unknown[]) {
    return rows.length === 1
  }
  async adminCount(tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT COUNT(*) AS n FROM users WHERE role = 'admin'`
    return int(row.n)
  }
  async setupToken(fresh: string, now: number, tx?: Tx) {
    // One statement: the row kept (the no-op update returns it) or the one inserted.
    const [row] = await this.conn.on(tx)`
      INSERT INTO setup_token (k, token, created_at) VALUES (0, ${fresh}, ${now})
        ON CONFLICT (k) DO UPDATE SET k = setup_token.k RETURNING token`
    return row.token as string
  }
  async storedSetupToken(tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT token FROM setup_token WHERE k = 0`
    return (row?.token as string | undefined) ?? null
  }
  async takeSetupToken(token: string, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`DELETE FROM setup_token WHERE k = 0 AND token = ${token} RETURNING k`)
  }
  async setStatus(id: number, status: Status, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`UPDATE users SET status = ${status} WHERE id = ${id} RETURNING id`)
  }
  async setRole(id: number, role: Role, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`UPDATE users SET role = ${role} WHERE id = ${id} RETURNING id`)
  }
  async addQuota(id: number, delta: number, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        UPDATE users SET invite_quota = invite_quota + ${delta}
          WHERE id = ${id} AND invite_quota + ${delta} >= 0 RETURNING id`,
    )
  }
  async setProfile(id: number, displayName: string, bio: string, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        UPDATE users SET display_name = ${displayName}, bio = ${bio} WHERE id = ${id} RETURNING id`,
    )
  }
  async setAvatar(id: number, file: string | null, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`UPDATE users SET avatar = ${file} WHERE id = ${id} RETURNING id`)
  }
  async setPassword(id: number, hash: string, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`UPDATE users SET password_hash = ${hash} WHERE id = ${id} RETURNING id`)
  }
  async eraseUser(id: number, username: string, unusableHash: string, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        UPDATE users SET username = ${username}, display_name = 'Deleted member', bio = '', avatar = NULL,
                         password_hash = ${unusableHash}, role = 'member', status = 'banned', invite_quota = 0
          WHERE id = ${id} RETURNING id`,
    )
  }

  async insertSession(userId: number, hash: Uint8Array, ua: string, expiresAt: number, tx?: Tx) {
    const n = Date.now()
    const [row] = await this.conn.on(tx)`
      INSERT INTO sessions (user_id, token_hash, user_agent, created_at, last_seen_at, expires_at)
      VALUES (${userId}, ${hash}, ${ua}, ${n}, ${n}, ${expiresAt}) RETURNING id`
    return int(row.id)
  }
  async sessionByHash(hash: Uint8Array, tx?: Tx) {
    const [row] = await this.conn.on(tx)`SELECT * FROM sessions WHERE token_hash = ${hash}`
    return row ? session(row) : null
  }
  async touchSession(id: number, tx?: Tx) {
    await this.conn.on(tx)`UPDATE sessions SET last_seen_at = ${Date.now()} WHERE id = ${id}`
  }
  async deleteSession(id: number, tx?: Tx) {
    return this.changed(await this.conn.on(tx)`DELETE FROM sessions WHERE id = ${id} RETURNING id`)
  }
  async deleteUserSessions(userId: number, keep: number | null = null, tx?: Tx) {
    const sql = this.conn.on(tx)
    const rows =
      keep === null
        ? await sql`DELETE FROM sessions WHERE user_id = ${userId} RETURNING id`
        : await sql`DELETE FROM sessions WHERE user_id = ${userId} AND id != ${keep} RETURNING id`
    return rows.length
  }
  async deleteExpiredSessions(now: number, tx?: Tx) {
    return (await this.conn.on(tx)`DELETE FROM sessions WHERE expires_at < ${now} RETURNING id`).length
  }

  async follow(a: number, b: number, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        INSERT INTO follows (follower_id, followee_id, created_at) VALUES (${a}, ${b}, ${Date.now()})
        ON CONFLICT DO NOTHING RETURNING follower_id`,
    )
  }
  async unfollow(a: number, b: number, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        DELETE FROM follows WHERE follower_id = ${a} AND followee_id = ${b} RETURNING follower_id`,
    )
  }
  async isFollowing(a: number, b: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT 1 AS x FROM follows WHERE follower_id = ${a} AND followee_id = ${b}`
    return rows.length > 0
  }
  async followers(id: number, limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT u.*, e.created_at AS since FROM follows e JOIN users u ON u.id = e.follower_id
        WHERE e.followee_id = ${id} ORDER BY e.created_at DESC, u.id DESC LIMIT ${limit}`
    return rows.map(linked)
  }
  async following(id: number, limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT u.*, e.created_at AS since FROM follows e JOIN users u ON u.id = e.followee_id
        WHERE e.follower_id = ${id} ORDER BY e.created_at DESC, u.id DESC LIMIT ${limit}`
    return rows.map(linked)
  }
  async blocking(id: number, limit: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`
      SELECT u.*, e.created_at AS since FROM blocks e JOIN users u ON u.id = e.blocked_id
        WHERE e.blocker_id = ${id} ORDER BY e.created_at DESC, u.id DESC LIMIT ${limit}`
    return rows.map(linked)
  }
  async block(a: number, b: number, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`
        INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (${a}, ${b}, ${Date.now()})
        ON CONFLICT DO NOTHING RETURNING blocker_id`,
    )
  }
  async unblock(a: number, b: number, tx?: Tx) {
    return this.changed(
      await this.conn.on(tx)`DELETE FROM blocks WHERE blocker_id = ${a} AND blocked_id = ${b} RETURNING blocker_id`,
    )
  }
  async hasBlocked(a: number, b: number, tx?: Tx) {
    const rows = await this.conn.on(tx)`SELECT 1 AS x FROM blocks WHERE blocker_id = ${a} AND blocked_id = ${b}`
    return rows.length > 0
  }
  async dropEdges(userId: number, tx?: Tx) {
    const sql = this.conn.on(tx)
    const f = await sql`DELETE FROM follows WHERE follower_id = ${userId} OR followee_id = ${userId} RETURNING 1`
    const b = await sql`DELETE FROM blocks WHERE blocker_id = ${userId} OR blocked_id = ${userId} RETURNING 1`
    return f.length + b.length
  }
}
