// Serves the PWA: from the files embedded in the binary, or, when run from source, from a bundle built in memory
// once per process (scripts/client.ts: the same hashed names and precompressed forms as `npm run build`).
// A file is sent brotli- or gzip-compressed when the browser accepts it (Vary: Accept-Encoding); hashed names are
// cached for a year (immutable), index.html and the service worker are revalidated every time (no-cache). A screen
// opened in the browser gets index.html with the app's first data in it (P16: who I am, a member's hallway list).
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { Elysia } from 'elysia'
import type { Viewer } from '../contracts'
import { errorBody } from '../errors'
import { requestPath } from './guard'

type Encoding = 'br' | 'gzip'
interface Variant {
  body: Uint8Array
  etag: string
}
interface Served {
  type: string
  cache: string
  identity: Variant
  br?: Variant
  gzip?: Variant
}
// `bun build --compile --asset=client/dist` names the files relative to the asset folder's parent: dist/…
const EMBED_PREFIXES = ['client/dist/', 'dist/']
/** Names with a content hash (scripts/client.ts HASHED). */
const HASHED = /^\/(app|chunk)\.[a-z0-9]+\.(js|css)$/
let loading: Promise<Map<string, Served>> | null = null

const typeOf = (p: string) =>
  p.endsWith('.js')
    ? 'text/javascript; charset=utf-8'
    : p.endsWith('.css')
      ? 'text/css; charset=utf-8'
      : p.endsWith('.html')
        ? 'text/html; charset=utf-8'
        : p.endsWith('.webmanifest')
          ? 'application/manifest+json'
          : p.endsWith('.png')
            ? 'image/png'
            : p.endsWith('.svg')
              ? 'image/svg+xml'
              : 'application/octet-stream'

const cacheOf = (p: string) =>
  HASHED.test(p)
    ? 'public, max-age=31536000, immutable'
    : p.startsWith('/icons/')
      ? 'public, max-age=86400'
      : 'no-cache'

const variant = (bytes: Uint8Array, tag: string): Variant => ({
  body: bytes,
  etag: `"${Bun.hash(bytes).toString(36)}${tag}"`,
})

/** Pairs each file with its `.br` and `.gz` forms. */
function index(files: { path: string; bytes: Uint8Array }[]): Map<string, Served> {
  const byPath = new Map(files.map((f) => [f.path, f.bytes]))
  const out = new Map<string, Served>()
  for (const [path, bytes] of byPath) {
    if (path.endsWith('.br') || path.endsWith('.gz')) continue
    const br = byPath.get(`${path}.br`)
    const gz = byPath.get(`${path}.gz`)
    out.set(path, {
      type: typeOf(path),
      cache: cacheOf(path),
      identity: variant(bytes, ''),
      br: br && variant(br, '-br'),
      gzip: gz && variant(gz, '-gz'),
    })
  }
  return out
}

async function load(): Promise<Map<string, Served>> {
  const all = Bun.embeddedFiles as (Blob & { name: string })[]
  const prefix = EMBED_PREFIXES.find((p) => all.some((f) => f.name === p + 'index.html'))
  if (prefix) {
    const files = []
    // The API reference's script (server/http/openapi.ts serves it) stays out of the app's files.
    for (const f of all.filter((x) => x.name.startsWith(prefix) && !x.name.startsWith(`${prefix}openapi/`)))
      files.push({ path: '/' + f.name.slice(prefix.length), bytes: new Uint8Array(await f.arrayBuffer()) })
    return index(files)
  }
  const { buildClient } = await import('../../scripts/client')
  return index((await buildClient()).map((a) => ({ path: '/' + a.path, bytes: a.bytes })))
}

/** The client's files, loaded once per process (a failed build from source is retried on the next request). */
export const clientFiles = () =>
  (loading ??= load().catch((e) => {
    loading = null
    throw e
  }))

/** The best encoding the request accepts among those we have (brotli first); `q=0` refuses one. */
export function pickEncoding(accept: string | null, has: { br?: unknown; gzip?: unknown }): Encoding | null {
  if (!accept) return null
  const q = new Map<string, number>()
  for (const part of accept.toLowerCase().split(',')) {
    const [token, ...params] = part.trim().split(';')
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const value = qp ? Number(qp.slice(2)) : 1
    if (token) q.set(token.trim(), Number.isFinite(value) ? value : 0)
  }
  const ok = (e: Encoding) => (q.get(e) ?? (e === 'gzip' ? q.get('x-gzip') : undefined) ?? q.get('*') ?? 0) > 0
  if (has.br && ok('br')) return 'br'
  if (has.gzip && ok('gzip')) return 'gzip'
  return null
}

/** What the hallway asks first (client/app/rooms.ts watchHallway), preloaded as the script will fetch it. */
const HALLWAY_PRELOAD = '</api/rooms>; rel=preload; as=fetch; crossorigin'

/**
 * The app's first data for a page (P16): who I am (as `GET /api/session` answers) and, for a member's hallway, its
 * list (as `GET /api/rooms`). app.ts gives it; the page carries it so that the first screen waits for no request.
 */
export type FirstData = (viewer: Viewer | null, path: string) => Promise<{ user: unknown; rooms?: unknown }>

/** A page made for one request, compressed fast (a few KiB: well under a millisecond). */
const compress = (bytes: Uint8Array, enc: Encoding) =>
  enc === 'br'
    ? brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } })
    : gzipSync(bytes, { level: 6 })

/** The who-am-I preload that scripts/client.ts puts in index.html: the first data takes its place. */
const SESSION_PRELOAD = '<link rel="preload" href="/api/session" as="fetch" crossorigin>'

/**
 * JSON for a `<script type="application/json">` block: `<` is escaped (so no text, a room's title say, can close the
 * block or open a comment), and U+2028/2029 too. JSON.parse reads it back as it was. Not executed: the page's CSP
 * (`script-src 'self'`) applies to scripts that run, not to data blocks.
 */
const jsonForHtml = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')

/**
 * index.html with the first data in place of the who-am-I preload, or null when this request should have the plain
 * shell: only a document navigation gets it (Sec-Fetch-Dest: document), never the service worker's fetch of the
 * shell it caches and serves to whoever opens the app next (nor a client that does not say what it fetches).
 */
async function withFirstData(
  request: Request,
  shell: Uint8Array,
  path: string,
  viewer: Viewer | null,
  firstData: FirstData | undefined,
) {
  if (!firstData || request.headers.get('sec-fetch-dest') !== 'document') return null
  const html = new TextDecoder().decode(shell)
  if (!html.includes(SESSION_PRELOAD)) return null
  const data = await firstData(viewer, path)
  const block = `<script type="application/json" id="first-data">${jsonForHtml(data)}</script>`
  return html.replace(SESSION_PRELOAD, block)
}

export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'content-security-policy': [
    "default-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
}

export const staticRoutes = (opts: { firstData?: FirstData } = {}) =>
  new Elysia().get(
    '/*',
    async (ctx) => {
      const { request } = ctx
      const files = await clientFiles()
      // Not new URL(request.url): a malformed Host header would make that throw (a 500 on every screen).
      const path = requestPath(request)
      // An unknown API path or a missing file (a name with an extension) is a 404;
      // any other path is a screen of the app.
      if (!files.has(path) && (path.startsWith('/api/') || path === '/api' || /\.[a-z0-9]+$/i.test(path))) {
        return Response.json(errorBody('not_found'), { status: 404, headers: { 'x-content-type-options': 'nosniff' } })
      }
      const f = files.get(path) ?? files.get('/index.html')!
      const viewer = (ctx as { viewer?: Viewer | null }).viewer ?? null
      if (f === files.get('/index.html')) {
        const page = await withFirstData(request, f.identity.body, path, viewer, opts.firstData)
        // The member's own page: not shared by any cache, revalidated every time, no ETag (it is not the file's).
        if (page !== null) {
          const bytes = new TextEncoder().encode(page)
          const enc = pickEncoding(request.headers.get('accept-encoding'), { br: 1, gzip: 1 })
          return new Response((enc ? compress(bytes, enc) : bytes) as BodyInit, {
            headers: {
              'content-type': f.type,
              ...(enc ? { 'content-encoding': enc } : {}),
              vary: 'Accept-Encoding',
              'cache-control': 'private, no-cache',
              ...SECURITY_HEADERS,
            },
          })
        }
      }
      const encoding = pickEncoding(request.headers.get('accept-encoding'), f)
      const v = (encoding && f[encoding]) || f.identity
      const vary: Record<string, string> = f.br || f.gzip ? { vary: 'Accept-Encoding' } : {}
      const headers: Record<string, string> = { etag: v.etag, 'cache-control': f.cache, ...vary }
      // A member opening the hallway: its list starts loading with the page, not after the script (the session is
      // resolved for every route by the session plugin; signed out, nothing is preloaded, so nothing 401s).
      if (path === '/' && viewer) headers.link = HALLWAY_PRELOAD
      const match = request.headers.get('if-none-match')
      if (match?.split(',').some((t) => t.trim().replace(/^W\//, '') === v.etag))
        return new Response(null, { status: 304, headers })
      return new Response(v.body as BodyInit, {
        headers: {
          'content-type': f.type,
          ...(encoding ? { 'content-encoding': encoding } : {}),
          ...headers,
          ...SECURITY_HEADERS,
        },
      })
    },
    { detail: { hide: true } } as any,
  )
