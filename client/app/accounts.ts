// Accounts over HTTP (server/accounts/routes.ts): signing in and out, the first-run setup, my profile, avatar and
// password, people's profiles, search, follows and blocks. Each function returns what its route returns.
import { del, get, patch, post, put, query } from './api'
// The wire shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { Status } from '../../server/accounts/model'
import type { PublicUser } from '../../server/protocol'
import type { Profile } from '../../server/accounts/service'

export type { Profile, PublicUser }

/** The signed-in member, as GET /api/me and GET /api/session return it. */
export interface Me extends PublicUser {
  bio: string
  inviteQuota: number
  status: Status
  createdAt: number
}
/** A search result: a member and whether I follow them. */
export interface FoundUser extends PublicUser {
  isFollowing: boolean
}
/** Whether a setup link can still be used. */
export interface SetupStatus {
  needed: boolean
  valid: boolean
}

const user = (username: string) => `/users/${encodeURIComponent(username)}`

// ── signing in and out ──
export const login = (username: string, password: string) =>
  post<{ user: Me }>('/auth/login', { username, password }).then((r) => r.user)
export const register = (body: { username: string; password: string; invite?: string; displayName?: string }) =>
  post<{ user: Me }>('/auth/register', body).then((r) => r.user)
/** Signs this device out. */
export const logout = () => post<{ ok: true }>('/auth/logout').then(() => {})
/** Signs every device out. */
export const logoutEverywhere = () => post<{ ok: true }>('/auth/logout-all').then(() => {})
/** Changes my password; my other sessions end. */
export const changePassword = (current: string, next: string) =>
  post<{ ok: true }>('/auth/password', { current, next }).then(() => {})

// ── the first-run setup ──
export const setupStatus = (token: string) => get<SetupStatus>(`/setup/${encodeURIComponent(token)}`)
/** Creates the first admin with the one-time setup token, and signs them in. */
export const setup = (token: string, username: string, password: string) =>
  post<{ user: Me }>('/setup', { token, username, password }).then((r) => r.user)

// ── me ──
/** Who is signed in: me, or null when signed out (GET /api/session answers 200 either way; index.html preloads it). */
export const fetchSession = () => get<{ user: Me | null }>('/session').then((r) => r.user)
export const updateProfile = (fields: { displayName?: string; bio?: string }) =>
  patch<{ user: Me }>('/me', fields).then((r) => r.user)
/** Uploads an avatar (the file's raw bytes: PNG, JPEG or WebP, at most 2 MB). */
export const setAvatar = (file: Blob) => put<{ user: Me }>('/me/avatar', file).then((r) => r.user)
export const removeAvatar = () => del<{ ok: true }>('/me/avatar').then(() => {})
/** Where the browser downloads my data (a link, not a fetch: the file is streamed to disk). */
export const exportUrl = '/api/me/export'
/** Deletes my account (my password is asked again); the session ends with it. */
export const deleteAccount = (password: string) => post<{ ok: true }>('/me/delete', { password }).then(() => {})
/** The people I blocked. */
export const blockedUsers = () => get<{ users: PublicUser[] }>('/me/blocks').then((r) => r.users)

// ── people ──
export const searchUsers = (q: string, limit: number) =>
  get<{ users: FoundUser[] }>(`/users${query({ q, limit })}`).then((r) => r.users)
export const profile = (username: string) => get<{ profile: Profile }>(user(username)).then((r) => r.profile)
/** Someone's followers, or the people they follow. */
export const followList = (username: string, which: 'followers' | 'following') =>
  get<{ users: PublicUser[] }>(`${user(username)}/${which}`).then((r) => r.users)
export const follow = (username: string) =>
  put<{ following: true }>(`${user(username)}/follow`).then((r) => r.following)
export const unfollow = (username: string) =>
  del<{ following: false }>(`${user(username)}/follow`).then((r) => r.following)
export const block = (username: string) => put<{ blocked: true }>(`${user(username)}/block`).then((r) => r.blocked)
export const unblock = (username: string) => del<{ blocked: false }>(`${user(username)}/block`).then((r) => r.blocked)
