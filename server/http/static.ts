// Serves the PWA: from the files embedded in the binary, or, when run from source, from a bundle built in memory.
import { Elysia } from 'elysia'
import { errorBody } from '../errors'
import { requestPath } from './guard'

interface Served {
  body: Uint8Array | Blob
  type: string
  etag: string
}
// `bun build --compile --asset=client/dist` names the files relative to the asset folder's parent: dist/…
const EMBED_PREFIXES = ['client/dist/', 'dist/']
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

async function load(): Promise<Map<string, Served>> {
  const files = new Map<string, Served>()
  const all = Bun.embeddedFiles as (Blob & { name: string })[]
  const prefix = EMBED_PREFIXES.find((p) => all.some((f) => f.name === p + 'index.html'))
  if (prefix) {
    for (const f of all.filter((x) => x.name.startsWith(prefix))) {
      const bytes = new Uint8Array(await f.arrayBuffer())
      files.set('/' + f.name.slice(prefix.length), {
        body: bytes,
        type: typeOf(f.name),
        etag: `"${Bun.hash(bytes).toString(36)}"`,
      })
    }
  } else {
    const { buildClient } = await import('../../scripts/client')
    for (const a of await buildClient({ minify: false }))
      files.set('/' + a.path, { body: a.bytes, type: typeOf(a.path), etag: `"${Bun.hash(a.bytes).toString(36)}"` })
  }
  return files
}

/** The client's files, loaded once per process (a failed build from source is retried on the next request). */
export const clientFiles = () =>
  (loading ??= load().catch((e) => {
    loading = null
    throw e
  }))

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

export const staticRoutes = () =>
  new Elysia().get(
    '/*',
    async ({ request }) => {
      const files = await clientFiles()
      // Not new URL(request.url): a malformed Host header would make that throw (a 500 on every screen).
      const path = requestPath(request)
      // An unknown API path or a missing file (a name with an extension) is a 404;
      // any other path is a screen of the app.
      if (!files.has(path) && (path.startsWith('/api/') || path === '/api' || /\.[a-z0-9]+$/i.test(path))) {
        return Response.json(errorBody('not_found'), { status: 404, headers: { 'x-content-type-options': 'nosniff' } })
      }
      const f = files.get(path) ?? files.get('/index.html')!
      const isShell = !files.has(path) || path === '/index.html' || path === '/sw.js'
      if (request.headers.get('if-none-match') === f.etag)
        return new Response(null, { status: 304, headers: { etag: f.etag } })
      return new Response(f.body as BodyInit, {
        headers: {
          'content-type': f.type,
          etag: f.etag,
          ...SECURITY_HEADERS,
          'cache-control': isShell ? 'no-cache' : path.startsWith('/icons/') ? 'public, max-age=86400' : 'no-cache',
        },
      })
    },
    { detail: { hide: true } } as any,
  )
