// Admin over HTTP (server/admin/routes.ts): a member's report and the password-reset link, then the console's
// calls (dashboard, members, invite tree, reports, settings, backups, audit log). Each returns what its route returns.
import { del, get, patch, post, put, query } from './api'
// The wire shapes are the server's own (type-only imports: nothing of the server is bundled).
import type { Status } from '../../server/accounts/model'
import type { PublicUser, Role } from '../../server/protocol'
import type { BranchNode } from '../../server/admin/service'
import type { RoomSummary } from '../../server/contracts'
import type { Settings } from '../../server/settings'

export type { BranchNode, Settings }
export type ReportKind = 'member' | 'room' | 'message'
export type ReportStatus = 'open' | 'resolved' | 'dismissed'
export type MemberFilter = 'all' | 'active' | 'suspended' | 'banned' | 'admin'

/** The dashboard's numbers. */
export interface AdminStats {
  members: number
  active: number
  suspended: number
  banned: number
  admins: number
  joinedToday: number
  liveRooms: number
  inRooms: number
  messagesToday: number
  messages: number
  online: number
  openReports: number
}
/** A member as the console lists them. */
export interface AdminMember extends PublicUser {
  status: Status
  invitedBy: string | null
  createdAt: number
  lastSeenAt: number | null
  online: boolean
  inviteQuota: number
}
/** What a report is about, with what is known of it (nothing more than type and id when it is gone). */
export type ReportTarget =
  | ({ type: 'member'; id: number } & Partial<{ username: string; displayName: string; status: Status; role: Role }>)
  | ({ type: 'room'; id: number } & Partial<{
      title: string
      state: RoomSummary['state']
      hostId: number
      host: string | null
    }>)
  | ({ type: 'message'; id: number } & Partial<{
      body: string
      author: string | null
      threadId: number
      authorId: number | null
    }>)
export interface AdminReport {
  id: number
  reporter: string | null
  reason: string
  status: ReportStatus
  createdAt: number
  handledBy: string | null
  handledAt: number | null
  note: string
  target: ReportTarget
}
export interface Backup {
  name: string
  size: number
  createdAt: number
  /** A full backup (tar), or the database copy taken before an upgrade migrated it. */
  kind: 'backup' | 'pre-migrate'
}
/** One line of the audit log. */
export interface AuditRecord {
  id: number
  actor: string | null
  actorId: number | null
  action: string
  targetType: string | null
  targetId: string | null
  targetName: string | null
  details: Record<string, unknown>
  createdAt: number
}

const member = (id: number) => `/admin/members/${id}`

// ── any member ──
/** Reports a member, a room or a message to the admins. */
export const sendReport = (targetType: ReportKind, targetId: number, reason: string) =>
  post<{ report: { id: number } }>('/reports', { targetType, targetId, reason }).then((r) => r.report)
/** Whether a password-reset link can be used, and for whom. */
export const checkReset = (token: string) =>
  get<{ reset: { username: string; expiresAt: number } }>(`/reset/${encodeURIComponent(token)}`).then((r) => r.reset)
/** Sets a new password with a one-time reset link (every session of the member ends). */
export const resetPassword = (token: string, password: string) =>
  post<{ reset: { username: string } }>(`/reset/${encodeURIComponent(token)}`, { password }).then((r) => r.reset)

// ── dashboard ──
export const stats = () => get<{ stats: AdminStats }>('/admin/stats').then((r) => r.stats)

// ── members ──
export const members = (q: string, status: MemberFilter, limit: number) =>
  get<{ members: AdminMember[] }>(`/admin/members${query({ q, status, limit })}`).then((r) => r.members)
const memberAction = (id: number, action: 'suspend' | 'unsuspend' | 'ban' | 'unban', body?: { reason?: string }) =>
  post<{ member: AdminMember }>(`${member(id)}/${action}`, body).then((r) => r.member)
/** Suspends a member (signed out everywhere until unsuspended); the reason is for the audit log. */
export const suspendMember = (id: number, reason?: string) => memberAction(id, 'suspend', { reason })
export const unsuspendMember = (id: number) => memberAction(id, 'unsuspend')
/** Bans a member (signed out, removed from rooms, hidden from everyone). */
export const banMember = (id: number, reason?: string) => memberAction(id, 'ban', { reason })
export const unbanMember = (id: number) => memberAction(id, 'unban')
export const setMemberRole = (id: number, role: Role) =>
  put<{ member: AdminMember }>(`${member(id)}/role`, { role }).then((r) => r.member)
/** A one-time link (24 h) for the member to choose a new password. */
export const resetLink = (id: number) => post<{ url: string; expiresAt: number }>(`${member(id)}/reset-link`)

// ── invite tree ──
export const inviteTree = () => get<{ tree: BranchNode[] }>('/admin/tree').then((r) => r.tree)
/** Revokes the unused invites of a member and everyone below; optionally suspends those below. */
export const revokeBranch = (id: number, suspend: boolean) =>
  post<{ revoked: number[]; suspended: string[] }>(`/admin/tree/${id}/revoke`, { suspend })

// ── reports ──
export const reports = (status: ReportStatus | 'all') =>
  get<{ reports: AdminReport[] }>(`/admin/reports${query({ status })}`).then((r) => r.reports)
export const handleReport = (id: number, status: ReportStatus, note?: string) =>
  patch<{ report: AdminReport }>(`/admin/reports/${id}`, { status, note }).then((r) => r.report)

// ── settings ──
export const settings = () => get<{ settings: Settings }>('/admin/settings').then((r) => r.settings)
export const updateSettings = (changes: Partial<Settings>) =>
  patch<{ settings: Settings }>('/admin/settings', changes).then((r) => r.settings)

// ── backups ──
export const backups = () => get<{ backups: Backup[] }>('/admin/backups').then((r) => r.backups)
/** Writes a consistent copy of the database now; `integrity` is SQLite's integrity check of the copy ("ok"). */
export const createBackup = () =>
  post<{ backup: Backup & { integrity: string; files: number } }>('/admin/backups').then((r) => r.backup)
export const deleteBackup = (name: string) =>
  del<{ ok: true }>(`/admin/backups/${encodeURIComponent(name)}`).then(() => {})
/** Where the browser downloads a backup (a link, not a fetch: the file is streamed to disk). */
export const backupUrl = (name: string) => `/api/admin/backups/${encodeURIComponent(name)}`

// ── audit log ──
/** A page of the audit log, newest first: entries before `before` (an id), of actions starting with `action`. */
export const auditLog = (opts: { limit: number; action?: string; before?: number }) =>
  get<{ entries: AuditRecord[] }>(`/admin/audit${query(opts)}`).then((r) => r.entries)
