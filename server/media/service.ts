// The SFU: glue between the WebSocket, the rooms domain and the two planes of live audio. `rtc.*`
// requests drive each participant's peer (signalling.ts: SDP, ICE restart, timers; its transport on the one media
// socket: rtc-server.ts, peer-transport.ts); the rooms' events drive
// who is heard (router.ts: one Router per room, the per-packet path of uplinks, K slots and SRTP); levels are an
// observer of the router (levels.ts), published to the room here.
import { rtcPorts } from '../config'
import type { MediaApi, ParticipantInfo, ParticipantKey, RoomRole, RoomsApi } from '../contracts'
import { connKey } from '../contracts'
import type { Core } from '../core'
import { fail } from '../errors'
import type { MediaRequests, RtcOffer } from '../protocol'
import { roomTopic, type ConnInfo } from '../realtime/bus'
import type { Handlers } from '../realtime/hub'
import { hostAddresses, iceServersFor } from './ice'
import { LevelsObserver } from './levels'
import { MediaCounters, Router } from './router'
import { RtcServer } from './rtc-server'
import { SignallingPeer } from './signalling'

/** A room's audio: its router (forwarding) and each participant's peer (signalling). */
interface RoomMedia {
  readonly router: Router
  readonly peers: Map<ParticipantKey, SignallingPeer>
}

export class MediaService implements MediaApi {
  private readonly media = new Map<number, RoomMedia>()
  /** The media plane's one socket (opened by start()). */
  private rtc: RtcServer | null = null
  private readonly closing = new Set<Promise<unknown>>()
  private readonly hosts: string[]
  private readonly counters = new MediaCounters()
  /** Benchmarks only: send through werift's RTCRtpSender (the stock path) instead of our own, for comparison. */
  private stock = false

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
    this.rtc = await RtcServer.open({ host: c.host, port: ports.udp, tcpPort: ports.tcp, log: this.core.log })
  }

  /** The media socket's ports and counters (tests, /metrics). */
  rtcStats() {
    const rtc = this.rtc
    return rtc ? { udpPort: rtc.port, tcpPort: rtc.tcpPort, ...rtc.stats() } : null
  }

  stats() {
    let peers = 0
    for (const r of this.media.values()) peers += r.peers.size
    return { peers, forwardedPackets: this.counters.forwardedPackets, forwardedBytes: this.counters.forwardedBytes }
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
      closing: this.closing.size,
      dropped: this.counters.droppedPackets,
    }
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
    this.closePeer(roomId, info.key)
    const peer = this.createPeer(roomId, info)
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

  // ── peers and rooms ─────────────────────────────────────────────────────────────────────────────────────────

  /** A participant's peer, on the shared media socket, joined to the room's router (opened if needed). */
  private createPeer(roomId: number, info: ParticipantInfo): SignallingPeer {
    if (!this.rtc) fail('media_unavailable')
    const peer = new SignallingPeer(info.key, {
      rtc: this.rtc,
      hosts: this.hosts,
      iceTcp: this.core.config.iceTcp,
      log: this.core.log,
      join: (ssrcs) => this.room(roomId).router.add(info.key, ssrcs, { role: info.role, muted: info.muted }),
      expired: (p) => this.closePeer(roomId, info.key, p),
    })
    this.room(roomId).peers.set(info.key, peer)
    return peer
  }

  private room(roomId: number): RoomMedia {
    let room = this.media.get(roomId)
    if (!room) {
      const levels = new LevelsObserver((levels) => {
        this.core.bus.publish(roomTopic(roomId), { type: 'room.levels', roomId, levels })
      })
      room = { router: new Router(roomId, this.counters, [levels], this.stock), peers: new Map() }
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
  }

  /** Closes a participant's peer (left, removed, replaced) and frees its transport and timers. */
  closePeer(roomId: number, key: ParticipantKey, only?: SignallingPeer) {
    const room = this.media.get(roomId)
    const peer = room?.peers.get(key)
    if (!room || !peer || (only && peer !== only)) return
    room.peers.delete(key)
    const done = peer
      .close()
      .catch(() => {})
      .finally(() => {
        this.closing.delete(done)
      })
    this.closing.add(done)
    room.router.remove(key)
    if (room.peers.size === 0) {
      this.media.delete(roomId)
      room.router.close()
    }
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
