import { t } from 'elysia'
import type { Account } from '../contracts'
import type { PublicUser, Role } from '../protocol'
import { Int } from '../http/params'

export const Username = t.String({
  minLength: 3,
  maxLength: 20,
  pattern: '^[A-Za-z0-9_]+$',
  description: '3–20 of a-z, 0-9, _ (case is ignored)',
})
export const Password = t.String({ minLength: 10, maxLength: 256 })
const DisplayName = t.String({ maxLength: 50 })
const Bio = t.String({ maxLength: 300 })

export const RegisterBody = t.Object({
  username: Username,
  password: Password,
  invite: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
  displayName: t.Optional(DisplayName),
})
export const LoginBody = t.Object({
  username: t.String({ minLength: 1, maxLength: 64 }),
  password: t.String({ minLength: 1, maxLength: 256 }),
})
export const SetupBody = t.Object({
  token: t.String({ minLength: 1, maxLength: 128 }),
  username: Username,
  password: Password,
})
export const PasswordBody = t.Object({ current: t.String({ minLength: 1, maxLength: 256 }), next: Password })
export const ProfileBody = t.Object(
  { displayName: t.Optional(DisplayName), bio: t.Optional(Bio) },
  { minProperties: 1 },
)
export const UsernameParams = t.Object({ username: t.String({ minLength: 1, maxLength: 20 }) })
export const SearchQuery = t.Object({
  q: t.String({ maxLength: 50 }),
  limit: t.Optional(Int(1, 50)),
})

export type Status = 'active' | 'suspended' | 'banned'

export interface UserRow {
  id: number
  username: string
  display_name: string
  bio: string
  avatar: string | null
  password_hash: string
  role: Role
  status: Status
  invited_by: number | null
  invite_id: number | null
  invite_quota: number
  created_at: number
}

/** An account's row without its password hash: what the directory holds and lists return. */
export type AccountRow = Omit<UserRow, 'password_hash'>

/** Where a stored avatar file is served. */
const avatarUrl = (file: string | null) => (file ? `/api/avatars/${file}` : null)

export const publicUser = (u: Pick<UserRow, 'id' | 'username' | 'display_name' | 'avatar' | 'role'>): PublicUser => ({
  id: u.id,
  username: u.username,
  displayName: u.display_name || u.username,
  avatar: avatarUrl(u.avatar),
  role: u.role,
})

/** A row as other domains see it (contracts.ts `Account`): no password hash, the avatar as its URL. */
export const toAccount = (u: AccountRow): Account => ({
  id: u.id,
  username: u.username,
  displayName: u.display_name || u.username,
  avatar: avatarUrl(u.avatar),
  role: u.role,
  status: u.status,
  bio: u.bio,
  invitedBy: u.invited_by,
  inviteId: u.invite_id,
  inviteQuota: u.invite_quota,
  createdAt: u.created_at,
})

/** The public view of an account. */
export const publicOf = (a: Account): PublicUser => ({
  id: a.id,
  username: a.username,
  displayName: a.displayName,
  avatar: a.avatar,
  role: a.role,
})
