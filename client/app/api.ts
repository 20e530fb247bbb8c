// HTTP calls to /api: JSON in, JSON out; failures become ApiError with the catalog's code and message.
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message) }
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: {} }
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    init.body = body
    ;(init.headers as Record<string, string>)['content-type'] = body instanceof Blob && body.type ? body.type : 'application/octet-stream'
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
  if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'http_' + res.status, data?.error?.message ?? `Request failed (${res.status}).`)
  return data as T
}

export const get = <T = any>(path: string) => api<T>('GET', path)
export const post = <T = any>(path: string, body?: unknown) => api<T>('POST', path, body ?? {})
export const patch = <T = any>(path: string, body: unknown) => api<T>('PATCH', path, body)
export const put = <T = any>(path: string, body?: unknown) => api<T>('PUT', path, body ?? {})
export const del = <T = any>(path: string) => api<T>('DELETE', path)
