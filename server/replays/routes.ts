// Replays over HTTP (the API, for the app): the list, a replay's page, its file (with Range) and JSON chapters,
// deleting and withdrawing, cutting a clip, the private feed's address, and the admin's retention setting and disk.
import { Elysia, t } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { IdParams, Int } from '../http/params'
import { requireAdmin, requireUser, sessionPlugin } from '../http/session'
import { CLIP_MAX_MS } from './clip'
import { CLIP_MIN_MS, type ReplayLibrary } from './library'
import { fileResponse } from './range'

const ClipBody = t.Object({
  startMs: t.Integer({ minimum: 0, maximum: 86_400_000 * 7, error: 'expected an integer number of milliseconds' }),
  durationMs: t.Integer({
    minimum: CLIP_MIN_MS,
    maximum: CLIP_MAX_MS,
    error: `expected an integer from ${CLIP_MIN_MS} to ${CLIP_MAX_MS} (ms)`,
  }),
  title: t.Optional(t.String({ maxLength: 120 })),
})
const KeepBody = t.Object({ keepDays: Int(0, 36_500) })
const AudioQuery = t.Object({ download: t.Optional(t.Union([t.Literal('1'), t.Literal('0')])) })

/** A file name for a download: the room's title, safe on every system. */
export const downloadName = (title: string, id: number) =>
  `${
    [...title]
      .filter((c) => c >= ' ')
      .join('')
      .replace(/[\\/:*?"<>|]/g, '')
      .trim()
      .slice(0, 80) || 'replay'
  } (${id}).opus`

export const replayRoutes = (deps: { core: Core; accounts: AccountsApi }, lib: ReplayLibrary) => {
  const { core } = deps
  const admin = async () => {
    const keepDays = core.settings.get().replayKeepDays
    const replays = await Promise.all(
      (await lib.store.recent(500)).map(async (r) => ({
        id: r.id,
        roomId: r.room_id,
        title: lib.title(r),
        state: r.state,
        bytes: r.bytes,
        clips: (await lib.store.clipsOf(r.id)).reduce((n, c) => n + c.bytes, 0),
        createdAt: r.created_at,
      })),
    )
    return { keepDays, disk: await lib.disk(), replays }
  }
  return new Elysia({ prefix: '/api', tags: ['replays'] } as any)
    .use(sessionPlugin(deps))
    .get('/replays', async ({ viewer }) => ({ replays: await lib.list(requireUser(viewer).user.id) }), {
      detail: { summary: 'The replays I may see, newest first (those still being mixed only for their host)' },
    })
    .get(
      '/replays/:id',
      async ({ viewer, params }) => {
        const userId = requireUser(viewer).user.id
        return { replay: await lib.detail(await lib.visible(params.id, userId), userId) }
      },
      {
        params: IdParams,
        detail: { summary: 'A replay: title, date, speakers, who was left out, chapters, timeline, clips, state' },
      },
    )
    .get(
      '/replays/:id/audio',
      async ({ viewer, params, query, request }) => {
        const r = await lib.playable(params.id, requireUser(viewer).user.id)
        const download = query.download === '1' ? downloadName(lib.title(r), r.id) : undefined
        return fileResponse(request, lib.file(r.path!), { type: 'audio/ogg', download })
      },
      {
        params: IdParams,
        query: AudioQuery,
        detail: { summary: "A replay's Ogg Opus file, with Range requests (download=1: as an attachment)" },
      },
    )
    .get(
      '/replays/:id/chapters',
      async ({ viewer, params }) => lib.jsonChapters(await lib.playable(params.id, requireUser(viewer).user.id)),
      { params: IdParams, detail: { summary: "A replay's chapters (Podcasting 2.0 JSON chapters)" } },
    )
    .delete(
      '/replays/:id',
      async ({ viewer, params }) => {
        await lib.delete(params.id, requireUser(viewer).user.id)
        return { ok: true as const }
      },
      { params: IdParams, detail: { summary: 'Delete a replay and its files (the host of its room, or an admin)' } },
    )
    .post(
      '/replays/:id/withdraw',
      async ({ viewer, params }) => {
        const userId = requireUser(viewer).user.id
        return { replay: lib.summary(await lib.withdraw(params.id, userId), userId) }
      },
      {
        params: IdParams,
        detail: { summary: 'Withdraw my voice from a replay I am heard in: it is mixed again without me' },
      },
    )
    .post(
      '/replays/:id/retry',
      async ({ viewer, params }) => {
        const userId = requireUser(viewer).user.id
        return { replay: lib.summary(await lib.retry(params.id, userId), userId) }
      },
      {
        params: IdParams,
        detail: { summary: 'Mix a replay whose mix failed again (the host of its room, or an admin)' },
      },
    )
    .post(
      '/replays/:id/clips',
      async ({ viewer, params, body, set }) => {
        const clip = await lib.cut(params.id, requireUser(viewer).user.id, body)
        set.status = 201
        return { clip }
      },
      { params: IdParams, body: ClipBody, detail: { summary: 'Cut up to 60 s of a replay into a clip with a link' } },
    )
    .get(
      '/rooms/:id/replay',
      async ({ viewer, params }) => {
        const userId = requireUser(viewer).user.id
        const r = await lib.store.byRoom(params.id)
        const shown = r && lib.maySee(r, userId) && (r.state === 'ready' || lib.isHost(r, userId))
        return { replay: shown ? lib.summary(r, userId) : null }
      },
      { params: IdParams, detail: { summary: "An ended room's replay, if there is one I may see" } },
    )
    .get('/feed', async ({ viewer }) => ({ createdAt: await lib.store.feedCreatedAt(requireUser(viewer).user.id) }), {
      detail: { summary: 'Whether I have a private podcast feed, and since when (its address is shown once)' },
    })
    .post(
      '/feed',
      async ({ viewer, set }) => {
        set.status = 201
        return { url: lib.feedUrl(await lib.newFeedSecret(requireUser(viewer).user.id)) }
      },
      { detail: { summary: 'A new address for my private podcast feed (any older one stops working)' } },
    )
    .delete(
      '/feed',
      async ({ viewer }) => {
        await lib.removeFeed(requireUser(viewer).user.id)
        return { ok: true as const }
      },
      { detail: { summary: 'Remove my private podcast feed (its address stops working)' } },
    )
    .get(
      '/admin/replays',
      ({ viewer }) => {
        requireAdmin(viewer)
        return admin()
      },
      { detail: { summary: 'Replays: how long they are kept, and the disk replays, clips and recordings take' } },
    )
    .patch(
      '/admin/replays',
      async ({ viewer, body }) => {
        await lib.setKeepDays(requireAdmin(viewer).user.id, body.keepDays)
        return admin()
      },
      { body: KeepBody, detail: { summary: 'Set how many days replays are kept (0: forever); older ones go now' } },
    )
}
