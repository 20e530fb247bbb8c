// The replay library: who may see a replay (RP40, the one check every path uses: the page, the file, the chapters,
// clips and feed items), the views, deleting and withdrawing, clips, the private podcast feed's secret, and the
// retention sweep. Files live under DATA_DIR (paths in the database are relative to it).
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { AccountsApi, AuditFn, ReplaysApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import type { PublicUser } from '../protocol'
import { podcastChapters } from './chapters'
import {
  chaptersOf,
  type ClipRow,
  clipSpeakers,
  leftOutOf,
  type ReplayRow,
  type ReplaysStore,
  speakersOf,
  timelineOf,
} from './store'

/** Cuts `durationMs` from `startMs` of an Ogg Opus file into another (the mixer's server/replays/clip.ts). */
export type CutClip = (
  srcPath: string,
  startMs: number,
  durationMs: number,
  destPath: string,
) => Promise<{ bytes: number; durationMs: number }>

/** The shortest clip (RP55); the longest is the mixer's CLIP_MAX_MS (60 s). */
export const CLIP_MIN_MS = 1_000
/** How often the retention sweep looks for replays older than `replayKeepDays` (RP64). */
const SWEEP_EVERY_MS = 3600_000
const DAY_MS = 86_400_000

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex')

export class ReplayLibrary {
  private sweepTimer: ReturnType<typeof setInterval> | null = null

  constructor(
    private d: {
      core: Core
      accounts: AccountsApi
      rooms: RoomsApi
      /** The mix job: told to mix a replay again after a withdrawal. */
      replays: ReplaysApi
      audit: AuditFn
      store: ReplaysStore
      cutClip: CutClip
    },
  ) {}

  get store() {
    return this.d.store
  }

  /**
   * [RP40] May this member see this replay (and so its file, chapters, clips, feed item)? Members only and active;
   * never one removed from the room; those who were in the room; for an open room every member who may know it
   * (not one a moderator blocked). Signed out (null): no.
   */
  maySee(replay: ReplayRow, userId: number | null): boolean {
    if (userId === null) return false
    const a = this.d.accounts.byId(userId)
    if (a?.status !== 'active') return false
    const room = this.d.rooms.room(replay.room_id)
    if (!room) return false
    if (this.d.rooms.wasRemoved(room.id, userId)) return false
    if (this.d.rooms.wasParticipant(room.id, userId)) return true
    return room.kind === 'open' && this.d.rooms.mayKnow(room.id, userId)
  }

  /** [RP40] The replay if the member may see it, else `not_found` (never a 403 that would tell it exists). */
  async visible(replayId: number, userId: number | null): Promise<ReplayRow> {
    const r = await this.d.store.byId(replayId)
    if (!r || !this.maySee(r, userId)) fail('not_found')
    return r
  }
  /** [RP41] A ready replay the member may see (the file, the chapters, a new clip). */
  async playable(replayId: number, userId: number | null): Promise<ReplayRow> {
    const r = await this.visible(replayId, userId)
    if (r.state !== 'ready' || !r.path) fail('not_found')
    return r
  }

  /** [RP45] The host of the room (or an admin) manages the replay: deletes it, sees its progress. */
  isHost(replay: ReplayRow, userId: number) {
    return this.d.rooms.room(replay.room_id)?.hostId === userId
  }

  /** An absolute path under DATA_DIR from a stored relative one (never outside it). */
  file(rel: string) {
    const root = resolve(this.d.core.config.dataDir)
    const abs = resolve(root, rel)
    if (!abs.startsWith(root + '/')) throw new Error(`replays: path ${rel} is outside the data folder`)
    return abs
  }

  private users(ids: number[]): PublicUser[] {
    const map = this.d.accounts.publicUsers(ids)
    return ids.map((id) => map.get(id)).filter((u): u is PublicUser => !!u)
  }

  /** A replay in a list. */
  summary(r: ReplayRow, viewerId: number) {
    const room = this.d.rooms.room(r.room_id)
    const host = this.isHost(r, viewerId)
    return {
      id: r.id,
      roomId: r.room_id,
      title: room?.title ?? '',
      state: r.state,
      progress: host ? r.progress : null,
      durationMs: r.duration_ms,
      createdAt: r.created_at,
      readyAt: r.ready_at,
      speakers: this.users(speakersOf(r)),
      leftOut: leftOutOf(r).length,
    }
  }

  /** A replay's page: the summary, chapters, the timeline (for the chat beside it) and what the viewer may do. */
  async detail(r: ReplayRow, viewerId: number) {
    const room = this.d.rooms.room(r.room_id)
    const host = this.isHost(r, viewerId)
    const admin = this.d.accounts.byId(viewerId)?.role === 'admin'
    const speakers = speakersOf(r)
    const [withdrawn, clips] = await Promise.all([this.d.store.withdrawn(r.id), this.d.store.clipsOf(r.id)])
    return {
      ...this.summary(r, viewerId),
      kind: room?.kind ?? 'open',
      host: room ? this.d.accounts.publicUser(room.hostId) : null,
      chapters: chaptersOf(r),
      timeline: timelineOf(r),
      error: host ? r.error : null,
      mayDelete: host || admin,
      // [RP60] Heard in it (or left out by the mix in progress after they withdrew: nothing more to do).
      mayWithdraw: speakers.includes(viewerId) && !withdrawn.includes(viewerId),
      withdrawn: withdrawn.includes(viewerId),
      clips: clips.map((c) => this.clipView(c)),
    }
  }

  /** [RP42] The replays a member may see, newest first; those not ready yet only for their host. */
  async list(viewerId: number, limit = 100) {
    const out: ReturnType<ReplayLibrary['summary']>[] = []
    for (const r of await this.d.store.recent(500)) {
      if (out.length >= limit) break
      if (r.state !== 'ready' && !this.isHost(r, viewerId)) continue
      if (this.maySee(r, viewerId)) out.push(this.summary(r, viewerId))
    }
    return out
  }

  /** [RP43] The chapters as Podcasting 2.0 JSON chapters (seconds). */
  jsonChapters(r: ReplayRow) {
    return podcastChapters(r.chapters)
  }

  // ── deleting, withdrawing, keeping ──

  /** Removes the mix, the clips' files and the room's capture files, then the rows. */
  private async erase(r: ReplayRow) {
    const clips = await this.d.store.clipsOf(r.id)
    await this.d.store.remove(r)
    for (const rel of [r.path, ...clips.map((c) => c.path)]) if (rel) rmSync(this.file(rel), { force: true })
    rmSync(this.file(join('recordings', String(r.room_id))), { recursive: true, force: true })
  }

  /** [RP61] The host of the room (who may still see it) or an admin: who deletes a replay or mixes it again. */
  private async managed(replayId: number, viewerId: number): Promise<ReplayRow> {
    const r = await this.d.store.byId(replayId)
    const admin = this.d.accounts.byId(viewerId)?.role === 'admin'
    if (!r || (!admin && !(this.maySee(r, viewerId) && this.isHost(r, viewerId)))) fail('not_found')
    return r
  }

  /** [RP61] The host of the room or an admin deletes a replay: its files go, then its rows. */
  async delete(replayId: number, viewerId: number) {
    const r = await this.managed(replayId, viewerId)
    await this.erase(r)
    this.d.audit({ actorId: viewerId, action: 'replay.delete', targetType: 'replay', targetId: r.id })
  }

  /** [RP68] The host or an admin has a failed mix tried again: pending, the mix job takes it at once. */
  async retry(replayId: number, viewerId: number) {
    const r = await this.managed(replayId, viewerId)
    if (!(await this.d.store.retry(r.id))) fail('replay_not_failed')
    this.d.audit({ actorId: viewerId, action: 'replay.retry', targetType: 'replay', targetId: r.id })
    this.d.replays.remix()
    return (await this.d.store.byId(r.id)) ?? r
  }

  /**
   * [RP62] A speaker heard in a replay withdraws from it: the replay goes back to 'pending' without them (the mix job
   * mixes it again), its file and the clips they are heard in are removed at once.
   */
  async withdraw(replayId: number, viewerId: number) {
    const r = await this.visible(replayId, viewerId)
    if (!speakersOf(r).includes(viewerId)) fail('replay_not_speaker')
    const gone = await this.d.store.withdraw(r.id, viewerId)
    for (const rel of [r.path, ...gone.map((c) => c.path)]) if (rel) rmSync(this.file(rel), { force: true })
    this.d.audit({ actorId: viewerId, action: 'replay.withdraw', targetType: 'replay', targetId: r.id })
    this.d.replays.remix()
    return (await this.d.store.byId(r.id))!
  }

  /**
   * [RP66] A member deleted their account: withdrawn from every replay they were recorded in (mixed again without
   * them), their capture files, the clips they cut and their feed removed.
   */
  async eraseMember(userId: number) {
    const { files, remix } = await this.d.store.eraseMember(userId)
    for (const rel of files) rmSync(this.file(rel), { force: true })
    if (remix) this.d.replays.remix()
  }

  /** [RP64] Removes replays older than the admin's `replayKeepDays` (0: kept forever). Returns how many. */
  async sweep(now = Date.now()) {
    const days = this.d.core.settings.get().replayKeepDays
    if (!days) return 0
    const old = await this.d.store.olderThan(now - days * DAY_MS)
    for (const r of old) {
      try {
        await this.erase(r)
      } catch (e) {
        this.d.core.log.error('replays: unable to remove an old replay', { replayId: r.id, error: e })
      }
    }
    if (old.length) this.d.core.log.info('replays: old replays removed', { count: old.length, days })
    return old.length
  }
  /** [RP64] The admin sets how long replays are kept; older ones go at once. */
  async setKeepDays(actorId: number, days: number) {
    await this.d.core.settings.update({ replayKeepDays: days })
    this.d.audit({ actorId, action: 'settings.replayKeepDays', details: { days } })
    return this.sweep()
  }
  startSweeping() {
    const sweep = () =>
      void this.sweep().catch((error) => this.d.core.log.error('replays: the retention sweep failed', { error }))
    sweep()
    this.sweepTimer = setInterval(sweep, SWEEP_EVERY_MS)
  }
  stop() {
    if (this.sweepTimer) clearInterval(this.sweepTimer)
    this.sweepTimer = null
  }

  /** [RP65] What replays, clips and capture files take (the admin console). */
  disk() {
    return this.d.store.disk()
  }

  // ── clips ──

  clipView(c: ClipRow) {
    return {
      slug: c.slug,
      replayId: c.replay_id,
      title: c.title,
      startMs: c.start_ms,
      durationMs: c.duration_ms,
      createdAt: c.created_at,
      by: this.d.accounts.publicUser(c.user_id),
      speakers: this.users(clipSpeakers(c)),
      url: `${this.d.core.origin()}/clips/${c.slug}`,
    }
  }

  /** Who is heard between two replay times: the speakers of the chapters that overlap it. */
  private speakersBetween(r: ReplayRow, from: number, to: number) {
    const chapters = chaptersOf(r).filter((c) => c.kind === 'speaker' && c.userId !== undefined)
    const ids = new Set<number>()
    chapters.forEach((c, i) => {
      const end = chapters[i + 1]?.startMs ?? r.duration_ms
      if (c.startMs < to && end > from) ids.add(c.userId!)
    })
    return [...ids]
  }

  /** [RP55] A member who may see a ready replay cuts up to 60 s of it into a clip with its own share link. */
  async cut(replayId: number, viewerId: number, input: { startMs: number; durationMs: number; title?: string }) {
    const r = await this.playable(replayId, viewerId)
    if (input.startMs + input.durationMs > r.duration_ms)
      fail('validation', `startMs: the clip ends past the replay's end (${r.duration_ms} ms)`)
    const slug = randomBytes(9).toString('base64url')
    const rel = join('replays', 'clips', `${slug}.opus`)
    const dest = this.file(rel)
    mkdirSync(dirname(dest), { recursive: true })
    const cut = await this.d.cutClip(this.file(r.path!), input.startMs, input.durationMs, dest)
    // The replay may have been deleted or withdrawn from while it was cut: then the clip goes too.
    const now = await this.d.store.byId(r.id)
    if (now?.state !== 'ready' || now.path !== r.path) {
      rmSync(dest, { force: true })
      fail('not_found')
    }
    const room = this.d.rooms.room(r.room_id)
    const clip = await this.d.store.insertClip({
      slug,
      replay_id: r.id,
      user_id: viewerId,
      title: input.title?.trim() || room?.title || 'A clip',
      start_ms: input.startMs,
      duration_ms: cut.durationMs,
      path: rel,
      bytes: cut.bytes,
      speakers: JSON.stringify(this.speakersBetween(r, input.startMs, input.startMs + input.durationMs)),
    })
    return this.clipView(clip)
  }

  /**
   * [RP56] A clip and its replay if the viewer may see it: whoever may see the replay; signed out (a link's unfurl)
   * only an open room's clip on a server that lets guests listen to open rooms.
   */
  async clip(slug: string, viewerId: number | null) {
    const c = await this.d.store.clipBySlug(slug)
    const r = c && (await this.d.store.byId(c.replay_id))
    if (!c || !r || !c.path) return null
    const room = this.d.rooms.room(r.room_id)
    const publicClip = room?.kind === 'open' && this.d.core.settings.get().guests
    if (!publicClip && !this.maySee(r, viewerId)) return null
    return { clip: c, replay: r, room }
  }

  // ── the private podcast feed ──

  /** [RP50] A new feed secret (the old one stops working); only its hash is kept. */
  async newFeedSecret(userId: number) {
    const secret = randomBytes(24).toString('base64url')
    await this.d.store.setFeed(userId, hashSecret(secret))
    return secret
  }
  removeFeed(userId: number) {
    return this.d.store.removeFeed(userId)
  }
  feedUrl = (secret: string) => `${this.d.core.origin()}/feed/${secret}.rss`

  /** [RP51] The member a feed secret belongs to, if it is current and they are active; else null. */
  async feedOwner(secret: string) {
    const userId = await this.d.store.feedOwner(hashSecret(secret))
    if (userId === null) return null
    return this.d.accounts.byId(userId)?.status === 'active' ? userId : null
  }

  /** [RP52] A feed's items: the ready replays the member may see, newest first. */
  async feedItems(userId: number, limit = 100) {
    return (await this.d.store.ready(500)).filter((r) => this.maySee(r, userId)).slice(0, limit)
  }

  title(r: ReplayRow) {
    return this.d.rooms.room(r.room_id)?.title ?? 'A replay'
  }
  speakerNames(ids: number[]) {
    return this.users(ids).map((u) => u.displayName)
  }
}
