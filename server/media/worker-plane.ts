// A data plane in a media worker (M62), seen from the main thread: the `Plane` commands posted to the worker
// (worker.ts), its answers matched to their calls, its events handed to the service, its logs to the server's
// logger. Its last report is kept, so that the budget and /metrics read it without a round trip. A worker that
// dies (it should not: its errors are caught and logged) takes its peers with it: each is expired, so that their
// clients reconnect, and a new worker is started on the same port.
import type { ParticipantKey, RoomRole, TapPacket } from '../contracts'
import type { Logger, LogLevel } from '../lib/log'
import type { IceCredentials } from './peer-transport'
import type { RelaySource, RelayTarget } from './relay-wire'
import type {
  PeerAnswer,
  PeerSpec,
  Plane,
  PlaneEvents,
  PlaneInfo,
  PlaneOptions,
  PlaneReport,
  TransportStats,
} from './plane'

/**
 * The worker's module. From source, beside this file; in the compiled binary, an entry point of its own stored by
 * its path under server/ (see server/db/backup.ts for the same rule).
 */
const WORKER = new URL(
  import.meta.url.startsWith('file:///$bunfs/') ? './media/worker.ts' : './worker.ts',
  import.meta.url,
).href

type Calls = 'open' | 'restart' | 'report' | 'transports' | 'stop'
type Casts = 'answer' | 'update' | 'close' | 'tap' | 'useStockSender' | 'relayTo' | 'relayFrom'
type Args<M extends keyof Plane> = Plane[M] extends (...a: infer A) => unknown ? A : never

/** What the main thread posts to a media worker. */
export type ToWorker =
  | { kind: 'init'; options: PlaneOptions; logLevel: LogLevel }
  | { [M in Calls]: { kind: 'call'; id: number; method: M; args: Args<M> } }[Calls]
  | { [M in Casts]: { kind: 'cast'; method: M; args: Args<M> } }[Casts]

/** What a media worker posts back. */
export type FromWorker =
  | { kind: 'ready'; info: PlaneInfo }
  | { kind: 'failed'; error: string }
  | { kind: 'reply'; id: number; value?: unknown; error?: string }
  | { kind: 'log'; level: LogLevel; msg: string; ctx?: object }
  | { [E in keyof PlaneEvents]: { kind: 'event'; name: E; args: Parameters<PlaneEvents[E]> } }[keyof PlaneEvents]

const EMPTY_REPORT: PlaneReport = {
  forwardedPackets: 0,
  forwardedBytes: 0,
  packetsPerSecond: 0,
  droppedPackets: 0,
  rooms: 0,
  timers: 0,
  quality: [],
  rtc: {
    peers: 0,
    dropped: 0,
    unauthorized: 0,
    checks: 0,
    tcpConnections: 0,
    datagramsSent: 0,
    sendCalls: 0,
    handshakes: {
      limit: 0,
      inFlight: 0,
      queued: 0,
      maxQueued: 0,
      maxInFlight: 0,
      admitted: 0,
      outOfOrder: 0,
      expired: 0,
    },
  },
  relay: { sent: [], sentTotal: 0, received: 0, refused: 0 },
}

/** A media worker that did not answer in time (it was ended): the service may run that plane in its own thread. */
export class WorkerTimeout extends Error {}

/** How long a worker may take to open its socket, and to close it. */
const READY_WITHIN_MS = 30_000
const STOP_WITHIN_MS = 5_000

export class WorkerPlane implements Plane {
  private worker!: Worker
  info!: PlaneInfo
  private last: PlaneReport = EMPTY_REPORT
  private nextId = 1
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  /** The peers opened on this worker and not closed: expired if the worker dies. */
  private readonly livePeers = new Set<number>()
  private stopping = false
  /** The worker's socket is open; until then commands wait for it, in order (`starting`). */
  private ready = false
  private starting: Promise<void> = Promise.resolve()
  /** Rooms the service taps: told again to a worker started after one died. */
  private readonly tapped = new Set<number>()
  /** The rooms' relays (M64, M65): told again to a worker started after one died. */
  private readonly relaysTo = new Map<number, RelayTarget[]>()
  private readonly relaysFrom = new Map<number, RelaySource[]>()
  private stock = false

  private constructor(
    readonly index: number,
    private readonly options: PlaneOptions,
    private readonly events: PlaneEvents,
    private readonly log: Logger,
    private readonly logLevel: LogLevel,
  ) {}

  /** Starts worker `index` and waits until its socket is open (throws if it cannot bind). */
  static async open(index: number, options: PlaneOptions, events: PlaneEvents, log: Logger, logLevel: LogLevel) {
    const plane = new WorkerPlane(index, options, events, log, logLevel)
    await plane.spawn()
    return plane
  }

  private spawn(): Promise<void> {
    const worker = new Worker(WORKER)
    this.worker = worker
    this.ready = false
    this.starting = new Promise<void>((resolve, reject) => {
      /** The worker's socket is open (from then on its end is a death); `settled`: the promise is decided. */
      let opened = false
      let settled = false
      const timer = setTimeout(
        () => fail(new WorkerTimeout(`media: the media worker did not start within ${READY_WITHIN_MS / 1000} s`)),
        READY_WITHIN_MS,
      )
      const fail = (e: Error) => {
        clearTimeout(timer)
        if (settled) return
        settled = true
        worker.terminate()
        reject(e)
      }
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const m = e.data
        if (m.kind === 'ready') {
          clearTimeout(timer)
          if (settled) return
          settled = opened = true
          this.info = m.info
          this.ready = true
          resolve()
        } else if (m.kind === 'failed') fail(new Error(m.error))
        else this.received(m)
      }
      worker.onerror = (e) => {
        this.log.error('media: media worker error', { worker: this.index, error: e.message })
        fail(new Error(`media: the media worker failed: ${e.message}`))
      }
      worker.addEventListener('close', () => {
        if (!opened) return fail(new Error('media: the media worker ended before opening its socket'))
        if (worker === this.worker) this.died()
      })
      worker.postMessage({ kind: 'init', options: this.options, logLevel: this.logLevel } satisfies ToWorker)
    })
    return this.starting
  }

  /** The worker ended on its own: its peers are gone (their owners close them), and a new one takes the port. */
  private died() {
    this.ready = false
    for (const p of this.pending.values()) p.reject(new Error('media: the media worker ended'))
    this.pending.clear()
    this.last = EMPTY_REPORT
    if (this.stopping) return
    this.log.error('media: the media worker ended; starting another', { worker: this.index })
    const peers = [...this.livePeers]
    this.livePeers.clear()
    this.respawn()
    // Their owners close them: the closes go to the new worker, which knows none of them.
    for (const id of peers) this.events.expired(id)
  }

  /** Starts the worker again; one that cannot start is tried again after 1 s, 2 s, 4 s… (at most every 30 s). */
  private respawn(attempt = 0) {
    this.spawn().then(
      () => {
        for (const roomId of this.tapped) this.cast('tap', [roomId, true])
        for (const [roomId, t] of this.relaysTo) this.cast('relayTo', [roomId, t])
        for (const [roomId, s] of this.relaysFrom) this.cast('relayFrom', [roomId, s])
        if (this.stock) this.cast('useStockSender', [true])
      },
      (error) => {
        this.log.error('media: cannot start a media worker', { worker: this.index, attempt, error })
        if (this.stopping) return
        const retry = setTimeout(
          () => {
            if (!this.stopping) this.respawn(attempt + 1)
          },
          Math.min(30_000, 1000 * 2 ** attempt),
        )
        retry.unref?.()
      },
    )
  }

  private received(m: FromWorker) {
    switch (m.kind) {
      case 'reply': {
        const p = this.pending.get(m.id)
        if (!p) return
        this.pending.delete(m.id)
        if (m.error !== undefined) p.reject(new Error(m.error))
        else p.resolve(m.value)
        return
      }
      case 'log':
        this.log[m.level](m.msg, { ...m.ctx, worker: this.index })
        return
      case 'event':
        return this.event(m)
    }
  }

  private event(m: Extract<FromWorker, { kind: 'event' }>) {
    switch (m.name) {
      case 'report':
        this.last = m.args[0]
        return this.events.report(m.args[0])
      case 'tap':
        // A Buffer crosses as a Uint8Array: the service's taps get Buffers.
        for (const p of m.args[0] as TapPacket[]) {
          const u = p.payload as Uint8Array
          ;(p as { payload: Buffer }).payload = Buffer.from(u.buffer, u.byteOffset, u.byteLength)
        }
        return this.events.tap(m.args[0])
      case 'expired':
        this.livePeers.delete(m.args[0])
        return this.events.expired(m.args[0])
      case 'connected':
        return this.events.connected(m.args[0])
      case 'levels':
        return this.events.levels(...m.args)
      case 'slots':
        return this.events.slots(...m.args)
    }
  }

  private call<M extends Calls>(method: M, args: Args<M>): Promise<Awaited<ReturnType<Plane[M]>>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.post({ kind: 'call', id, method, args } as unknown as ToWorker)
    })
  }

  private cast<M extends Casts>(method: M, args: Args<M>) {
    this.post({ kind: 'cast', method, args } as unknown as ToWorker)
  }

  /** Posts at once to a worker that is open; to one starting, once it is (in the order posted). */
  private post(m: ToWorker) {
    if (this.ready) this.worker.postMessage(m)
    else
      this.starting.then(
        () => this.worker.postMessage(m),
        () => {
          if (m.kind === 'call') this.pending.get(m.id)?.reject(new Error('media: the media worker did not start'))
        },
      )
  }

  open(peer: PeerSpec): Promise<{ ice: IceCredentials; ssrcs: number[] }> {
    this.livePeers.add(peer.peerId)
    return this.call('open', [peer])
  }
  answer(peerId: number, answer: PeerAnswer) {
    this.cast('answer', [peerId, answer])
  }
  restart(peerId: number): Promise<IceCredentials> {
    return this.call('restart', [peerId])
  }
  update(roomId: number, key: ParticipantKey, speaking: { role: RoomRole; muted: boolean }) {
    this.cast('update', [roomId, key, speaking])
  }
  close(peerId: number) {
    this.livePeers.delete(peerId)
    this.cast('close', [peerId])
  }
  tap(roomId: number, on: boolean) {
    if (on) this.tapped.add(roomId)
    else this.tapped.delete(roomId)
    this.cast('tap', [roomId, on])
  }
  relayTo(roomId: number, targets: RelayTarget[]) {
    if (targets.length) this.relaysTo.set(roomId, targets)
    else this.relaysTo.delete(roomId)
    this.cast('relayTo', [roomId, targets])
  }
  relayFrom(roomId: number, sources: RelaySource[]) {
    if (sources.length) this.relaysFrom.set(roomId, sources)
    else this.relaysFrom.delete(roomId)
    this.cast('relayFrom', [roomId, sources])
  }
  latest() {
    return this.last
  }
  packetsPerSecond() {
    return this.last.packetsPerSecond
  }
  async report() {
    this.last = await this.call('report', [])
    return this.last
  }
  transports(roomId: number): Promise<TransportStats[]> {
    return this.call('transports', [roomId])
  }
  useStockSender(on: boolean) {
    this.stock = on
    this.cast('useStockSender', [on])
  }
  /** Closes the worker's socket, then ends it (at once if it does not answer within STOP_WITHIN_MS). */
  async stop() {
    this.stopping = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<void>((r) => {
      timer = setTimeout(r, STOP_WITHIN_MS)
    })
    await Promise.race([this.call('stop', []).catch(() => {}), late])
    clearTimeout(timer)
    this.worker.terminate()
  }
}
