// The DTLS handshake gate (M57, M58): at most `limit` handshakes in flight on the media socket; the others wait in
// arrival order (the stage first: a speaker is never stuck behind a crowd of listeners). Under a burst of joins the
// handshakes then finish one after another at the server's real rate instead of all interleaving on one loop until
// every client's retransmission timer and every connect timer has run out. A transport asks for a place when its
// client's first ClientHello arrives (peer-transport.ts keeps that datagram and replays it when admitted) and gives
// it back when its handshake is done, fails or closes, or after HANDSHAKE_HOLD_MS at most (a client that vanished
// mid-handshake does not hold a place for ever).

/** A place in flight is given back after this long even if the handshake has not finished. */
const HANDSHAKE_HOLD_MS = 10_000

export interface GateEntry {
  /** Called once, when the handshake may start. */
  admit(): void
  /** Stage peers wait before listeners. */
  readonly priority: boolean
}

export interface HandshakeStats {
  /** The most handshakes allowed in flight. */
  limit: number
  inFlight: number
  queued: number
  /** The most that ever waited at once. */
  maxQueued: number
  /** The most that were ever in flight at once (never above `limit`). */
  maxInFlight: number
  /** Handshakes started, in all. */
  admitted: number
  /** Handshakes that started before one that had asked earlier with the same priority (0: arrival order). */
  outOfOrder: number
  /** Places given back by HANDSHAKE_HOLD_MS rather than by the handshake ending. */
  expired: number
}

interface Waiting {
  entry: GateEntry
  arrival: number
}

export class HandshakeGate {
  private readonly waiting: Waiting[] = []
  private readonly inFlight = new Map<GateEntry, ReturnType<typeof setTimeout>>()
  private readonly queuedEntries = new Set<GateEntry>()
  private arrivals = 0
  /** Tests only: while paused, nothing is admitted. */
  private paused = false
  private lastAdmitted = { stage: -1, audience: -1 }
  private readonly counts = { maxQueued: 0, maxInFlight: 0, admitted: 0, outOfOrder: 0, expired: 0 }

  constructor(
    /** Handshakes in flight at most (0: no limit). */
    readonly limit: number,
    private readonly holdMs = HANDSHAKE_HOLD_MS,
  ) {}

  /** Asks for a place; `admit` runs at once if one is free, else when the entries before it are done. */
  request(entry: GateEntry) {
    if (this.inFlight.has(entry) || this.queuedEntries.has(entry)) return
    const w = { entry, arrival: this.arrivals++ }
    if (!this.paused && (this.limit <= 0 || this.inFlight.size < this.limit)) return this.start(w)
    // Stage entries go after the waiting stage entries, before every listener.
    const at = entry.priority ? this.waiting.findIndex((x) => !x.entry.priority) : -1
    if (at < 0) this.waiting.push(w)
    else this.waiting.splice(at, 0, w)
    this.queuedEntries.add(entry)
    this.counts.maxQueued = Math.max(this.counts.maxQueued, this.waiting.length)
  }

  /** The handshake is over (done, failed, closed) or the entry gave up waiting: its place goes to the next. */
  release(entry: GateEntry) {
    if (this.queuedEntries.delete(entry)) {
      const i = this.waiting.findIndex((x) => x.entry === entry)
      if (i >= 0) this.waiting.splice(i, 1)
      return
    }
    const timer = this.inFlight.get(entry)
    if (timer === undefined) return
    clearTimeout(timer)
    this.inFlight.delete(entry)
    this.next()
  }

  /** Whether the entry is waiting for a place. */
  isQueued(entry: GateEntry) {
    return this.queuedEntries.has(entry)
  }

  get queued() {
    return this.waiting.length
  }

  stats(): HandshakeStats {
    return { limit: this.limit, inFlight: this.inFlight.size, queued: this.waiting.length, ...this.counts }
  }

  /** Tests only: holds every new handshake in the queue (to observe it), then lets them go in order. */
  pause(on: boolean) {
    this.paused = on
    this.next()
  }

  close() {
    for (const t of this.inFlight.values()) clearTimeout(t)
    this.inFlight.clear()
    this.waiting.length = 0
    this.queuedEntries.clear()
  }

  private next() {
    while (!this.paused && this.waiting.length && (this.limit <= 0 || this.inFlight.size < this.limit)) {
      const w = this.waiting.shift()!
      this.queuedEntries.delete(w.entry)
      this.start(w)
    }
  }

  private start(w: Waiting) {
    const timer = setTimeout(() => {
      if (!this.inFlight.has(w.entry)) return
      this.counts.expired++
      this.release(w.entry)
    }, this.holdMs)
    timer.unref?.()
    this.inFlight.set(w.entry, timer)
    const c = this.counts
    c.admitted++
    c.maxInFlight = Math.max(c.maxInFlight, this.inFlight.size)
    const kind = w.entry.priority ? 'stage' : 'audience'
    if (w.arrival < this.lastAdmitted[kind]) c.outOfOrder++
    else this.lastAdmitted[kind] = w.arrival
    w.entry.admit()
  }
}
