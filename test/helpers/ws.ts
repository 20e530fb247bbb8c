// A real WebSocket client for /ws: request() awaits the reply with the same id; events are queued for next().
// Typed by the protocol: request('room.join', {roomId}) resolves with that request's reply frame and next('bc.message')
// with that event. Malformed-input tests send unknown types or wrong fields with requestUnchecked().
import type { ErrorBody, EventOf, EventType, Reply, RequestFields, RequestId, RequestType } from '../../server/protocol'

/** Request types that take no fields (`request('ping')`). */
type NoFields = { [K in RequestType]: Partial<RequestFields<K>> extends RequestFields<K> ? K : never }[RequestType]
/**
 * A reply frame as tests read it: the reply's fields and the error are both typed, without narrowing on `ok` first
 * (which of them is there depends on `ok`; the tests assert it); likewise every variant's fields of a reply that has
 * several (`bc.send`'s `{message}` or, asked short, `{sent}`: B64).
 */
export type TestReply<K extends RequestType> = AllOf<Reply<K>> & { re: RequestId | null; ok: boolean; error: ErrorBody }
type AllOf<U> = (U extends unknown ? (u: U) => void : never) extends (u: infer I) => void ? I : never
// Every wait gives up after WAIT (generous: a busy machine is slow, not wrong).
import { WAIT } from './limits'

export class WsClient {
  private ws: WebSocket
  private nextId = 1
  private waiting = new Map<string | number, (m: any) => void>()
  readonly events: any[] = []
  private eventWaiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = []
  readonly replies: any[] = []
  closed: { code: number; reason: string } | null = null
  readonly opened: Promise<any>

  /** `tls`: Bun's WebSocket TLS options (a proxy's self-signed certificate: `{ rejectUnauthorized: false }`). */
  constructor(url: string, opts: { cookie?: string; origin?: string; tls?: { rejectUnauthorized: boolean } } = {}) {
    const headers: Record<string, string> = {}
    if (opts.cookie) headers.cookie = opts.cookie
    if (opts.origin) headers.origin = opts.origin
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', { headers, tls: opts.tls } as any)
    this.ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data))
      if ('re' in m) {
        this.replies.push(m)
        const w = this.waiting.get(m.re)
        if (w) {
          this.waiting.delete(m.re)
          w(m)
        }
        return
      }
      const i = this.eventWaiters.findIndex((w) => w.pred(m))
      if (i >= 0) this.eventWaiters.splice(i, 1)[0]!.resolve(m)
      else this.events.push(m)
    }
    this.ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason }
    }
    this.opened = this.next((m) => m.type === 'hello')
  }

  /** Sends a raw frame (for malformed-input tests). */
  raw(data: string) {
    this.ws.send(data)
  }

  /** Sends a request; resolves with its reply frame ({re, ok: true, ...reply} or {re, ok: false, error}). */
  request<K extends RequestType>(type: K, fields: RequestFields<K>, timeout?: number): Promise<TestReply<K>>
  request<K extends NoFields>(type: K): Promise<TestReply<K>>
  request(type: string, fields?: Record<string, unknown>, timeout?: number): Promise<any> {
    return this.requestUnchecked(type, fields, timeout)
  }

  /** Unchecked: any type and fields, for tests that send unknown types or wrong fields on purpose. */
  requestUnchecked(type: string, fields: Record<string, unknown> = {}, timeout = WAIT): Promise<any> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to ${type} within ${timeout} ms`)), timeout)
      this.waiting.set(id, (m) => {
        clearTimeout(t)
        resolve(m)
      })
      this.ws.send(JSON.stringify({ ...fields, id, type }))
    })
  }

  /** The next event of a type (and matching `pred`, if given), already queued or still to come. */
  next<K extends EventType>(type: K, pred?: (e: EventOf<K>) => boolean, timeout?: number): Promise<EventOf<K>>
  /** The next event matching pred (already queued or still to come). */
  next(pred?: (m: any) => boolean, timeout?: number): Promise<any>
  next(
    pred: EventType | ((m: any) => boolean) = () => true,
    timeout: number | ((m: any) => boolean) | undefined = WAIT,
    typed?: number,
  ): Promise<any> {
    if (typeof pred === 'string') {
      const type = pred,
        also = timeout as ((e: any) => boolean) | undefined
      return this.next((m) => m.type === type && (!also || also(m)), typed)
    }
    if (typeof timeout !== 'number') throw new Error('next(pred, timeout): the timeout is a number')
    const i = this.events.findIndex(pred)
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0])
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (m: any) => {
          clearTimeout(t)
          resolve(m)
        },
      }
      const t = setTimeout(() => {
        this.eventWaiters.splice(this.eventWaiters.indexOf(w), 1)
        reject(new Error(`no matching event within ${timeout} ms`))
      }, timeout)
      this.eventWaiters.push(w)
    })
  }

  waitClosed(timeout = WAIT): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed)
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`socket did not close within ${timeout} ms`)), timeout)
      this.ws.addEventListener('close', (e) => {
        clearTimeout(t)
        resolve({ code: e.code, reason: e.reason })
      })
    })
  }

  close() {
    this.ws.close()
  }
}

/** Connects and waits for the hello; rejects if the upgrade is refused. */
export async function connectWs(url: string, opts: { cookie?: string; origin?: string } = {}) {
  const c = new WsClient(url, opts)
  // The hello, or the close of a refused upgrade: whichever comes first (a slow hello is not a refusal).
  const refused = c.waitClosed().then(
    (e) => {
      throw new Error(`refused: ${e.code}`)
    },
    () => c.opened,
  )
  const hello = await Promise.race([c.opened, refused])
  return Object.assign(c, { hello })
}
