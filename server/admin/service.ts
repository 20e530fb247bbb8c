// The admin console's logic: members (suspend, ban, roles, reset links), the invite tree's branches, the reports queue,
// server settings, backups and reading the audit log. Every action an admin takes is written to the audit log.
import { unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type {
  AccountStatus,
  AccountsApi,
  BackchannelApi,
  InviteTreeNode,
  InvitesApi,
  MediaApi,
  MemberRecord,
  PushApi,
  RoomsApi,
  ActivityApi,
} from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { hashToken, newToken } from '../lib/crypto'
import type { RateLimiter } from '../lib/ratelimit'
import { BackupRunningError, backupDir, createBackup, listBackups } from '../db/backup'
import type { Settings } from '../settings'
import type { AuditLog } from './audit'
import type { AdminStore, ReportRow, ReportStatus, ReportTarget } from './store'

const RESET_HOURS = 24
type Actor = { id: number; role: string }

export interface BranchNode extends Omit<InviteTreeNode, 'children'> {
  pendingInvites: number
  children: BranchNode[]
}

/** What the admin console reaches: every other domain, through its contract. */
export interface AdminDeps {
  core: Core
  accounts: AccountsApi
  invites: InvitesApi
  push: PushApi
  audit: AuditLog
  rooms: RoomsApi
  media: MediaApi
  backchannel: BackchannelApi
  activity: ActivityApi
}

export class AdminService {
  readonly store: AdminStore
  /** Reports a member may file: a burst of 10, then one every 6 minutes. */
  private reportLimit: RateLimiter
  private core: Core
  private accounts: AccountsApi
  private audit: AuditLog['record']

  constructor(private deps: AdminDeps) {
    this.core = deps.core
    this.reportLimit = deps.core.limiter('reports', 10, 1 / 360)
    this.accounts = deps.accounts
    this.audit = deps.audit.record
    this.store = deps.audit.store
  }

  async auditLog(opts: { before?: number; action?: string; limit?: number }) {
    const rows = await this.deps.audit.list(opts.before ?? Number.MAX_SAFE_INTEGER, opts.action ?? '', opts.limit ?? 50)
    const isMember = (r: { target_type: string | null; target_id: string | null }) =>
      (r.target_type === 'member' || r.target_type === 'user') && !!r.target_id
    const names = this.accounts.usernames(
      new Set([
        ...rows.flatMap((r) => (r.actor_id === null ? [] : [r.actor_id])),
        ...rows.flatMap((r) => (isMember(r) ? [Number(r.target_id)] : [])),
      ]),
    )
    return rows.map((r) => ({
      id: r.id,
      actor: r.actor_id === null ? null : (names.get(r.actor_id) ?? null),
      actorId: r.actor_id,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      targetName: isMember(r) ? (names.get(Number(r.target_id)) ?? null) : null,
      details: JSON.parse(r.details),
      createdAt: r.created_at,
    }))
  }

  // ── dashboard ──
  async stats() {
    const openReports = await this.store.openReports()
    const midnight = new Date()
    midnight.setHours(0, 0, 0, 0)
    const c = this.accounts.counts(midnight.getTime())
    // The community's live rooms, whichever node the admin's request reached (W42); /metrics counts this node's.
    const rooms = await this.deps.rooms.liveStats()
    const bc = await this.deps.backchannel.stats()
    return {
      members: c.members,
      active: c.active,
      suspended: c.suspended,
      banned: c.banned,
      admins: c.admins,
      joinedToday: c.joinedToday,
      liveRooms: rooms.liveRooms,
      inRooms: rooms.participants,
      messagesToday: bc.messagesToday,
      messages: bc.messages,
      online: this.core.sockets.stats().onlineMembers,
      openReports,
    }
  }

  // ── members ──
  async members(q: string, status: string, limit: number, offset: number) {
    return (await this.accounts.members(q.trim(), status, limit, offset)).map((u) => this.view(u))
  }

  private view(u: MemberRecord) {
    return {
      id: u.id,
      username: u.username,
      displayName: u.displayName,
      avatar: u.avatar,
      role: u.role,
      status: u.status,
      invitedBy: u.inviter,
      createdAt: u.createdAt,
      lastSeenAt: u.lastSeenAt,
      online: this.core.bus.isOnline(u.id),
      inviteQuota: u.inviteQuota,
    }
  }

  private target(actor: Actor, id: number) {
    const u = this.accounts.byId(id)
    if (!u) fail('not_found')
    if (u.id === actor.id) fail('admin_self')
    return u
  }

  /**
   * Suspends, bans or restores a member.
   * A suspended or banned member is signed out, disconnected and removed from rooms at once.
   */
  async setStatus(actor: Actor, id: number, status: AccountStatus, reason = '') {
    const u = this.target(actor, id)
    if (status !== 'active' && u.role === 'admin') fail('admin_demote_first')
    if (u.status === status) return this.memberView(u.id)
    await this.accounts.setStatus(u.id, status)
    if (status !== 'active') await this.cutOff(u.id, status === 'banned')
    const action =
      status === 'active'
        ? u.status === 'banned'
          ? 'member.unban'
          : 'member.unsuspend'
        : status === 'banned'
          ? 'member.ban'
          : 'member.suspend'
    this.audit({
      actorId: actor.id,
      action,
      targetType: 'member',
      targetId: u.id,
      details: { username: u.username, from: u.status, ...(reason ? { reason } : {}) },
    })
    return this.memberView(u.id)
  }

  /** Ends every session, closes every socket and removes the member from rooms (and, for a ban, their push devices). */
  private async cutOff(userId: number, ban: boolean) {
    const reason = ban ? 'banned' : 'suspended'
    await this.accounts.logoutEverywhere(userId, reason)
    // Already done through the sessions ending; kept for sockets of sessions being resolved right now.
    this.core.sockets.disconnectUser(userId, 4001, reason)
    try {
      await this.deps.rooms.removeUserEverywhere(userId)
    } catch (e) {
      this.core.log.error('admin: removing from rooms failed', { userId, error: e })
    }
    if (ban) await this.deps.push.removeDevices(userId)
  }

  async setRole(actor: Actor, id: number, role: 'member' | 'admin') {
    const u = this.target(actor, id)
    if (u.status !== 'active' && role === 'admin') fail('admin_not_active')
    if (u.role === role) return this.memberView(u.id)
    await this.accounts.setRole(u.id, role)
    this.audit({
      actorId: actor.id,
      action: role === 'admin' ? 'member.make_admin' : 'member.remove_admin',
      targetType: 'member',
      targetId: u.id,
      details: { username: u.username },
    })
    return this.memberView(u.id)
  }

  private async memberView(id: number) {
    return this.view((await this.accounts.member(id))!)
  }

  /**
   * A one-time link (valid 24 h) that lets the member choose a new password; older unused links stop working.
   * `actor` null: the server's operator (`townhall user reset-password`), who may make one for any member, an admin
   * included (the way back in for an admin who lost their password).
   */
  async resetLink(actor: Actor | null, id: number) {
    const u = actor ? this.target(actor, id) : this.accounts.byId(id)
    if (!u) fail('not_found')
    const token = newToken()
    const expiresAt = Date.now() + RESET_HOURS * 3_600_000
    await this.store.transaction(async (tx) => {
      await this.store.expireResets(u.id, tx)
      await this.store.insertReset(
        { userId: u.id, tokenHash: hashToken(token), createdBy: actor?.id ?? null, expiresAt },
        tx,
      )
    })
    this.audit({
      actorId: actor?.id ?? null,
      action: 'member.reset_link',
      targetType: 'member',
      targetId: u.id,
      details: { username: u.username },
    })
    return { url: `${this.core.origin()}/reset/${token}`, expiresAt }
  }

  private async usableReset(token: string) {
    const r = await this.store.resetByHash(hashToken(token))
    if (!r || r.used_at || r.expires_at <= Date.now()) fail('reset_invalid')
    const u = this.accounts.byId(r.user_id)
    if (!u || u.status === 'banned') fail('reset_invalid')
    return { r, u }
  }

  async checkReset(token: string) {
    const { r, u } = await this.usableReset(token)
    return { username: u.username, expiresAt: r.expires_at }
  }

  async useReset(token: string, password: string) {
    const { r, u } = await this.usableReset(token)
    // Spent once: of two uses at once (on any node), one wins and the other is refused.
    if (!(await this.store.useReset(r.id))) fail('reset_invalid')
    await this.accounts.resetPassword(u.id, password)
    this.audit({
      actorId: u.id,
      action: 'member.password_reset',
      targetType: 'member',
      targetId: u.id,
      details: { username: u.username, linkBy: r.created_by },
    })
    return { username: u.username }
  }

  // ── invite tree ──
  async tree(): Promise<BranchNode[]> {
    const pending = new Map<number, number>()
    for (const i of await this.deps.invites.pending()) pending.set(i.creatorId, (pending.get(i.creatorId) ?? 0) + 1)
    const deco = (n: InviteTreeNode): BranchNode => ({
      ...n,
      pendingInvites: pending.get(n.id) ?? 0,
      children: n.children.map(deco),
    })
    return this.deps.invites.tree().map(deco)
  }

  /** Revokes every unused invite of a member and of everyone invited below them; optionally suspends those below. */
  async revokeBranch(actor: Actor, rootId: number, suspendBelow: boolean) {
    const find = (nodes: InviteTreeNode[]): InviteTreeNode | null => {
      for (const n of nodes) {
        if (n.id === rootId) return n
        const f = find(n.children)
        if (f) return f
      }
      return null
    }
    const root = find(this.deps.invites.tree())
    if (!root) fail('not_found')
    const below: InviteTreeNode[] = []
    const walk = (n: InviteTreeNode) => {
      for (const c of n.children) {
        below.push(c)
        walk(c)
      }
    }
    walk(root)
    const members = new Set([root.id, ...below.map((n) => n.id)])
    const revoked: number[] = []
    for (const i of await this.deps.invites.pending()) {
      if (members.has(i.creatorId) && (await this.deps.invites.revoke(i.id, { id: actor.id, role: 'admin' })))
        revoked.push(i.id)
    }
    const suspended: string[] = []
    if (suspendBelow) {
      for (const n of below) {
        if (n.id === actor.id || n.role === 'admin' || n.status !== 'active') continue
        await this.accounts.setStatus(n.id, 'suspended')
        await this.cutOff(n.id, false)
        suspended.push(n.username)
      }
    }
    this.audit({
      actorId: actor.id,
      action: 'invite.revoke_branch',
      targetType: 'member',
      targetId: root.id,
      details: { username: root.username, revoked, suspended },
    })
    return { revoked, suspended }
  }

  // ── reports ──
  async report(reporter: { id: number }, type: ReportTarget, targetId: number, reason: string) {
    const wait = this.reportLimit.take(`u${reporter.id}`)
    if (wait) fail('rate_limited', `You have sent many reports; try again in ${Math.ceil(wait / 60)} min.`, wait)
    if (type === 'member') {
      const u = this.accounts.byId(targetId)
      if (!u || u.status === 'banned') fail('not_found')
      if (u.id === reporter.id) fail('report_self')
    } else if (type === 'room') {
      // A room the reporter may not see is not found, as for no room (its existence is not revealed).
      if (!this.deps.rooms.room(targetId) || !this.deps.rooms.mayKnow(targetId, reporter.id)) fail('not_found')
    } else if (!(await this.deps.backchannel.reportedMessage(targetId, reporter.id))) fail('not_found')
    // One open report per reporter and target, however many are sent at once.
    const id = await this.store.insertReport({
      reporterId: reporter.id,
      targetType: type,
      targetId,
      reason: reason.trim(),
    })
    if (id === null) fail('report_duplicate')
    return { id }
  }

  async reports(status: ReportStatus | 'all', limit = 100) {
    const rows = await this.store.reports(status, limit)
    const names = this.accounts.usernames(
      new Set(rows.flatMap((r) => (r.handled_by === null ? [r.reporter_id] : [r.reporter_id, r.handled_by]))),
    )
    return Promise.all(rows.map((r) => this.reportView(r, names)))
  }

  private async reportView(
    r: ReportRow,
    names = this.accounts.usernames(r.handled_by === null ? [r.reporter_id] : [r.reporter_id, r.handled_by]),
  ) {
    let target: Record<string, unknown> = { type: r.target_type, id: r.target_id }
    if (r.target_type === 'member') {
      const u = this.accounts.byId(r.target_id)
      if (u) target = { ...target, username: u.username, displayName: u.displayName, status: u.status, role: u.role }
    } else if (r.target_type === 'room') {
      const room = this.deps.rooms.room(r.target_id)
      if (room)
        target = {
          ...target,
          title: room.title,
          state: room.state,
          hostId: room.hostId,
          host: this.accounts.byId(room.hostId)?.username ?? null,
        }
    } else {
      const m = await this.deps.backchannel.reportedMessage(r.target_id, null)
      if (m)
        target = { ...target, body: m.body.slice(0, 500), author: m.author, threadId: m.threadId, authorId: m.authorId }
    }
    const handler = r.handled_by === null ? null : (names.get(r.handled_by) ?? null)
    return {
      id: r.id,
      reporter: names.get(r.reporter_id) ?? null,
      reason: r.reason,
      status: r.status,
      createdAt: r.created_at,
      handledBy: handler,
      handledAt: r.handled_at,
      note: r.note,
      target,
    }
  }

  async handleReport(actor: Actor, id: number, status: ReportStatus, note = '') {
    // `r`: the report as it was just before (of two admins at once, the second sees the first one's status).
    const r = await this.store.handleReport(id, status, actor.id, note.trim())
    if (!r) fail('not_found')
    this.audit({
      actorId: actor.id,
      action: status === 'open' ? 'report.reopen' : status === 'resolved' ? 'report.resolve' : 'report.dismiss',
      targetType: 'report',
      targetId: id,
      details: { target: `${r.target_type}:${r.target_id}`, ...(note ? { note } : {}) },
    })
    // The reporter hears that their report was handled (not by whom: no actor).
    if (status !== 'open' && status !== r.status)
      this.deps.activity.add(r.reporter_id, {
        kind: 'report_handled',
        actorId: null,
        text: status === 'resolved' ? 'Your report was handled: an admin took action' : 'Your report was reviewed',
        detail: r.reason,
        url: '/',
        dedupe: `report:${id}:${status}`,
      })
    return this.reportView((await this.store.report(id))!)
  }

  // ── settings ──
  async updateSettings(actor: Actor, patch: Partial<Settings>) {
    const settings = this.core.settings
    const before = settings.get()
    const changed: Record<string, { from: unknown; to: unknown }> = {}
    for (const [k, v] of Object.entries(patch) as [keyof Settings, unknown][]) {
      if (v !== undefined && JSON.stringify(before[k]) !== JSON.stringify(v)) changed[k] = { from: before[k], to: v }
    }
    if (Object.keys(changed).length === 0) return settings.get()
    await settings.update(patch)
    // Guest listening turned off applies at once: the guests connected now leave (their close hooks free their seats).
    if (changed.guests && patch.guests === false) this.core.sockets.disconnectGuests(4003, 'guests not allowed')
    this.audit({ actorId: actor.id, action: 'settings.update', targetType: 'settings', details: changed })
    return settings.get()
  }

  // ── backups ──
  /**
   * A backup now (database snapshot and uploads in one tar, written off the server's thread), audited with its size.
   * Only one runs at a time, a scheduled one included; the server's stop ends one under way.
   */
  async createBackup(actor: Actor | null) {
    let r: Awaited<ReturnType<typeof createBackup>>
    try {
      r = await createBackup(this.core.conn, this.core.config.dataDir, undefined, this.backupStop.signal, {
        pgDump: this.core.config.pgDump,
        warn: (message) => this.core.log.warn(message),
      })
    } catch (e) {
      if (e instanceof BackupRunningError) fail('backup_running')
      throw e
    }
    this.audit({
      actorId: actor?.id ?? null,
      action: 'backup.create',
      targetType: 'backup',
      targetId: r.name,
      details: { integrity: r.integrity, bytes: r.size, files: r.files },
    })
    return { ...this.backupInfo(r.name), integrity: r.integrity, files: r.files }
  }
  private backupStop = new AbortController()
  /** The server stops: a backup from the console stops at its next file and leaves nothing. */
  stopBackup() {
    this.backupStop.abort()
  }

  private backupInfo(name: string) {
    const b = this.backups().find((b) => b.name === name)
    if (!b) fail('not_found')
    return b
  }

  /** Full backups and pre-migrate copies, newest first. */
  backups() {
    return listBackups(this.core.config.dataDir)
  }

  /** The file of a listed backup (a name that is not listed is not found: nothing outside the folder). */
  backupPath(actor: Actor, name: string) {
    this.backupInfo(name)
    this.audit({ actorId: actor.id, action: 'backup.download', targetType: 'backup', targetId: name })
    return join(backupDir(this.core.config.dataDir), name)
  }

  deleteBackup(actor: Actor, name: string) {
    this.backupInfo(name)
    unlinkSync(join(backupDir(this.core.config.dataDir), name))
    this.audit({ actorId: actor.id, action: 'backup.delete', targetType: 'backup', targetId: name })
  }
}
