// The SFU (ctx.media): glue between the WebSocket, the rooms domain and the two planes of live audio. `rtc.*`
// requests drive each participant's werift peer (signalling.ts: SDP, ICE restart, timers); the rooms' events drive
// who is heard (router.ts: one Router per room, the per-packet path of uplinks, K slots and SRTP); levels are an
// observer of the router (levels.ts), published to the room here.
import type { RoomsCtx as Ctx } from '../context'
import type { MediaApi, ParticipantInfo, ParticipantKey, RoomRole } from '../contracts'
import { connKey } from '../contracts'
import { fail } from '../errors'
import type { MediaRequests, RtcOffer } from '../protocol'
import type { Conn, Handlers } from '../realtime/hub'
import { PortCursor, hostAddresses, iceServersFor } from './ice'
import { LevelsObserver } from './levels'
import { MediaCounters, Router } from './router'
import { SignallingPeer } from './signalling'

/** A room's audio: its router (forwarding) and each participant's peer (signalling). */
interface RoomMedia {
  readonly router: Router
  readonly peers: Map<ParticipantKey, SignallingPeer>
}

export class MediaService implements MediaApi {
  private readonly rooms = new Map<number, RoomMedia>()
  private readonly ports: PortCursor
  private readonly closing = new Set<Promise<unknown>>()
  private readonly hosts: string[]
  private readonly counters = new MediaCounters()
  /** Benchmarks only: send through werift's RTCRtpSender (the stock path) instead of our own, for comparison. */
  private stock = false

  /** Built in createContext after the rooms domain, whose events it follows. */
  constructor(private ctx: Ctx) {
    this.ports = new PortCursor(ctx.config.rtcPortMin, ctx.config.rtcPortMax)
    this.hosts = hostAddresses(ctx.config)
    this.registerHandlers()
    const rooms = ctx.rooms
    if (rooms) {
      rooms.on('role', (e) => this.update(e.roomId, e.key, { role: e.role }))
      rooms.on('muted', (e) => this.update(e.roomId, e.key, { muted: e.muted }))
      rooms.on('left', (e) => this.closePeer(e.roomId, e.key))
      rooms.on('ended', (e) => this.closeRoom(e.roomId))
    }
    ctx.cleanup.push(() => this.closeAll())
  }

  stats() {
    let peers = 0
    for (const r of this.rooms.values()) peers += r.peers.size
    return { peers, forwardedPackets: this.counters.forwardedPackets, forwardedBytes: this.counters.forwardedBytes }
  }

  /** For tests: what is still held. */
  debug() {
    let timers = 0
    for (const r of this.rooms.values()) {
      timers++ // the router's tick
      for (const p of r.peers.values()) if (p.hasTimer) timers++
    }
    return {
      rooms: this.rooms.size,
      ...this.stats(),
      timers,
      ports: this.ports.inUse,
      closing: this.closing.size,
      dropped: this.counters.droppedPackets,
    }
  }

  /** Benchmarks only: rooms opened from now on forward through werift's own RTCRtpSender, for comparison. */
  useStockSender(on: boolean) {
    this.stock = on
  }

  // ── signalling ──────────────────────────────────────────────────────────────────────────────────────────────

  private registerHandlers() {
    const handlers: Handlers<keyof typeof MediaRequests> = {
      'rtc.connect': (conn, msg) => this.connect(conn, msg.roomId),
      'rtc.answer': (conn, msg) => this.answer(conn, msg.roomId, msg.sdp),
      'rtc.restart': (conn, msg) => this.restart(conn, msg.roomId),
      'rtc.leave': (conn, msg) => {
        this.closePeer(msg.roomId, connKey(conn))
        return {}
      },
    }
    this.ctx.hub.handleAll(handlers)
  }

  private participant(conn: Conn, roomId: number): ParticipantInfo {
    const rooms = this.ctx.rooms
    if (!rooms) fail('media_no_rooms')
    const room = rooms.room(roomId)
    if (room?.state !== 'live') fail('media_room_not_live')
    const p = rooms.participant(roomId, connKey(conn))
    if (!p) fail('media_not_joined')
    return p
  }

  private async connect(conn: Conn, roomId: number): Promise<RtcOffer> {
    const info = this.participant(conn, roomId)
    this.closePeer(roomId, info.key)
    const peer = this.createPeer(roomId, info)
    return this.offerReply(conn, await peer.offer())
  }

  private peerOf(conn: Conn, roomId: number): SignallingPeer {
    const peer = this.rooms.get(roomId)?.peers.get(connKey(conn))
    if (!peer || peer.isClosed) fail('media_no_peer')
    return peer
  }

  private async answer(conn: Conn, roomId: number, sdp: string) {
    await this.peerOf(conn, roomId).answer(sdp)
    return {}
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (no new tracks, same slots). */
  private async restart(conn: Conn, roomId: number) {
    const peer = this.peerOf(conn, roomId)
    return this.offerReply(conn, await peer.restart())
  }

  /** The offer to answer, with the ICE servers (and TURN credentials) for this member or guest. */
  private offerReply(conn: Conn, sdp: string): RtcOffer {
    return { sdp, iceServers: this.iceServers(conn.user ? String(conn.user.id) : `guest-${conn.id}`) }
  }

  /** TURN URLs are an admin setting (TURN_URLS is its default); the secret stays in the config. */
  private iceServers(id: string) {
    return iceServersFor(
      {
        turnUrls: this.ctx.settings.get().turnUrls ?? this.ctx.config.turnUrls,
        turnSecret: this.ctx.config.turnSecret,
      },
      id,
    )
  }

  // ── peers and rooms ─────────────────────────────────────────────────────────────────────────────────────────

  /** A participant's peer, in its own window of the port range, joined to the room's router (opened if needed). */
  private createPeer(roomId: number, info: ParticipantInfo): SignallingPeer {
    const window = this.ports.take()
    if (!window) fail('media_unavailable')
    const peer = new SignallingPeer(info.key, window.port, {
      hosts: this.hosts,
      portRange: window.range,
      iceTcp: this.ctx.config.iceTcp,
      log: this.ctx.log,
      join: (ssrcs) => this.room(roomId).router.add(info.key, ssrcs, { role: info.role, muted: info.muted }),
      expired: (p) => this.closePeer(roomId, info.key, p),
    })
    this.room(roomId).peers.set(info.key, peer)
    return peer
  }

  private room(roomId: number): RoomMedia {
    let room = this.rooms.get(roomId)
    if (!room) {
      const levels = new LevelsObserver((levels) => {
        this.ctx.hub.publish(`room:${roomId}`, { type: 'room.levels', roomId, levels })
      })
      room = { router: new Router(roomId, this.counters, [levels], this.stock), peers: new Map() }
      this.rooms.set(roomId, room)
    }
    return room
  }

  private update(roomId: number, key: ParticipantKey, change: { role?: RoomRole; muted?: boolean }) {
    const room = this.rooms.get(roomId)
    if (!room?.peers.has(key)) return
    // The rooms' own state is the truth (a role change may also mute, e.g. back to the audience).
    const info = this.ctx.rooms?.participant(roomId, key)
    room.router.update(key, info ? { role: info.role, muted: info.muted } : change)
  }

  /** Closes a participant's peer (left, removed, replaced) and frees its socket, port and timers. */
  closePeer(roomId: number, key: ParticipantKey, only?: SignallingPeer) {
    const room = this.rooms.get(roomId)
    const peer = room?.peers.get(key)
    if (!room || !peer || (only && peer !== only)) return
    room.peers.delete(key)
    const done = peer
      .close()
      .catch(() => {})
      .finally(() => {
        this.ports.release(peer.port)
        this.closing.delete(done)
      })
    this.closing.add(done)
    room.router.remove(key)
    if (room.peers.size === 0) {
      this.rooms.delete(roomId)
      room.router.close()
    }
  }

  closeRoom(roomId: number) {
    const room = this.rooms.get(roomId)
    if (!room) return
    for (const key of [...room.peers.keys()]) this.closePeer(roomId, key)
  }

  /** Closes every peer and waits until their sockets are closed. */
  async closeAll() {
    for (const id of [...this.rooms.keys()]) this.closeRoom(id)
    await Promise.all([...this.closing])
  }
}
