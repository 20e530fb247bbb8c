// The SFU: glue between the WebSocket, the rooms domain and the two planes of live audio. `rtc.*`
// requests drive each participant's peer (signalling.ts: SDP, ICE restart, timers; its transport on the one media
// socket: rtc-server.ts, peer-transport.ts); the rooms' events drive
// who is heard (router.ts: one Router per room, the per-packet path of uplinks, K slots and SRTP); levels are an
// observer of the router (levels.ts), published to the room here. The budget (M52): a listener's `rtc.connect` is
// refused with `room_full` when the room or the server is at MEDIA_ROOM_MAX_LISTENERS / MEDIA_MAX_LISTENERS, or the
// forwarded packets per second are at MEDIA_MAX_PPS; those already in keep hearing, and the stage is never refused.
// A burst of joins (M57–M60): DTLS handshakes wait their turn at the media socket's gate (MEDIA_HANDSHAKES in flight),
// and past MEDIA_MAX_CONNECTING peers connecting at once a new listener gets `media_busy` with a time to retry after.
import { rtcPorts } from '../config'
import type {
  MediaApi,
  ParticipantInfo,
  ParticipantKey,
  RoomAudioQuality,
  RoomRole,
  RoomsApi,
  TapPacket,
} from '../contracts'
import { connKey } from '../contracts'
import type { Core } from '../core'
import { ERRORS, fail } from '../errors'
import type { MediaRequests, RtcOffer } from '../protocol'
import { roomTopic, type ConnId, type ConnInfo } from '../realtime/bus'
import type { Handlers } from '../realtime/hub'
import { hostAddresses, iceServersFor } from './ice'
import { LevelsObserver } from './levels'
import { MediaCounters, Router, type RouterObserver, type TapListener } from './router'
import { RtcServer } from './rtc-server'
import { SignallingPeer } from './signalling'

/** A room's audio: its router (forwarding), each participant's peer (signalling), who of them are listeners. */
interface RoomMedia {
  readonly router: Router
  readonly peers: Map<ParticipantKey, SignallingPeer>
  /** Peers taken as listeners (audience and guests), counted against the budget. */
  readonly listeners: Set<ParticipantKey>
  /** What the rooms were last told: whether the room takes more listeners. */
  full: boolean
  /** The socket each peer was connected from: where its `rtc.slots` go (R70). */
  readonly conns: Map<ParticipantKey, ConnId>
}

const STAGE: ReadonlySet<RoomRole> = new Set(['host', 'moderator', 'speaker'])
/** How often (router ticks of 100 ms) a room checks whether the server's packet rate made it full or not. */
const BUDGET_EVERY_TICKS = 10

export class MediaService implements MediaApi {
  private readonly media = new Map<number, RoomMedia>()
  /** The media plane's one socket (opened by start()). */
  private rtc: RtcServer | null = null
  private readonly closing = new Set<Promise<unknown>>()
  private readonly hosts: string[]
  private readonly counters = new MediaCounters()
  /** Benchmarks only: send through werift's RTCRtpSender (the stock path) instead of our own, for comparison. */
  private stock = false
  /** Uplink taps by room (M54); a room's set lives while it has a tap or a router. */
  private readonly taps = new Map<number, Set<TapListener>>()
  /** Listeners taken in all rooms. */
  private listenerCount = 0

  /** Its WebSocket handlers (`rtc.*`), mounted by app.ts. */
  readonly ws: Handlers<keyof typeof MediaRequests>

  /** Built after the rooms, whose events it follows. It opens no socket until a participant connects. */
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
    rooms.on('role', (e) => this.update(e.roomId, e.key, { role: e.role }))
    rooms.on('muted', (e) => this.update(e.roomId, e.key, { muted: e.muted }))
    rooms.on('left', (e) => this.closePeer(e.roomId, e.key))
    rooms.on('ended', (e) => this.closeRoom(e.roomId))
  }

  /** Opens the media socket: UDP on RTC_PORT (default: the HTTP port's number) and ICE-TCP, bound to HOST. */
  async start() {
    const c = this.core.config
    const ports = rtcPorts(c)
    this.rtc = await RtcServer.open({
      host: c.host,
      port: ports.udp,
      tcpPort: ports.tcp,
      log: this.core.log,
      handshakes: c.mediaHandshakes,
    })
  }

  /** The media socket's ports and counters (tests, /metrics). */
  rtcStats() {
    const rtc = this.rtc
    return rtc ? { udpPort: rtc.port, tcpPort: rtc.tcpPort, ...rtc.stats() } : null
  }

  stats() {
    let peers = 0
    for (const r of this.media.values()) peers += r.peers.size
    return {
      peers,
      forwardedPackets: this.counters.forwardedPackets,
      forwardedBytes: this.counters.forwardedBytes,
      packetsPerSecond: this.counters.packetsPerSecond,
      listeners: this.listenerCount,
    }
  }

  tap(roomId: number, listener: (packet: TapPacket) => void): () => void {
    let set = this.taps.get(roomId)
    if (!set) this.taps.set(roomId, (set = new Set()))
    const fn: TapListener = (p) => listener(p)
    set.add(fn)
    return () => {
      set.delete(fn)
      if (set.size === 0 && !this.media.has(roomId) && this.taps.get(roomId) === set) this.taps.delete(roomId)
    }
  }

  quality(): RoomAudioQuality[] {
    return [...this.media.entries()].map(([roomId, r]) => ({ roomId, ...r.router.feedback() }))
  }

  /** For tests: what is still held. */
  debug() {
    let timers = 0
    for (const r of this.media.values()) {
      timers++ // the router's tick
      for (const p of r.peers.values()) if (p.hasTimer) timers++
    }
    return {
      rooms: this.media.size,
      ...this.stats(),
      timers,
      transports: this.rtc?.stats().peers ?? 0,
      connecting: this.rtc?.connecting ?? 0,
      connects: this.rtc?.stats().connects ?? 0,
      connectsPerSecond: Math.round(this.rtc?.connectsPerSecond() ?? 0),
      handshakes: this.rtc?.gate.stats() ?? null,
      closing: this.closing.size,
      dropped: this.counters.droppedPackets,
    }
  }

  /** For tests: the DTLS handshake gate of the media socket (M57), to hold and observe it. */
  handshakeGate() {
    return this.rtc?.gate ?? null
  }

  /** For tests: the transport counters of a room's peers (first ClientHellos, packets in, path). */
  transportsDebug(roomId: number) {
    return [...(this.media.get(roomId)?.peers.values() ?? [])].map((p) => p.stats)
  }

  /** Benchmarks only: rooms opened from now on forward with werift's own RTP header and SRTP, for comparison. */
  useStockSender(on: boolean) {
    this.stock = on
  }

  // ── signalling ──────────────────────────────────────────────────────────────────────────────────────────────

  private participant(conn: ConnInfo, roomId: number): ParticipantInfo {
    const rooms = this.rooms
    const room = rooms.room(roomId)
    if (room?.state !== 'live') fail('media_room_not_live')
    const p = rooms.participant(roomId, connKey(conn))
    if (!p) fail('media_not_joined')
    return p
  }

  private async connect(conn: ConnInfo, roomId: number): Promise<RtcOffer> {
    const info = this.participant(conn, roomId)
    if (!STAGE.has(info.role) && !this.media.get(roomId)?.peers.has(info.key)) {
      if (this.fullFor(roomId)) fail('room_full')
      this.refuseWhenBusy()
    }
    this.closePeer(roomId, info.key)
    const peer = this.createPeer(roomId, info)
    this.room(roomId).conns.set(info.key, conn.id)
    return this.offerReply(conn, await peer.offer())
  }

  private peerOf(conn: ConnInfo, roomId: number): SignallingPeer {
    const peer = this.media.get(roomId)?.peers.get(connKey(conn))
    if (!peer || peer.isClosed) fail('media_no_peer')
    return peer
  }

  private async answer(conn: ConnInfo, roomId: number, sdp: string) {
    await this.peerOf(conn, roomId).answer(sdp)
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

  /** Whether the room takes no more listeners now: the room's cap, the server's cap, or the packet rate. */
  private fullFor(roomId: number): boolean {
    const c = this.core.config
    this.counters.sample(performance.now()) // no router ticked for a while: the rate is not left stale
    const inRoom = this.media.get(roomId)?.listeners.size ?? 0
    if (c.mediaRoomMaxListeners > 0 && inRoom >= c.mediaRoomMaxListeners) return true
    if (c.mediaMaxListeners > 0 && this.listenerCount >= c.mediaMaxListeners) return true
    return c.mediaMaxPps > 0 && this.counters.packetsPerSecond >= c.mediaMaxPps
  }

  /**
   * M59: more peers connecting at once than MEDIA_MAX_CONNECTING cannot all finish before their clients give up; a
   * new listener is told to come back (the time it takes the server to connect those waiting, 1–30 s) instead.
   */
  private refuseWhenBusy() {
    const max = this.core.config.mediaMaxConnecting
    const rtc = this.rtc
    if (!rtc || max <= 0 || rtc.connecting < max) return
    const rate = rtc.connectsPerSecond()
    const seconds = Math.min(30, Math.max(1, Math.ceil(rtc.connecting / Math.max(rate, 50))))
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

  /** A participant's peer, on the shared media socket, joined to the room's router (opened if needed). */
  private createPeer(roomId: number, info: ParticipantInfo): SignallingPeer {
    if (!this.rtc) fail('media_unavailable')
    const peer = new SignallingPeer(info.key, {
      rtc: this.rtc,
      hosts: this.hosts,
      iceTcp: this.core.config.iceTcp,
      log: this.core.log,
      stage: STAGE.has(info.role),
      join: (ssrcs) => this.room(roomId).router.add(info.key, ssrcs, { role: info.role, muted: info.muted }),
      expired: (p) => this.closePeer(roomId, info.key, p),
    })
    const room = this.room(roomId)
    room.peers.set(info.key, peer)
    this.setListener(room, info.key, !STAGE.has(info.role))
    this.refreshFull()
    return peer
  }

  private room(roomId: number): RoomMedia {
    let room = this.media.get(roomId)
    if (!room) {
      const levels = new LevelsObserver((levels) => {
        this.core.bus.publish(roomTopic(roomId), { type: 'room.levels', roomId, levels })
      })
      let ticks = 0
      const budget: RouterObserver = {
        tick: () => {
          if (++ticks % BUDGET_EVERY_TICKS === 0) this.refreshFull()
        },
        close: () => {},
      }
      let taps = this.taps.get(roomId)
      if (!taps) this.taps.set(roomId, (taps = new Set()))
      const conns = new Map<ParticipantKey, ConnId>()
      // Who is in each of a listener's slots (R70), to that listener's socket only, coalesced by the router.
      const slots = (key: ParticipantKey, slots: readonly (ParticipantKey | null)[]) => {
        const c = conns.get(key)
        if (c !== undefined) this.core.bus.toConn(c, { type: 'rtc.slots', roomId, slots: [...slots] })
      }
      const router = new Router(roomId, this.counters, [levels, budget], this.stock, taps, slots)
      room = { router, peers: new Map(), listeners: new Set(), full: false, conns }
      this.media.set(roomId, room)
    }
    return room
  }

  private update(roomId: number, key: ParticipantKey, change: { role?: RoomRole; muted?: boolean }) {
    const room = this.media.get(roomId)
    if (!room?.peers.has(key)) return
    // The rooms' own state is the truth (a role change may also mute, e.g. back to the audience).
    const info = this.rooms.participant(roomId, key)
    room.router.update(key, info ? { role: info.role, muted: info.muted } : change)
    // Going on stage frees a listener's place; back in the audience, they keep hearing (counted again, never cut).
    const role = info?.role ?? change.role
    if (role) {
      this.setListener(room, key, !STAGE.has(role))
      this.refreshFull()
    }
  }

  /** Closes a participant's peer (left, removed, replaced) and frees its transport and timers. */
  closePeer(roomId: number, key: ParticipantKey, only?: SignallingPeer) {
    const room = this.media.get(roomId)
    const peer = room?.peers.get(key)
    if (!room || !peer || (only && peer !== only)) return
    room.peers.delete(key)
    room.conns.delete(key)
    const done = peer
      .close()
      .catch(() => {})
      .finally(() => {
        this.closing.delete(done)
      })
    this.closing.add(done)
    room.router.remove(key)
    this.setListener(room, key, false)
    if (room.peers.size === 0) {
      this.media.delete(roomId)
      room.router.close()
      if (this.taps.get(roomId)?.size === 0) this.taps.delete(roomId)
      if (room.full) this.rooms.setAudioFull(roomId, false)
    }
    this.refreshFull()
  }

  closeRoom(roomId: number) {
    const room = this.media.get(roomId)
    if (!room) return
    for (const key of [...room.peers.keys()]) this.closePeer(roomId, key)
  }

  /** Closes every peer and waits until their sockets are closed. */
  async closeAll() {
    for (const id of [...this.media.keys()]) this.closeRoom(id)
    await Promise.all([...this.closing])
    this.rtc?.close()
    this.rtc = null
  }
}
