// The SFU's control plane, on the main thread: glue between the WebSocket, the rooms domain and the data planes of
// live audio. `rtc.*` requests drive each participant's peer (signalling.ts: SDP, ICE restart); the rooms' events
// drive who is heard. Everything per packet is a data plane's (plane.ts: the media socket, transports, one router
// per room), in a media worker each (MEDIA_WORKERS, worker-plane.ts) or in this thread (MEDIA_WORKERS=0): a room is
// placed on the plane with the fewest peers when its audio starts, and its levels, slots and taps come back here as
// events, published to the room. The budget (M52): a listener's `rtc.connect` is
// refused with `room_full` when the room or the server is at MEDIA_ROOM_MAX_LISTENERS / MEDIA_MAX_LISTENERS, or the
// forwarded packets per second are at MEDIA_MAX_PPS; those already in keep hearing, and the stage is never refused.
// A burst of joins (M57–M60): DTLS handshakes wait their turn at the media socket's gate (MEDIA_HANDSHAKES in flight),
// and past MEDIA_MAX_CONNECTING peers connecting at once a new listener gets `media_busy` with a time to retry after.
import { rtcPorts } from '../config'
import type { MediaApi, ParticipantKey, RoomAudioQuality, RoomRole, RoomsApi, TapPacket } from '../contracts'
import { connKey } from '../contracts'
import type { Core } from '../core'
import { AppError, ERRORS, fail } from '../errors'
import type { MediaRequests, RtcOffer } from '../protocol'
import { roomTopic, type ConnId, type ConnInfo } from '../realtime/bus'
import type { Handlers } from '../realtime/hub'
import { hostAddresses, iceServersFor } from './ice'
import { LocalPlane, type Plane, type PlaneEvents, type PlaneOptions } from './plane'
import type { RelaySource, RelayTarget } from './relay-wire'
import { SignallingPeer } from './signalling'
import { WorkerPlane, WorkerTimeout } from './worker-plane'

/** A room's audio: the plane it is on, each participant's peer, who of them are listeners. */
interface RoomMedia {
  readonly plane: Plane
  readonly peers: Map<ParticipantKey, SignallingPeer>
  /** Peers taken as listeners (audience and guests), counted against the budget. */
  readonly listeners: Set<ParticipantKey>
  /** What the rooms were last told: whether the room takes more listeners. */
  full: boolean
  /** The socket each peer was connected from: where its `rtc.slots` go (R70). */
  readonly conns: Map<ParticipantKey, ConnId>
  /**
   * An edge room (M65): another node holds the room; this node serves these listeners with the speakers relayed from
   * the origin. Its levels are not published (the origin's reach the room's topic on every node).
   */
  edge: boolean
}

/** What an edge node is told of a listener it serves (M65): the origin's participant, checked there. */
export interface EdgeParticipant {
  key: ParticipantKey
  role: RoomRole
  muted: boolean
}

const STAGE: ReadonlySet<RoomRole> = new Set(['host', 'moderator', 'speaker'])
/** Over how long the rate of connects (for media_busy's retry-after) is measured. */
const CONNECT_RATE_WINDOW_MS = 10_000

export class MediaService implements MediaApi {
  private readonly media = new Map<number, RoomMedia>()
  /** Every open peer by its id (the planes' events name peers by id). */
  private readonly peers = new Map<number, SignallingPeer>()
  private nextPeerId = 1
  /** The data planes (opened by start()): one per media worker, or this thread's. */
  private planes: Plane[] = []
  private readonly hosts: string[]
  /** Uplink taps by room (M54): the service's listeners; the planes are told which rooms are tapped. */
  private readonly taps = new Map<number, Set<(packet: TapPacket) => void>>()
  /** Listeners taken in all rooms. */
  private listenerCount = 0
  /** Peers offered and not connected yet (nor closed): the joins in progress (M59). */
  private connecting = 0
  private connects = 0
  /** When the last connects happened (ms), for the rate; at most 1,000 kept. */
  private readonly connectTimes: number[] = []
  /** Edge (M65): told when one of its listeners' peers closes (not when it is replaced by a new one). */
  private edgeClosed: ((roomId: number, key: ParticipantKey) => void) | null = null
  /** A peer being replaced by `rtc.connect`: its close is not an edge listener leaving. */
  private replacing = false

  /** Its WebSocket handlers (`rtc.*`), mounted by app.ts. */
  readonly ws: Handlers<keyof typeof MediaRequests>

  /** Built after the rooms, whose events it follows. It opens no socket until start(). */
  constructor(
    private readonly core: Core,
    private readonly rooms: RoomsApi,
  ) {
    this.hosts = hostAddresses(core.config)
    this.ws = {
      'rtc.connect': (conn, msg) => this.connect(conn, msg.roomId),
      'rtc.answer': (conn, msg) => this.answer(conn, msg.roomId, msg.sdp),
      'rtc.restart': (conn, msg) => this.restart(conn, msg.roomId),
      'rtc.leave': (conn, msg) => {
        this.closePeer(msg.roomId, connKey(conn))
        return {}
      },
    }
    rooms.on('role', (e) => this.update(e.roomId, e.key))
    rooms.on('muted', (e) => this.update(e.roomId, e.key))
    rooms.on('left', (e) => this.closePeer(e.roomId, e.key))
    rooms.on('ended', (e) => this.closeRoom(e.roomId))
  }

  /**
   * Opens the data planes: MEDIA_WORKERS workers (worker n's socket on RTC_PORT + n), or this thread's. Each binds
   * its UDP socket (and ICE-TCP listener) on HOST.
   */
  async start() {
    const c = this.core.config
    const workers = c.mediaWorkers
    const events = this.planeEvents()
    const options = (w: number): PlaneOptions => {
      const ports = rtcPorts(c, w)
      return { host: c.host, udpPort: ports.udp, tcpPort: ports.tcp, handshakes: c.mediaHandshakes }
    }
    try {
      if (workers === 0) this.planes = [await LocalPlane.open(options(0), events, this.core.log)]
      else
        for (let w = 0; w < workers; w++) {
          const plane = await WorkerPlane.open(w, options(w), events, this.core.log, c.logLevel).catch(
            async (e: unknown) => {
              // A worker that hangs at start (it was ended): the audio of this plane runs in this thread rather than
              // not at all. A worker that could not bind its port fails the start, as the server's own thread would.
              if (!(e instanceof WorkerTimeout)) throw e
              this.core.log.error('media: a media worker did not start; its rooms forward in the main thread', {
                worker: w,
              })
              return LocalPlane.open(options(w), events, this.core.log)
            },
          )
          this.planes.push(plane)
        }
    } catch (e) {
      await this.closeAll()
      throw e
    }
    for (const roomId of this.taps.keys()) for (const p of this.planes) p.tap(roomId, true)
  }

  /** The first plane's media socket: its ports and counters (tests); `connecting` is counted here. */
  async rtcStats() {
    const plane = this.planes[0]
    if (!plane) return null
    const { rtc } = await plane.report()
    return { udpPort: plane.info.udpPort, tcpPort: plane.info.tcpPort, ...rtc, connecting: this.connecting }
  }

  stats() {
    let peers = 0
    for (const r of this.media.values()) peers += r.peers.size
    let forwardedPackets = 0
    let forwardedBytes = 0
    for (const p of this.planes) {
      const r = p.latest()
      forwardedPackets += r.forwardedPackets
      forwardedBytes += r.forwardedBytes
    }
    const relay = this.relayStats()
    return {
      peers,
      forwardedPackets,
      forwardedBytes,
      packetsPerSecond: this.pps(),
      listeners: this.listenerCount,
      relaySent: relay.sentTotal,
      relayReceived: relay.received,
      relayRefused: relay.refused,
    }
  }

  tap(roomId: number, listener: (packet: TapPacket) => void): () => void {
    let set = this.taps.get(roomId)
    if (!set) this.taps.set(roomId, (set = new Set()))
    if (set.size === 0) for (const p of this.planes) p.tap(roomId, true)
    const fn = (p: TapPacket) => listener(p)
    set.add(fn)
    return () => {
      if (!set.delete(fn) || set.size > 0) return
      if (this.taps.get(roomId) === set) this.taps.delete(roomId)
      for (const p of this.planes) p.tap(roomId, false)
    }
  }

  quality(): RoomAudioQuality[] {
    return this.planes.flatMap((p) => p.latest().quality)
  }

  /** For tests: what is still held, counted now (a worker answers by message). */
  async debug() {
    const reports = await Promise.all(this.planes.map((p) => p.report()))
    const sum = (f: (r: (typeof reports)[number]) => number) => reports.reduce((n, r) => n + f(r), 0)
    return {
      ...this.stats(),
      rooms: sum((r) => r.rooms),
      timers: sum((r) => r.timers),
      transports: sum((r) => r.rtc.peers),
      connecting: this.connecting,
      connects: this.connects,
      connectsPerSecond: Math.round(this.connectsPerSecond()),
      handshakes: reports[0]?.rtc.handshakes ?? null,
      dropped: sum((r) => r.droppedPackets),
    }
  }

  /** For tests in this thread (MEDIA_WORKERS=0): the DTLS handshake gate of the media socket (M57). */
  handshakeGate() {
    const plane = this.planes[0]
    return plane instanceof LocalPlane ? plane.gate : null
  }

  /** For tests: the transport counters of a room's peers (first ClientHellos, packets in, path). */
  async transportsDebug(roomId: number) {
    return (await this.media.get(roomId)?.plane.transports(roomId)) ?? []
  }

  /** Benchmarks only: rooms opened from now on forward with werift's own RTP header and SRTP, for comparison. */
  useStockSender(on: boolean) {
    for (const p of this.planes) p.useStockSender(on)
  }

  // ── the planes' events ──────────────────────────────────────────────────────────────────────────────────────

  private planeEvents(): PlaneEvents {
    return {
      connected: (peerId) => {
        const peer = this.peers.get(peerId)
        if (!peer || peer.connected) return
        peer.connected = true
        this.connecting--
        this.connects++
        this.connectTimes.push(performance.now())
        if (this.connectTimes.length > 1000) this.connectTimes.shift()
      },
      expired: (peerId) => {
        const peer = this.peers.get(peerId)
        if (peer) this.closePeer(peer.roomId, peer.key, peer)
      },
      levels: (roomId, levels) => {
        if (this.media.get(roomId)?.edge) return
        this.core.bus.publish(roomTopic(roomId), { type: 'room.levels', roomId, levels })
      },
      slots: (peerId, slots) => {
        const peer = this.peers.get(peerId)
        const c = peer && this.media.get(peer.roomId)?.conns.get(peer.key)
        if (peer && c !== undefined) this.core.bus.toConn(c, { type: 'rtc.slots', roomId: peer.roomId, slots })
      },
      tap: (packets) => {
        for (const p of packets)
          for (const fn of this.taps.get(p.roomId) ?? []) {
            try {
              fn(p)
            } catch {
              // a tap's failure is its own: the room's audio goes on
            }
          }
      },
      // The budget's cadence (M52): the packet rate may have made rooms full, or not full any more.
      report: () => this.refreshFull(),
    }
  }

  // ── signalling ──────────────────────────────────────────────────────────────────────────────────────────────

  private participant(conn: ConnInfo, roomId: number) {
    const room = this.rooms.room(roomId)
    if (room?.state !== 'live') fail('media_room_not_live')
    const p = this.rooms.participant(roomId, connKey(conn))
    if (!p) fail('media_not_joined')
    return p
  }

  private connect(conn: ConnInfo, roomId: number): Promise<RtcOffer> {
    return this.offer(conn, roomId, this.participant(conn, roomId), false)
  }

  /**
   * Edge (M65): a listener of a room held by another node, served here: its offer carries this node's addresses and
   * RTC port. The origin checked the participant; this node's budget (M52) applies to its own listeners.
   */
  connectEdge(conn: ConnInfo, roomId: number, info: EdgeParticipant): Promise<RtcOffer> {
    return this.offer(conn, roomId, info, true)
  }

  private async offer(conn: ConnInfo, roomId: number, info: EdgeParticipant, edge: boolean): Promise<RtcOffer> {
    if (!STAGE.has(info.role) && !this.media.get(roomId)?.peers.has(info.key)) {
      if (this.fullFor(roomId)) fail('room_full')
      this.refuseWhenBusy()
    }
    this.replacing = true
    try {
      this.closePeer(roomId, info.key)
    } finally {
      this.replacing = false
    }
    const room = this.room(roomId, edge)
    const peer = new SignallingPeer(
      this.nextPeerId++,
      roomId,
      info.key,
      room.plane,
      this.hosts,
      this.core.config.iceTcp,
    )
    room.peers.set(info.key, peer)
    room.conns.set(info.key, conn.id)
    this.peers.set(peer.id, peer)
    this.connecting++
    this.setListener(room, info.key, !STAGE.has(info.role))
    this.refreshFull()
    try {
      const sdp = await peer.offer({ role: info.role, muted: info.muted, stage: STAGE.has(info.role) })
      return this.offerReply(conn, sdp)
    } catch (e) {
      this.closePeer(roomId, info.key, peer)
      // A plane that is not there (a media worker ended and not started again yet): the client may try again later.
      if (e instanceof AppError) throw e
      this.core.log.warn('media: no offer', { roomId, error: e })
      fail('media_unavailable')
    }
  }

  private peerOf(conn: ConnInfo, roomId: number): SignallingPeer {
    const peer = this.media.get(roomId)?.peers.get(connKey(conn))
    if (!peer || peer.isClosed) fail('media_no_peer')
    return peer
  }

  private answer(conn: ConnInfo, roomId: number, sdp: string) {
    this.peerOf(conn, roomId).answer(sdp)
    return {}
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (no new tracks, same slots). */
  private async restart(conn: ConnInfo, roomId: number) {
    const peer = this.peerOf(conn, roomId)
    this.media.get(roomId)?.conns.set(connKey(conn), conn.id)
    return this.offerReply(conn, await peer.restart())
  }

  /** The offer to answer, with the ICE servers (and TURN credentials) for this member or guest. */
  private offerReply(conn: ConnInfo, sdp: string): RtcOffer {
    return { sdp, iceServers: this.iceServers(conn.user ? String(conn.user.id) : `guest-${conn.id}`) }
  }

  /** TURN URLs are an admin setting (TURN_URLS is its default); the secret stays in the config. */
  private iceServers(id: string) {
    return iceServersFor(
      {
        turnUrls: this.core.settings.get().turnUrls ?? this.core.config.turnUrls,
        turnSecret: this.core.config.turnSecret,
      },
      id,
    )
  }

  // ── the budget (M52) ────────────────────────────────────────────────────────────────────────────────────────

  /** Forwarded packets a second, all planes together (a worker's figure is at most a second old). */
  private pps() {
    let n = 0
    for (const p of this.planes) n += p.packetsPerSecond()
    return n
  }

  /** Whether the room takes no more listeners now: the room's cap, the server's cap, or the packet rate. */
  private fullFor(roomId: number): boolean {
    const c = this.core.config
    const inRoom = this.media.get(roomId)?.listeners.size ?? 0
    if (c.mediaRoomMaxListeners > 0 && inRoom >= c.mediaRoomMaxListeners) return true
    if (c.mediaMaxListeners > 0 && this.listenerCount >= c.mediaMaxListeners) return true
    return c.mediaMaxPps > 0 && this.pps() >= c.mediaMaxPps
  }

  /** Connects a second over the last CONNECT_RATE_WINDOW_MS (0 when none). */
  private connectsPerSecond(now = performance.now()): number {
    const times = this.connectTimes
    const from = now - CONNECT_RATE_WINDOW_MS
    let i = 0
    while (i < times.length && times[i]! < from) i++
    if (i) times.splice(0, i)
    if (!times.length) return 0
    return (times.length * 1000) / Math.max(1000, now - times[0]!)
  }

  /**
   * M59: more peers connecting at once than MEDIA_MAX_CONNECTING cannot all finish before their clients give up; a
   * new listener is told to come back (the time it takes the server to connect those waiting, 1–30 s) instead.
   */
  private refuseWhenBusy() {
    const max = this.core.config.mediaMaxConnecting
    if (max <= 0 || this.connecting < max) return
    const rate = this.connectsPerSecond()
    const seconds = Math.min(30, Math.max(1, Math.ceil(this.connecting / Math.max(rate, 50))))
    fail('media_busy', `${ERRORS.media_busy[1]} Retry in ${seconds} s.`, seconds)
  }

  /** Tells the rooms (the hallway) when a room's fullness changed; the server's caps touch every room. */
  private refreshFull() {
    for (const [roomId, r] of this.media) {
      const full = this.fullFor(roomId)
      if (full === r.full) continue
      r.full = full
      this.rooms.setAudioFull(roomId, full)
    }
  }

  /** Counts a peer as a listener or not, following its role. */
  private setListener(r: RoomMedia, key: ParticipantKey, listening: boolean) {
    if (listening === r.listeners.has(key)) return
    if (listening) r.listeners.add(key)
    else r.listeners.delete(key)
    this.listenerCount += listening ? 1 : -1
  }

  // ── peers and rooms ─────────────────────────────────────────────────────────────────────────────────────────

  // ── edges (M64–M66): driven by the relay (relay.ts) ─────────────────────────────────────────────────────────

  /** Edge: where the origin sends the room's relay, the plane serving the room here (made ready if needed). */
  edgeAddress(roomId: number): { ip: string; port: number } {
    const room = this.room(roomId, true)
    return { ip: this.hosts[0] ?? '127.0.0.1', port: room.plane.info.udpPort }
  }

  /** Edge: a room readied by `edgeAddress` that got no listener (the origin said no) is forgotten. */
  dropIfEmpty(roomId: number) {
    const room = this.media.get(roomId)
    if (room?.edge && room.peers.size === 0) this.media.delete(roomId)
  }

  /** Edge: whether this node serves the participant's audio in the room (its `rtc.*` run here). */
  servesEdge(roomId: number, key: ParticipantKey) {
    const room = this.media.get(roomId)
    return !!room?.edge && room.peers.has(key)
  }

  /** Edge: the socket a listener connected from. */
  edgeConn(roomId: number, key: ParticipantKey): ConnId | undefined {
    return this.media.get(roomId)?.conns.get(key)
  }

  /** Edge: this node holds the room now (it adopted it, W26): its audio is the origin's from here on. */
  adopted(roomId: number) {
    const room = this.media.get(roomId)
    if (room) room.edge = false
    this.relayFrom(roomId, [])
  }

  onEdgeClosed(fn: (roomId: number, key: ParticipantKey) => void) {
    this.edgeClosed = fn
  }

  /** Origin: the edges the room's voices go to (every plane is told: the room may not be on one yet). */
  relayTo(roomId: number, targets: RelayTarget[]) {
    for (const p of this.planes) p.relayTo(roomId, targets)
  }

  /** Edge: the relay the room's voices come from (none: stop taking them). */
  relayFrom(roomId: number, sources: RelaySource[]) {
    for (const p of this.planes) p.relayFrom(roomId, sources)
  }

  /** Edge: a relayed speaker's role or mute changed at the origin (heard or not at once, not after the idle time). */
  relayedSpeaking(roomId: number, key: ParticipantKey, speaking: { role: RoomRole; muted: boolean }) {
    const room = this.media.get(roomId)
    if (room?.edge && !room.peers.has(key)) room.plane.update(roomId, key, speaking)
  }

  /** The relays' counters of every plane (tests, /metrics). */
  relayStats() {
    const sent: { roomId: number; relayId: number; packets: number }[] = []
    let received = 0
    let refused = 0
    let sentTotal = 0
    for (const p of this.planes) {
      const r = p.latest().relay
      sent.push(...r.sent)
      sentTotal += r.sentTotal
      received += r.received
      refused += r.refused
    }
    return { sent, sentTotal, received, refused }
  }

  /** The relays' counters, read now (tests). */
  async relayReport() {
    await Promise.all(this.planes.map((p) => p.report()))
    return this.relayStats()
  }

  /** A room's audio, placed on the plane with the fewest peers when it starts. */
  private room(roomId: number, edge = false): RoomMedia {
    let room = this.media.get(roomId)
    if (room) return room
    if (this.planes.length === 0) fail('media_unavailable')
    const load = new Map<Plane, number>(this.planes.map((p) => [p, 0]))
    for (const r of this.media.values()) load.set(r.plane, load.get(r.plane)! + r.peers.size)
    const plane = [...load.entries()].reduce((a, b) => (b[1] < a[1] ? b : a))[0]
    room = { plane, peers: new Map(), listeners: new Set(), full: false, conns: new Map(), edge }
    this.media.set(roomId, room)
    return room
  }

  private update(roomId: number, key: ParticipantKey) {
    const room = this.media.get(roomId)
    if (!room?.peers.has(key)) return
    // The rooms' own state is the truth (a role change may also mute, e.g. back to the audience).
    const info = this.rooms.participant(roomId, key)
    if (!info) return
    room.plane.update(roomId, key, { role: info.role, muted: info.muted })
    // Going on stage frees a listener's place; back in the audience, they keep hearing (counted again, never cut).
    this.setListener(room, key, !STAGE.has(info.role))
    this.refreshFull()
  }

  /** Closes a participant's peer (left, removed, replaced) and frees its transport and timers. */
  closePeer(roomId: number, key: ParticipantKey, only?: SignallingPeer) {
    const room = this.media.get(roomId)
    const peer = room?.peers.get(key)
    if (!room || !peer || (only && peer !== only)) return
    room.peers.delete(key)
    room.conns.delete(key)
    this.peers.delete(peer.id)
    if (!peer.connected) this.connecting--
    peer.close()
    this.setListener(room, key, false)
    if (room.peers.size === 0 && !this.replacing) {
      this.media.delete(roomId)
      if (room.full) this.rooms.setAudioFull(roomId, false)
    }
    this.refreshFull()
    if (room.edge && !this.replacing) this.edgeClosed?.(roomId, key)
  }

  closeRoom(roomId: number) {
    const room = this.media.get(roomId)
    if (!room) return
    for (const key of [...room.peers.keys()]) this.closePeer(roomId, key)
  }

  /** Closes every peer, then the planes (their sockets, and the workers). */
  async closeAll() {
    for (const id of [...this.media.keys()]) this.closeRoom(id)
    const planes = this.planes
    this.planes = []
    await Promise.all(planes.map((p) => p.stop().catch(() => {})))
  }
}
