// The admin console's logic: the audit log, members (suspend, ban, roles, reset links), the invite tree's branches,
// the reports queue, server settings and backups. Every action an admin takes is written to the audit log.
import { readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Ctx } from '../context'
import type { AuditEntry } from '../contracts'
import { fail } from '../errors'
import { hashToken, newToken } from '../lib/crypto'
import { RateLimiter } from '../lib/ratelimit'
import { createBackup, verifyBackup } from '../db/backup'
import { publicUser, type Status, type UserRow } from '../accounts/model'
import type { TreeNode } from '../invites/service'
import type { Settings } from '../settings'
import type { PushService } from '../push/service'
import { AdminStore, type MemberRow, type ReportRow } from './store'

export const RESET_HOURS = 24
export const BACKUP_NAME = /^townhall-[0-9A-Za-z-]{10,40}\.db$/
type Actor = { id: number; role: string }
export type ReportTarget = 'member' | 'room' | 'message'

export interface BranchNode extends Omit<TreeNode, 'children'> { pendingInvites: number; children: BranchNode[] }

export class AdminService {
  readonly store: AdminStore
  /** Reports a member may file: a burst of 10, then one every 6 minutes. */
  private reportLimit = new RateLimiter(10, 1 / 360)

  constructor(private ctx: Ctx, private push?: PushService) {
    this.store = new AdminStore(ctx.db)
  }

  /** ctx.audit: records an admin or moderator action. Never throws into the caller. */
  readonly audit = (e: AuditEntry) => {
    try {
      this.store.audit(e.actorId, e.action.slice(0, 64), e.targetType ?? null, e.targetId === undefined ? null : String(e.targetId), JSON.stringify(e.details ?? {}))
    } catch (err) { this.ctx.log.error('audit: write failed', { action: e.action, error: err }) }
  }

  auditLog(opts: { before?: number; action?: string; limit?: number }) {
    return this.store.auditList(opts.before ?? Number.MAX_SAFE_INTEGER, opts.action ?? '', opts.limit ?? 50).map((r) => ({
      id: r.id, actor: r.actor, actorId: r.actor_id, action: r.action, targetType: r.target_type, targetId: r.target_id,
      targetName: (r.target_type === 'member' || r.target_type === 'user') && r.target_id ? this.ctx.accounts.store.byId(Number(r.target_id))?.username ?? null : null,
      details: JSON.parse(r.details), createdAt: r.created_at,
    }))
  }

  // ── dashboard ──
  stats() {
    const midnight = new Date(); midnight.setHours(0, 0, 0, 0)
    const c = this.store.counts(midnight.getTime())
    const rooms = this.ctx.rooms?.stats() ?? { liveRooms: 0, participants: 0 }
    const bc = this.ctx.backchannel?.stats() ?? { messages: 0, messagesToday: 0 }
    return {
      members: c.members, active: c.active ?? 0, suspended: c.suspended ?? 0, banned: c.banned ?? 0, admins: c.admins ?? 0, joinedToday: c.joinedToday ?? 0,
      liveRooms: rooms.liveRooms, inRooms: rooms.participants, messagesToday: bc.messagesToday, messages: bc.messages,
      online: this.ctx.hub.onlineUsers, openReports: this.store.openReports(),
    }
  }

  // ── members ──
  members(q: string, status: string, limit: number, offset: number) {
    return this.store.members(q.trim(), status, limit, offset).map((u) => this.view(u))
  }

  private view(u: MemberRow) {
    return {
      ...publicUser(u), status: u.status, invitedBy: u.inviter, createdAt: u.created_at, lastSeenAt: u.last_seen,
      online: this.ctx.hub.isOnline(u.id), inviteQuota: u.invite_quota,
    }
  }

  private target(actor: Actor, id: number): UserRow {
    const u = this.ctx.accounts.store.byId(id)
    if (!u) fail('not_found')
    if (u.id === actor.id) fail('admin_self')
    return u
  }

  /** Suspends, bans or restores a member. A suspended or banned member is signed out, disconnected and removed from rooms at once. */
  setStatus(actor: Actor, id: number, status: Status, reason = '') {
    const u = this.target(actor, id)
    if (status !== 'active' && u.role === 'admin') fail('admin_demote_first')
    if (u.status === status) return this.memberView(u.id)
    this.store.setStatus(u.id, status)
    if (status !== 'active') this.cutOff(u.id, status === 'banned')
    const action = status === 'active' ? (u.status === 'banned' ? 'member.unban' : 'member.unsuspend') : status === 'banned' ? 'member.ban' : 'member.suspend'
    this.audit({ actorId: actor.id, action, targetType: 'member', targetId: u.id, details: { username: u.username, from: u.status, ...(reason ? { reason } : {}) } })
    return this.memberView(u.id)
  }

  /** Ends every session, closes every socket and removes the member from rooms (and, for a ban, their push devices). */
  private cutOff(userId: number, ban: boolean) {
    this.ctx.accounts.logoutEverywhere(userId)
    this.ctx.hub.disconnectUser(userId) // already done through the sessions ending; kept for sockets of sessions being resolved right now
    try { this.ctx.rooms?.removeUserEverywhere(userId) } catch (e) { this.ctx.log.error('admin: removing from rooms failed', { userId, error: e }) }
    if (ban) this.push?.store.removeUser(userId)
  }

  setRole(actor: Actor, id: number, role: 'member' | 'admin') {
    const u = this.target(actor, id)
    if (u.status !== 'active' && role === 'admin') fail('admin_not_active')
    if (u.role === role) return this.memberView(u.id)
    this.store.setRole(u.id, role)
    this.audit({ actorId: actor.id, action: role === 'admin' ? 'member.make_admin' : 'member.remove_admin', targetType: 'member', targetId: u.id, details: { username: u.username } })
    return this.memberView(u.id)
  }

  private memberView(id: number) { return this.view(this.store.member(id)!) }

  /** A one-time link (valid 24 h) that lets the member choose a new password; older unused links stop working. */
  resetLink(actor: Actor, id: number) {
    const u = this.target(actor, id)
    const token = newToken()
    const expiresAt = Date.now() + RESET_HOURS * 3_600_000
    this.ctx.db.transaction(() => {
      this.store.expireResets(u.id)
      this.store.insertReset(u.id, hashToken(token), actor.id, expiresAt)
    })()
    this.audit({ actorId: actor.id, action: 'member.reset_link', targetType: 'member', targetId: u.id, details: { username: u.username } })
    return { url: `${this.ctx.origin()}/reset/${token}`, expiresAt }
  }

  private usableReset(token: string) {
    const r = this.store.resetByHash(hashToken(token))
    if (!r || r.used_at || r.expires_at <= Date.now()) fail('reset_invalid')
    const u = this.ctx.accounts.store.byId(r.user_id)
    if (!u || u.status === 'banned') fail('reset_invalid')
    return { r, u }
  }

  checkReset(token: string) {
    const { r, u } = this.usableReset(token)
    return { username: u.username, expiresAt: r.expires_at }
  }

  async useReset(token: string, password: string) {
    const { r, u } = this.usableReset(token)
    if (!this.store.useReset(r.id)) fail('reset_invalid')
    await this.ctx.accounts.resetPassword(u.id, password)
    this.audit({ actorId: u.id, action: 'member.password_reset', targetType: 'member', targetId: u.id, details: { username: u.username, linkBy: r.created_by } })
    return { username: u.username }
  }

  // ── invite tree ──
  tree(): BranchNode[] {
    const pending = new Map<number, number>()
    for (const i of this.ctx.invites.pending()) pending.set(i.creator_id, (pending.get(i.creator_id) ?? 0) + 1)
    const deco = (n: TreeNode): BranchNode => ({ ...n, pendingInvites: pending.get(n.id) ?? 0, children: n.children.map(deco) })
    return this.ctx.invites.tree().map(deco)
  }

  /** Revokes every unused invite of a member and of everyone invited below them; optionally suspends those below. */
  revokeBranch(actor: Actor, rootId: number, suspendBelow: boolean) {
    const find = (nodes: TreeNode[]): TreeNode | null => {
      for (const n of nodes) { if (n.id === rootId) return n; const f = find(n.children); if (f) return f }
      return null
    }
    const root = find(this.ctx.invites.tree())
    if (!root) fail('not_found')
    const below: TreeNode[] = []
    const walk = (n: TreeNode) => { for (const c of n.children) { below.push(c); walk(c) } }
    walk(root)
    const members = new Set([root.id, ...below.map((n) => n.id)])
    const revoked: number[] = []
    for (const i of this.ctx.invites.pending()) {
      if (members.has(i.creator_id) && this.ctx.invites.revoke(i.id, { id: actor.id, role: 'admin' })) revoked.push(i.id)
    }
    const suspended: string[] = []
    if (suspendBelow) {
      for (const n of below) {
        if (n.id === actor.id || n.role === 'admin' || n.status !== 'active') continue
        this.store.setStatus(n.id, 'suspended')
        this.cutOff(n.id, false)
        suspended.push(n.username)
      }
    }
    this.audit({ actorId: actor.id, action: 'invite.revoke_branch', targetType: 'member', targetId: root.id, details: { username: root.username, revoked, suspended } })
    return { revoked, suspended }
  }

  // ── reports ──
  report(reporter: { id: number }, type: ReportTarget, targetId: number, reason: string) {
    const wait = this.reportLimit.take(`u${reporter.id}`)
    if (wait) fail('rate_limited', `You have sent many reports; try again in ${Math.ceil(wait / 60)} min.`, wait)
    if (type === 'member') {
      const u = this.ctx.accounts.store.byId(targetId)
      if (!u || u.status === 'banned') fail('not_found')
      if (u.id === reporter.id) fail('report_self')
    } else if (type === 'room') {
      // A room the reporter may not see is not found, as for no room (its existence is not revealed).
      if (!this.ctx.rooms?.room(targetId) || !this.ctx.rooms.mayKnow(targetId, reporter.id)) fail('not_found')
    } else if (!this.ctx.backchannel?.reportedMessage(targetId, reporter.id)) fail('not_found')
    if (this.store.openReportBy(reporter.id, type, targetId)) fail('report_duplicate')
    const id = this.store.insertReport(reporter.id, type, targetId, reason.trim())
    return { id }
  }

  reports(status: 'open' | 'resolved' | 'dismissed' | 'all', limit = 100) {
    return this.store.reports(status, limit).map((r) => this.reportView(r))
  }

  private reportView(r: ReportRow) {
    let target: Record<string, unknown> = { type: r.target_type, id: r.target_id }
    if (r.target_type === 'member') {
      const u = this.ctx.accounts.store.byId(r.target_id)
      if (u) target = { ...target, username: u.username, displayName: u.display_name || u.username, status: u.status, role: u.role }
    } else if (r.target_type === 'room') {
      const room = this.ctx.rooms?.room(r.target_id)
      if (room) target = { ...target, title: room.title, state: room.state, hostId: room.hostId, host: this.ctx.accounts.store.byId(room.hostId)?.username ?? null }
    } else {
      const m = this.ctx.backchannel?.reportedMessage(r.target_id, null)
      if (m) target = { ...target, body: m.body.slice(0, 500), author: m.author, threadId: m.threadId, authorId: m.authorId }
    }
    return { id: r.id, reporter: r.reporter, reason: r.reason, status: r.status, createdAt: r.created_at, handledBy: r.handler, handledAt: r.handled_at, note: r.note, target }
  }

  handleReport(actor: Actor, id: number, status: 'resolved' | 'dismissed' | 'open', note = '') {
    const r = this.store.report(id)
    if (!r) fail('not_found')
    this.store.handleReport(id, status, actor.id, note.trim())
    this.audit({ actorId: actor.id, action: status === 'open' ? 'report.reopen' : status === 'resolved' ? 'report.resolve' : 'report.dismiss', targetType: 'report', targetId: id, details: { target: `${r.target_type}:${r.target_id}`, ...(note ? { note } : {}) } })
    return this.reportView(this.store.report(id)!)
  }

  // ── settings ──
  updateSettings(actor: Actor, patch: Partial<Settings>) {
    const before = this.ctx.settings.get()
    const changed: Record<string, { from: unknown; to: unknown }> = {}
    for (const [k, v] of Object.entries(patch) as [keyof Settings, unknown][]) {
      if (v !== undefined && JSON.stringify(before[k]) !== JSON.stringify(v)) changed[k] = { from: before[k], to: v }
    }
    if (Object.keys(changed).length === 0) return this.ctx.settings.get()
    this.ctx.settings.update(patch)
    // Guest listening turned off applies at once: the guests connected now leave (their close hooks free their seats).
    if (changed.guests && patch.guests === false) {
      for (const c of [...this.ctx.hub.conns]) if (!c.user) { try { c.raw.close(4003, 'guests not allowed') } catch { /* already gone */ } this.ctx.hub.close(c) }
    }
    this.audit({ actorId: actor.id, action: 'settings.update', targetType: 'settings', details: changed })
    return this.ctx.settings.get()
  }

  // ── backups ──
  private backupDir() { return join(this.ctx.config.dataDir, 'backups') }

  createBackup(actor: Actor | null) {
    const file = createBackup(this.ctx.db, this.ctx.config.dataDir)
    const integrity = verifyBackup(file)
    const name = file.split(/[\\/]/).pop()!
    this.audit({ actorId: actor?.id ?? null, action: 'backup.create', targetType: 'backup', targetId: name, details: { integrity, bytes: statSync(file).size } })
    return { ...this.backupInfo(name), integrity }
  }

  private backupInfo(name: string) {
    const st = statSync(join(this.backupDir(), name))
    return { name, size: st.size, createdAt: st.mtimeMs }
  }

  backups() {
    let names: string[] = []
    try { names = readdirSync(this.backupDir()).filter((n) => BACKUP_NAME.test(n)) } catch { /* no folder yet */ }
    return names.map((n) => this.backupInfo(n)).sort((a, b) => b.createdAt - a.createdAt)
  }

  backupPath(actor: Actor, name: string) {
    if (!BACKUP_NAME.test(name) || !this.backups().some((b) => b.name === name)) fail('not_found')
    this.audit({ actorId: actor.id, action: 'backup.download', targetType: 'backup', targetId: name })
    return join(this.backupDir(), name)
  }

  deleteBackup(actor: Actor, name: string) {
    if (!BACKUP_NAME.test(name) || !this.backups().some((b) => b.name === name)) fail('not_found')
    unlinkSync(join(this.backupDir(), name))
    this.audit({ actorId: actor.id, action: 'backup.delete', targetType: 'backup', targetId: name })
  }
}
