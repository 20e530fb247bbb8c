// One WebSocket per tab: requests with ids (each gets one reply), events by type, reconnect with backoff.
import { signal } from '@preact/signals'

export type ConnState = 'connecting' | 'open' | 'reconnecting' | 'closed'
/** Delays before each reconnect attempt (ms), then the last one repeats; jitter is added. */
export const BACKOFF = [250, 500, 1000, 2000, 4000, 8000, 15000]
const REQUEST_TIMEOUT = 15000

type Listener = (ev: any) => void

export class Connection {
  readonly state = signal<ConnState>('closed')
  private ws: WebSocket | null = null
  private nextId = 1
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>()
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
      let msg: any
      try { msg = JSON.parse(m.data) } catch { return }
      if ('re' in msg) {
        const p = this.pending.get(msg.re)
        if (!p) return
        this.pending.delete(msg.re)
        clearTimeout(p.timer)
        msg.ok ? p.resolve(msg) : p.reject(Object.assign(new Error(msg.error?.message ?? 'Request failed'), { code: msg.error?.code }))
        return
      }
      if (msg.type === 'hello') {
        this.attempt = 0
        this.state.value = 'open'
        for (const r of this.resumers) r()
      }
      for (const l of this.listeners.get(msg.type) ?? []) l(msg)
      for (const l of this.listeners.get('*') ?? []) l(msg)
    }
    ws.onclose = (e) => {
      if (this.ws !== ws) return
      this.ws = null
      for (const [id, p] of this.pending) { clearTimeout(p.timer); p.reject(Object.assign(new Error('Connection lost'), { code: 'offline' })); this.pending.delete(id) }
      if (!this.wanted || e.code === 4001) { this.state.value = 'closed'; return }
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

  /** Sends a request and resolves with its reply (rejects with the error reply). */
  request<T = any>(type: string, fields: Record<string, unknown> = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== 1) return reject(Object.assign(new Error('Not connected'), { code: 'offline' }))
      const id = this.nextId++
      const timer = setTimeout(() => { this.pending.delete(id); reject(Object.assign(new Error('No answer from the server'), { code: 'timeout' })) }, REQUEST_TIMEOUT)
      this.pending.set(id, { resolve, reject, timer })
      this.ws.send(JSON.stringify({ ...fields, id, type }))
    })
  }

  on(type: string, l: Listener) {
    let set = this.listeners.get(type)
    if (!set) this.listeners.set(type, (set = new Set()))
    set.add(l)
    return () => set!.delete(l)
  }

  onResume(fn: () => void) { this.resumers.add(fn); return () => this.resumers.delete(fn) }
}

export const conn = new Connection()
