// Backchannel over HTTP: the inbox (cached by the service worker for offline), search, and images.
// Everything else is a WebSocket request (ws.ts).
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
      ({ viewer, params }) => {
        const uid = requireUser(viewer).user.id
        bc.readable(params.id, uid)
        return { thread: bc.threadFor(params.id, uid), ...bc.reader.history(uid, params.id, undefined, LIMITS.page) }
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
    .get(
      '/threads/:id/images/:name',
      async ({ viewer, params, set }) => {
        const { file, mime } = uploads.open(requireUser(viewer).user.id, params.id, params.name)
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
