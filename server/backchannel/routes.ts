// Backchannel over HTTP: the inbox (cached by the service worker for offline), search, images, videos and voice
// messages (served with HTTP Range requests).
// Everything else is a WebSocket request (ws.ts).
import type { BunFile } from 'bun'
import { Elysia, t } from 'elysia'
import type { AccountsApi } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import { requireUser, sessionPlugin } from '../http/session'
import { rawBody } from '../http/upload'
import { LIMITS } from '../protocol'
import type { BackchannelService } from './service'
import type { Uploads } from './uploads'
import { IdParams, Int } from '../http/params'

const ThreadParams = IdParams
const MediaParams = t.Object({
  id: Int(1),
  name: t.String({ maxLength: 80 }),
})
/** A duration the browser measured, in whole milliseconds (at most 10 hours; the upload's own rules bound it). */
const DurationMs = t.String({ pattern: '^[1-9]\\d{0,7}$' })

/**
 * A file answered whole (200) or, for a `Range: bytes=…` request, the one range asked for (206, Content-Range), or
 * 416 when the range is malformed, asks for several ranges, or starts past the end. Members only: the caller checked.
 */
async function ranged(file: BunFile, mime: string, range: string | null): Promise<Response> {
  if (!(await file.exists())) fail('not_found')
  const size = file.size
  const headers: Record<string, string> = {
    'content-type': mime,
    'accept-ranges': 'bytes',
    'cache-control': 'private, max-age=31536000, immutable',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
  }
  if (range === null) return new Response(file, { headers: { ...headers, 'content-length': String(size) } })
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
  let start = -1
  let end = size - 1
  if (m && (m[1] || m[2])) {
    if (!m[1]) start = Math.max(0, size - Number(m[2]))
    else {
      start = Number(m[1])
      if (m[2]) end = Math.min(Number(m[2]), size - 1)
    }
    // A suffix of zero bytes, or a range that starts past the end or ends before it starts, is unsatisfiable.
    if (!m[1] && Number(m[2]) === 0) start = -1
  }
  if (start < 0 || start >= size || end < start)
    return new Response(null, { status: 416, headers: { ...headers, 'content-range': `bytes */${size}` } })
  return new Response(file.slice(start, end + 1), {
    status: 206,
    headers: {
      ...headers,
      'content-range': `bytes ${start}-${end}/${size}`,
      'content-length': String(end - start + 1),
    },
  })
}

export const backchannelRoutes = (
  deps: { core: Core; accounts: AccountsApi },
  bc: BackchannelService,
  uploads: Uploads,
) =>
  new Elysia({ prefix: '/api', tags: ['backchannel'] } as any)
    .use(sessionPlugin(deps))
    .get(
      '/threads',
      ({ viewer, set }) => {
        set.headers['cache-control'] = 'private, no-cache'
        return bc.reader.inbox(requireUser(viewer).user.id)
      },
      { detail: { summary: 'My inbox: threads and requests with unread counts and the last message' } },
    )
    .get('/threads/search', ({ viewer, query }) => bc.reader.search(requireUser(viewer).user.id, query.q), {
      query: t.Object({ q: t.String({ minLength: 1, maxLength: 200 }) }),
      detail: { summary: 'Search my messages (FTS5, with snippets)' },
    })
    .get(
      '/threads/:id',
      async ({ viewer, params }) => {
        const uid = requireUser(viewer).user.id
        await bc.readable(params.id, uid)
        return {
          thread: await bc.threadFor(params.id, uid),
          ...(await bc.reader.history(uid, params.id, undefined, LIMITS.page)),
        }
      },
      { params: ThreadParams, detail: { summary: 'A thread with its latest messages' } },
    )
    .post(
      '/threads/:id/images',
      async ({ viewer, params, request, set }) => {
        const uid = requireUser(viewer).user.id
        const bytes = await rawBody(request, LIMITS.imageBytes, 'An image may be at most 10 MB.')
        set.status = 201
        return { image: await uploads.save(uid, Number(params.id), bytes) }
      },
      {
        params: ThreadParams,
        parse: 'none',
        detail: { summary: 'Upload an image (raw PNG, JPEG, WebP or GIF bytes, ≤10 MB) to send in a thread' },
      } as any,
    )
    .post(
      '/threads/:id/videos',
      async ({ viewer, params, query, request, set }) => {
        const uid = requireUser(viewer).user.id
        const mb = deps.core.settings.get().maxVideoMb
        const bytes = await rawBody(request, mb * 1024 * 1024, `A video may be at most ${mb} MB.`)
        const durationMs = Number(query.durationMs)
        const video = await uploads.saveVideo(uid, Number(params.id), bytes, { durationMs, poster: query.poster })
        set.status = 201
        return { video }
      },
      {
        params: ThreadParams,
        query: t.Object({ durationMs: DurationMs, poster: t.Optional(t.String({ maxLength: 80 })) }),
        parse: 'none',
        detail: {
          summary: 'Upload a video (raw MP4 H.264/AAC or WebM VP8/VP9/AV1/Opus bytes, ≤ the maxVideoMb setting)',
        },
      } as any,
    )
    .post(
      '/threads/:id/voice',
      async ({ viewer, params, query, request, set }) => {
        const uid = requireUser(viewer).user.id
        const bytes = await rawBody(request, LIMITS.voiceBytes, 'A voice message may be at most 10 MB.')
        const waveform = query.waveform.split(',').map(Number)
        if (waveform.some((v: number) => v > 255)) fail('validation', 'waveform: levels are 0–255')
        const voice = await uploads.saveVoice(uid, Number(params.id), bytes, {
          durationMs: Number(query.durationMs),
          waveform,
        })
        set.status = 201
        return { voice }
      },
      {
        params: ThreadParams,
        query: t.Object({
          durationMs: DurationMs,
          waveform: t.String({
            pattern: `^\\d{1,3}(,\\d{1,3}){${LIMITS.waveformMin - 1},${LIMITS.waveformMax - 1}}$`,
            maxLength: 4 * LIMITS.waveformMax,
          }),
        }),
        parse: 'none',
        detail: { summary: 'Upload a voice message (raw Opus in WebM or Ogg, ≤ 5 minutes) with its waveform' },
      } as any,
    )
    .get(
      '/threads/:id/media/:name',
      async ({ viewer, params, request }) => {
        const { file, mime } = await uploads.open(requireUser(viewer).user.id, params.id, params.name)
        return ranged(file, mime, request.headers.get('range'))
      },
      {
        params: MediaParams,
        detail: { summary: 'A video or voice message sent in a thread (members only; HTTP Range requests: 206)' },
      },
    )
    .get(
      '/threads/:id/images/:name',
      async ({ viewer, params, set }) => {
        const { file, mime } = await uploads.open(requireUser(viewer).user.id, params.id, params.name)
        if (!(await file.exists())) fail('not_found')
        set.headers['content-type'] = mime
        set.headers['cache-control'] = 'private, max-age=31536000, immutable'
        set.headers['x-content-type-options'] = 'nosniff'
        set.headers['content-security-policy'] = "default-src 'none'; sandbox"
        return file
      },
      {
        params: t.Object({
          id: Int(1),
          name: t.String({ maxLength: 80 }),
        }),
        detail: { summary: 'An image sent in a thread (members only)' },
      },
    )
