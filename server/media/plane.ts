// The data plane of live audio: the media socket (rtc-server.ts), each peer's transport (ICE-lite, DTLS, SRTP) and
// each room's router (forwarding, levels, taps), driven by commands that are plain data (M62). It runs in a media
// worker (worker.ts; MEDIA_WORKERS ≥ 1) or in the server's own thread (MEDIA_WORKERS=0), and the media service
// (service.ts, on the main thread) talks to it the same way in both: `Plane` is that interface, `LocalPlane` the
// plane itself, `WorkerPlane` (worker-plane.ts) the same commands posted to a worker. Nothing of a plane reaches the
// rooms, the bus or a WebSocket: what the service must know leaves as `PlaneEvents`.
import type { ParticipantKey, RoomAudioQuality, RoomRole, TapPacket } from '../contracts'
import type { Logger } from '../lib/log'
import { K_SLOTS, OPUS_PT } from './forwarder'
import { type Levels, LevelsObserver } from './levels'
import type { IceCredentials, PeerTransport } from './peer-transport'
import { type Endpoint, MediaCounters, Router, type TapListener } from './router'
import { RelayIn, RelayOut, relayIdOf, type RelaySource, type RelayTarget } from './relay-wire'
import { RtcServer, type RtcServerStats } from './rtc-server'
import { randomBytes } from 'node:crypto'

/**
 * A peer that never connects this long is closed. The time its handshake waits at the gate (M57) does not count:
 * the timer stops while it waits and starts again, whole, when its handshake may begin.
 */
const CONNECT_TIMEOUT_MS = 30_000
/** How often a plane reports its counters and each room's feedback to the service (the budget's cadence). */
const REPORT_MS = 1_000

export interface PlaneOptions {
  host: string
  udpPort: number
  tcpPort: number | null
  /** DTLS handshakes in flight at most (MEDIA_HANDSHAKES). */
  handshakes: number
}

/** What a plane tells its owner; every argument is plain data (it may cross a thread). */
export interface PlaneEvents {
  /** A peer's DTLS is up and SRTP keys are ready. */
  connected(peerId: number): void
  /** A peer never connected in time, failed, or its ICE checks stopped: the owner closes it. */
  expired(peerId: number): void
  /** A room's speaking levels changed (M51). */
  levels(roomId: number, levels: Levels): void
  /** Who is in each of a listener's slots changed (R70), coalesced per listener. */
  slots(peerId: number, slots: (ParticipantKey | null)[]): void
  /** Tapped uplink packets (M54) of the rooms with a tap on, in arrival order. */
  tap(packets: TapPacket[]): void
  /** Every REPORT_MS while the plane is open. */
  report(report: PlaneReport): void
}

export interface PlaneReport {
  forwardedPackets: number
  forwardedBytes: number
  packetsPerSecond: number
  droppedPackets: number
  /** Rooms with audio on this plane, and the timers they hold (routers' ticks and peers' connect timers). */
  rooms: number
  timers: number
  quality: RoomAudioQuality[]
  rtc: RtcServerStats
  /** The relays (M64): datagrams sent to each edge, and those taken and refused (wrong tag, replayed) as an edge. */
  relay: RelayStats
}

interface RelayStats {
  /** Datagrams sent to each relay of now, and to all relays since the plane opened. */
  sent: { roomId: number; relayId: number; packets: number }[]
  sentTotal: number
  received: number
  refused: number
}

/** Where a peer is heard from and what it may do in its room. */
export interface PeerSpec {
  peerId: number
  roomId: number
  key: ParticipantKey
  role: RoomRole
  muted: boolean
  /** On stage: its handshake goes before the listeners' at the gate. */
  stage: boolean
}

/** What the server reads of a peer's answer. */
export interface PeerAnswer {
  fingerprint: { algorithm: string; value: string }
  levelExtension: number
  payloadTypes: readonly number[]
}

/** The counters of one peer's transport (tests). */
export interface TransportStats {
  firstClientHellos: number
  packetsIn: number
  rtpIn: number
  rtcpIn: number
  connected: boolean
  /** Whether werift's DTLS server is still held (M63: dropped once the client sent protected media). */
  dtls: boolean
  path: 'udp' | 'tcp' | null
  remote: string | null
}

/** The socket a plane opened: what an offer announces. */
export interface PlaneInfo {
  udpPort: number
  tcpPort: number | null
  fingerprint: { algorithm: string; value: string }
}

/** The commands of a plane: those that answer return a promise (a worker answers by message). */
export interface Plane {
  readonly info: PlaneInfo
  open(peer: PeerSpec): Promise<{ ice: IceCredentials; ssrcs: number[] }>
  answer(peerId: number, answer: PeerAnswer): void
  restart(peerId: number): Promise<IceCredentials>
  update(roomId: number, key: ParticipantKey, speaking: { role: RoomRole; muted: boolean }): void
  close(peerId: number): void
  /** Whether the room's uplink packets go to `PlaneEvents.tap`. */
  tap(roomId: number, on: boolean): void
  /** Origin (M64): the edges the room's voices are relayed to now (none: the relay stops). */
  relayTo(roomId: number, targets: RelayTarget[]): void
  /** Edge (M65): the relays whose datagrams this plane takes for the room (none: it takes none). */
  relayFrom(roomId: number, sources: RelaySource[]): void
  /** The last report (a worker's is at most REPORT_MS old). */
  latest(): PlaneReport
  /** Forwarded packets a second (the budget reads it on every join: cheaper than a report). */
  packetsPerSecond(): number
  /** A report made now (a worker answers it by message). */
  report(): Promise<PlaneReport>
  transports(roomId: number): Promise<TransportStats[]>
  /** Benchmarks only: rooms opened from now on forward with werift's own sender. */
  useStockSender(on: boolean): void
  stop(): Promise<void>
}

function randomSsrc(taken: Set<number>): number {
  for (;;) {
    const s = randomBytes(4).readUInt32BE(0)
    if (s !== 0 && !taken.has(s)) {
      taken.add(s)
      return s
    }
  }
}

/** One participant's transport and its place in the room's router. */
class PlanePeer {
  closed = false
  timer: ReturnType<typeof setTimeout> | null = null
  payloadTypes: readonly number[] = []
  transport!: PeerTransport
  endpoint!: Endpoint
  constructor(readonly spec: PeerSpec) {}
}

interface PlaneRoom {
  readonly router: Router
  /** Its peers by participant (one each: the service closes a participant's peer before opening another). */
  readonly peers: Map<ParticipantKey, PlanePeer>
  /** Edge (M65): the origin's speakers heard through a relay, each an uplink of the router with no transport. */
  readonly remote: Map<ParticipantKey, Endpoint>
}

/** The level extension id of relayed packets as the edge's router reads them. */
const RELAY_LEVEL_EXT = 1
/** The slots of a relayed speaker's (unused) listener side: no listener has them. */
const NO_SSRCS: readonly number[] = Array(K_SLOTS).fill(0)

/** The data plane in this thread. */
export class LocalPlane implements Plane {
  private readonly peers = new Map<number, PlanePeer>()
  private readonly rooms = new Map<number, PlaneRoom>()
  /** The taps by room: one listener (the events' tap) while the service wants the room's packets. */
  private readonly taps = new Map<number, Set<TapListener>>()
  private readonly counters = new MediaCounters()
  private stock = false
  private readonly reporter: ReturnType<typeof setInterval>
  /** Tapped packets waiting for the end of this turn (one event for a batch). */
  private tapped: TapPacket[] = []
  /** Origin: each room's relays to edges (kept while set, whether or not the room has a router yet). */
  private readonly relaysOut = new Map<number, RelayOut>()
  /** Edge: the relays taken, by relay id, and by room. */
  private readonly relaysIn = new Map<number, RelayIn>()
  private readonly relayRooms = new Map<number, RelayIn[]>()
  private relayReceived = 0
  private relaySent = 0
  private readonly relaySend = (packet: Buffer, port: number, ip: string) => {
    this.relaySent++
    this.rtc.sendRelay(packet, port, ip)
  }
  private relayRefused = 0

  private constructor(
    private readonly rtc: RtcServer,
    private readonly events: PlaneEvents,
    private readonly log: Logger,
  ) {
    this.reporter = setInterval(() => this.events.report(this.latest()), REPORT_MS)
    this.reporter.unref?.()
    rtc.relayIn = (data) => this.relayed(data)
  }

  /** Opens the media socket; throws if the port is taken. */
  static async open(o: PlaneOptions, events: PlaneEvents, log: Logger): Promise<LocalPlane> {
    const rtc = await RtcServer.open({
      host: o.host,
      port: o.udpPort,
      tcpPort: o.tcpPort,
      log,
      handshakes: o.handshakes,
    })
    return new LocalPlane(rtc, events, log)
  }

  get info(): PlaneInfo {
    return { udpPort: this.rtc.port, tcpPort: this.rtc.tcpPort, fingerprint: this.rtc.fingerprint }
  }

  /** For tests in this thread: the DTLS handshake gate (M57), to hold and observe it. */
  get gate() {
    return this.rtc.gate
  }

  async open(spec: PeerSpec) {
    const peer = new PlanePeer(spec)
    const taken = new Set<number>()
    const ssrcs = Array.from({ length: K_SLOTS }, () => randomSsrc(taken))
    peer.payloadTypes = Array(K_SLOTS).fill(OPUS_PT)
    const expire = () => {
      if (!peer.closed) this.events.expired(spec.peerId)
    }
    const { transport, ice } = this.rtc.createTransport(
      {
        connected: () => {
          if (peer.closed) return
          this.clearTimer(peer)
          peer.endpoint.connect(peer.transport, peer.payloadTypes)
          this.events.connected(spec.peerId)
        },
        rtp: (rtp) => peer.endpoint.receive(rtp),
        receiverReport: (ssrc, fractionLost, jitter) => peer.endpoint.receiverReport(ssrc, fractionLost, jitter),
        // Waiting is not failing: no timer while the handshake waits for its place.
        queued: () => this.clearTimer(peer),
        admitted: () => {
          if (!peer.closed) this.startTimer(peer, expire)
        },
        failed: (reason) => {
          if (peer.closed) return
          this.log.debug('media: transport failed', { key: spec.key, reason })
          peer.endpoint.disconnect()
          expire()
        },
      },
      expire,
      spec.stage,
    )
    peer.transport = transport
    const room = this.room(spec.roomId)
    peer.endpoint = room.router.add(spec.key, ssrcs, { role: spec.role, muted: spec.muted })
    room.peers.set(spec.key, peer)
    this.peers.set(spec.peerId, peer)
    this.startTimer(peer, expire)
    return { ice, ssrcs }
  }

  answer(peerId: number, a: PeerAnswer) {
    const peer = this.peers.get(peerId)
    if (!peer) return
    peer.payloadTypes = a.payloadTypes
    if (a.levelExtension) peer.endpoint.setLevelExtension(a.levelExtension)
    peer.transport.setRemoteFingerprint(a.fingerprint.algorithm, a.fingerprint.value)
  }

  async restart(peerId: number) {
    const peer = this.peers.get(peerId)
    if (!peer) throw new Error('media: no such peer')
    return this.rtc.restartIce(peer.transport)
  }

  update(roomId: number, key: ParticipantKey, speaking: { role: RoomRole; muted: boolean }) {
    this.rooms.get(roomId)?.router.update(key, speaking)
  }

  close(peerId: number) {
    const peer = this.peers.get(peerId)
    if (!peer) return
    this.peers.delete(peerId)
    peer.closed = true
    peer.endpoint.disconnect()
    this.clearTimer(peer)
    this.rtc.release(peer.transport)
    const roomId = peer.spec.roomId
    const room = this.rooms.get(roomId)
    if (!room) return
    if (room.peers.get(peer.spec.key) !== peer) return
    room.peers.delete(peer.spec.key)
    room.router.remove(peer.spec.key)
    if (room.peers.size === 0) {
      this.rooms.delete(roomId)
      room.router.close()
      if (this.taps.get(roomId)?.size === 0) this.taps.delete(roomId)
      if (this.relaysOut.get(roomId)?.active === false) this.relaysOut.delete(roomId)
    }
  }

  tap(roomId: number, on: boolean) {
    let set = this.taps.get(roomId)
    if (!set) this.taps.set(roomId, (set = new Set()))
    if (on) set.add(this.tapListener)
    else {
      set.delete(this.tapListener)
      if (!this.rooms.has(roomId)) this.taps.delete(roomId)
    }
  }

  relayTo(roomId: number, targets: RelayTarget[]) {
    let out = this.relaysOut.get(roomId)
    if (!out && targets.length === 0) return
    if (!out) this.relaysOut.set(roomId, (out = new RelayOut(roomId, this.relaySend)))
    out.set(targets)
    // No edge and no router holding it: forgotten (a router made later gets a new one).
    if (targets.length === 0 && !this.rooms.has(roomId)) this.relaysOut.delete(roomId)
  }

  relayFrom(roomId: number, sources: RelaySource[]) {
    for (const r of this.relayRooms.get(roomId) ?? []) this.relaysIn.delete(r.source.relayId)
    // No relay any more: the relayed speakers leave the router (a room adopted here hears its speakers directly).
    const room = this.rooms.get(roomId)
    if (room && sources.length === 0) {
      for (const key of room.remote.keys()) room.router.remove(key)
      room.remote.clear()
    }
    const list = sources.map((s) => new RelayIn(roomId, s))
    for (const r of list) this.relaysIn.set(r.source.relayId, r)
    if (list.length) this.relayRooms.set(roomId, list)
    else this.relayRooms.delete(roomId)
  }

  /** Edge: a relay datagram. Checked, then handed to the router as the uplink of the speaker it names. */
  private relayed(data: Buffer) {
    const relay = this.relaysIn.get(relayIdOf(data))
    const room = relay && this.rooms.get(relay.roomId)
    // An unknown relay, or a room with no listener here (yet: the origin may send before the edge's first peer is
    // open, or still after its last closed): dropped, not refused.
    if (!room) return this.counters.dropped()
    const packet = relay.open(data)
    if (!packet) {
      this.relayRefused++
      return
    }
    this.relayReceived++
    let speaker = room.remote.get(packet.key as ParticipantKey)
    if (!speaker) {
      // A voice the origin relays may be heard (its role and mute were checked there); a later change comes by update.
      speaker = room.router.add(packet.key as ParticipantKey, NO_SSRCS, { role: 'speaker', muted: false })
      speaker.setLevelExtension(RELAY_LEVEL_EXT)
      room.remote.set(packet.key as ParticipantKey, speaker)
    }
    speaker.receive({
      header: {
        sequenceNumber: packet.seq,
        timestamp: packet.ts,
        extensions: packet.dbov < 0 ? [] : [{ id: RELAY_LEVEL_EXT, payload: Uint8Array.of(packet.dbov) }],
      },
      payload: packet.payload,
    })
  }

  latest(): PlaneReport {
    const c = this.counters
    c.sample(performance.now())
    let timers = 0
    for (const r of this.rooms.values()) {
      timers++ // the router's tick
      for (const p of r.peers.values()) if (p.timer) timers++
    }
    return {
      forwardedPackets: c.forwardedPackets,
      forwardedBytes: c.forwardedBytes,
      packetsPerSecond: c.packetsPerSecond,
      droppedPackets: c.droppedPackets,
      rooms: this.rooms.size,
      timers,
      quality: [...this.rooms.entries()].map(([roomId, r]) => ({ roomId, ...r.router.feedback() })),
      rtc: this.rtc.stats(),
      relay: {
        sent: [...this.relaysOut.values()].flatMap((o) => o.counts()),
        sentTotal: this.relaySent,
        received: this.relayReceived,
        refused: this.relayRefused,
      },
    }
  }

  async report() {
    return this.latest()
  }

  packetsPerSecond() {
    this.counters.sample(performance.now())
    return this.counters.packetsPerSecond
  }

  async transports(roomId: number): Promise<TransportStats[]> {
    return [...(this.rooms.get(roomId)?.peers.values() ?? [])].map(({ transport: t }) => ({
      firstClientHellos: t.firstClientHellos,
      packetsIn: t.packetsIn,
      rtpIn: t.rtpIn,
      rtcpIn: t.rtcpIn,
      connected: t.connected,
      dtls: t.holdsDtls,
      path: t.path ? (t.path.key.startsWith('t') ? 'tcp' : 'udp') : null,
      remote: t.path ? `${t.path.ip}:${t.path.port}` : null,
    }))
  }

  useStockSender(on: boolean) {
    this.stock = on
  }

  async stop() {
    clearInterval(this.reporter)
    for (const id of [...this.peers.keys()]) this.close(id)
    this.rtc.close()
  }

  /** Every tapped packet of this plane, handed on in one event per turn of the loop. */
  private readonly tapListener: TapListener = (p) => {
    if (this.tapped.push(p) > 1) return
    queueMicrotask(() => {
      const batch = this.tapped
      this.tapped = []
      this.events.tap(batch)
    })
  }

  private room(roomId: number): PlaneRoom {
    let room = this.rooms.get(roomId)
    if (room) return room
    const levels = new LevelsObserver((l) => this.events.levels(roomId, l))
    let taps = this.taps.get(roomId)
    if (!taps) this.taps.set(roomId, (taps = new Set()))
    const peers = new Map<ParticipantKey, PlanePeer>()
    // Who is in each of a listener's slots (R70), to that listener only, coalesced by the router.
    const slots = (key: ParticipantKey, s: readonly (ParticipantKey | null)[]) => {
      const p = peers.get(key)
      if (p) this.events.slots(p.spec.peerId, [...s])
    }
    let relay = this.relaysOut.get(roomId)
    if (!relay) this.relaysOut.set(roomId, (relay = new RelayOut(roomId, this.relaySend)))
    const router = new Router(roomId, this.counters, [levels], this.stock, taps, slots, relay)
    room = { router, peers, remote: new Map() }
    this.rooms.set(roomId, room)
    return room
  }

  private startTimer(peer: PlanePeer, expire: () => void) {
    this.clearTimer(peer)
    peer.timer = setTimeout(expire, CONNECT_TIMEOUT_MS)
  }

  private clearTimer(peer: PlanePeer) {
    if (peer.timer) clearTimeout(peer.timer)
    peer.timer = null
  }
}
