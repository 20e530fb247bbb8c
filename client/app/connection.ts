// One WebSocket per tab: requests with ids (each gets one reply), events by type, reconnect with backoff. The
// request and event types are the protocol's (type-only imports: nothing of the server is bundled).
import { signal } from '@preact/signals'
import type {
  EventOf,
  EventType,
  Reply,
  ReplyFrame as Frame,
  RequestFields,
  RequestType,
  ServerEvent,
} from '../../server/protocol'
import { RequestError } from './api'

type ConnState = 'connecting' | 'open' | 'reconnecting' | 'closed'
/** Delays before each reconnect attempt (ms), then the last one repeats; jitter is added. */
const BACKOFF = [250, 500, 1000, 2000, 4000, 8000, 15000]
const REQUEST_TIMEOUT = 15000

type Listener = (ev: ServerEvent) => void

class Connection {
  readonly state = signal<ConnState>('closed')
  /** Why the server ended this member's sessions (close code 4001): 'signed out', 'banned' or 'suspended'. */
  readonly ended = signal<string | null>(null)
  private ws: WebSocket | null = null
  private nextId = 1
  private pending = new Map<
    number,
    { resolve: (v: never) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }
  >()
  private listeners = new Map<string, Set<Listener>>()
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private wanted = false
  /** Run after every (re)connect, before queued work: rooms re-join, Backchannel syncs from its last seq. */
  private resumers = new Set<() => void>()

  connect() {
    this.wanted = true
    if (this.ws && this.ws.readyState <= 1) return
    this.state.value = this.attempt ? 'reconnecting' : 'connecting'
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
    this.ws = ws
    ws.onmessage = (m) => {
      let msg: ServerEvent | Frame<RequestType>
      try {
        msg = JSON.parse(m.data)
      } catch {
        return
      }
      if ('re' in msg) {
        const p = typeof msg.re === 'number' ? this.pending.get(msg.re) : undefined
        if (!p) return
        this.pending.delete(msg.re as number)
        clearTimeout(p.timer)
        if (msg.ok) p.resolve(msg as never)
        else p.reject(new RequestError(msg.error?.code ?? 'internal', msg.error?.message ?? 'Request failed'))
        return
      }
      if (msg.type === 'hello') {
        this.attempt = 0
        this.state.value = 'open'
        for (const r of this.resumers) r()
      }
      // The server's node is stopping: reconnect now (the load balancer picks another node); the resumers re-join.
      if (msg.type === 'node.draining') {
        this.attempt = 0
        ws.close()
      }
      for (const l of this.listeners.get(msg.type) ?? []) l(msg)
      for (const l of this.listeners.get('*') ?? []) l(msg)
    }
    ws.onclose = (e) => {
      if (this.ws !== ws) return
      this.ws = null
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer)
        p.reject(new RequestError('offline', 'Connection lost'))
        this.pending.delete(id)
      }
      if (!this.wanted || e.code === 4001) {
        this.state.value = 'closed'
        if (e.code === 4001 && this.wanted) {
          this.wanted = false
          this.ended.value = e.reason || 'signed out'
        }
        return
      }
      this.state.value = 'reconnecting'
      const base = BACKOFF[Math.min(this.attempt++, BACKOFF.length - 1)]!
      this.timer = setTimeout(() => this.connect(), base + Math.random() * base * 0.3)
    }
  }

  close() {
    this.wanted = false
    if (this.timer) clearTimeout(this.timer)
    this.ws?.close()
    this.ws = null
    this.state.value = 'closed'
  }

  /** Sends a request and resolves with its reply (rejects with a RequestError: the error reply, offline or timeout). */
  request<K extends RequestType>(type: K, fields: RequestFields<K>): Promise<Reply<K>> {
    return new Promise((resolve, reject) => {
      if (this.ws?.readyState !== 1) return reject(new RequestError('offline', 'Not connected'))
      const id = this.nextId++
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new RequestError('timeout', 'No answer from the server'))
      }, REQUEST_TIMEOUT)
      this.pending.set(id, { resolve: resolve as (v: never) => void, reject, timer })
      this.ws.send(JSON.stringify({ ...fields, id, type }))
    })
  }

  /** Listens to one event type ('*': every event); returns the function that stops listening. */
  on<K extends EventType>(type: K, l: (ev: EventOf<K>) => void): () => void
  on(type: '*', l: (ev: ServerEvent) => void): () => void
  on(type: string, l: (ev: never) => void) {
    let set = this.listeners.get(type)
    if (!set) this.listeners.set(type, (set = new Set()))
    set.add(l as Listener)
    return () => {
      set!.delete(l as Listener)
    }
  }

  onResume(fn: () => void) {
    this.resumers.add(fn)
    return () => this.resumers.delete(fn)
  }
}

export const conn = new Connection()
