// A file answered with HTTP Range requests (RFC 9110 §14): `bytes=a-b`, `bytes=a-`, `bytes=-n` → 206 with
// Content-Range and the slice's length; a range that starts past the end → 416 with `bytes */size`; a header that
// is not one byte range (malformed, several ranges, another unit) is ignored → 200 with the whole file. Audio players
// and podcast apps seek with these (RP44).
import { errorBody } from '../errors'

/** The one range asked for, 'unsatisfiable', or null (no usable Range header: answer the whole file). */
type Range = { start: number; end: number } | 'unsatisfiable' | null
function parseRange(header: string | null, size: number): Range {
  if (!header) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null
  if (m[1] === '') {
    // A suffix: the last n bytes.
    const n = Number(m[2])
    if (!Number.isSafeInteger(n)) return null
    if (n === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - n), end: size - 1 }
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null
  if (m[2] !== '' && Number(m[2]) < start) return null
  if (start >= size) return 'unsatisfiable'
  return { start, end }
}

const ascii = (s: string) => s.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')

/** `attachment; filename=…` with an ASCII fallback and the UTF-8 name (RFC 6266). */
const attachment = (name: string) =>
  `attachment; filename="${ascii(name)}"; filename*=UTF-8''${encodeURIComponent(name)}`

export const notFoundResponse = () =>
  Response.json(errorBody('not_found'), { status: 404, headers: { 'x-content-type-options': 'nosniff' } })

/** Answers a GET or HEAD for a file on disk, honouring Range; 404 when the file is gone. */
export async function fileResponse(
  request: Request,
  path: string,
  opts: { type: string; download?: string; cache?: string },
): Promise<Response> {
  const f = Bun.file(path)
  if (!(await f.exists())) return notFoundResponse()
  const size = f.size
  const headers: Record<string, string> = {
    'content-type': opts.type,
    'accept-ranges': 'bytes',
    'cache-control': opts.cache ?? 'private, no-cache',
    'x-content-type-options': 'nosniff',
    etag: `"${size.toString(36)}-${Math.round(f.lastModified).toString(36)}"`,
    ...(opts.download ? { 'content-disposition': attachment(opts.download) } : {}),
  }
  const head = request.method === 'HEAD'
  const range = parseRange(request.headers.get('range'), size)
  if (range === 'unsatisfiable') {
    const body = JSON.stringify(errorBody('range_not_satisfiable'))
    const h416 = { ...headers, 'content-type': 'application/json', 'content-range': `bytes */${size}` }
    return new Response(head ? null : body, { status: 416, headers: h416 })
  }
  if (!range) {
    headers['content-length'] = String(size)
    return new Response(head ? null : f, { status: 200, headers })
  }
  headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
  headers['content-length'] = String(range.end - range.start + 1)
  return new Response(head ? null : f.slice(range.start, range.end + 1), { status: 206, headers })
}
