// HTTP calls to /api: JSON in, JSON out; failures become ApiError with the catalog's code and message.
// Only the client/app modules use it (one per domain, each function typed by what its route returns);
// components call those functions.
import type { ErrorCode } from '../../server/protocol'

/** What a failed call says: a catalog code, or that the server could not be reached or did not answer in time. */
export type ClientErrorCode = ErrorCode | 'offline' | 'timeout'

/** A refused or failed WebSocket request (connection.ts). */
export class RequestError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** A refused or failed HTTP call; `status` 0 when offline. */
export class ApiError extends RequestError {
  constructor(
    readonly status: number,
    code: ClientErrorCode,
    message: string,
  ) {
    super(code, message)
  }
}

/** The code of a failed call (HTTP or WebSocket), or null for any other error. */
export const errorCode = (e: unknown): ClientErrorCode | null => (e instanceof RequestError ? e.code : null)

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

/** One request; `T` is what the route returns (unknown unless the caller says, so an untyped call shows). */
async function api<T = unknown>(method: Method, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    init.body = body
    const type = body instanceof Blob && body.type ? body.type : 'application/octet-stream'
    ;(init.headers as Record<string, string>)['content-type'] = type
  } else if (body !== undefined) {
    init.body = JSON.stringify(body)
    ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
  }
  let res: Response
  try {
    res = await fetch(`/api${path}`, init)
  } catch {
    throw new ApiError(0, 'offline', 'You are offline. Check your connection.')
  }
  const data = res.headers.get('content-type')?.includes('json') ? await res.json().catch(() => null) : null
  if (!res.ok) {
    // A failure without a catalog body (a proxy in between) is the server's: `internal`, with its status.
    const error = (data as { error?: { code?: ErrorCode; message?: string } } | null)?.error
    throw new ApiError(res.status, error?.code ?? 'internal', error?.message ?? `Request failed (${res.status}).`)
  }
  return data as T
}

export const get = <T = unknown>(path: string) => api<T>('GET', path)
export const post = <T = unknown>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const patch = <T = unknown>(path: string, body: unknown) => api<T>('PATCH', path, body)
export const put = <T = unknown>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {})
export const del = <T = unknown>(path: string) => api<T>('DELETE', path)

/** A query string (`?a=1&b=x`) of the defined values, each encoded with encodeURIComponent. */
export const query = (params: Record<string, string | number | undefined>) => {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
  return parts.length ? `?${parts.join('&')}` : ''
}
