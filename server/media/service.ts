// The SFU (ctx.media): one werift RTCPeerConnection per participant, offered by the server over /ws. werift does
// ICE, DTLS and SDP; the forwarding path (one uplink packet in, up to one packet per listener out) is our own:
// it rewrites into a per-(listener, slot) header object that is reused, encrypts with the listener's SRTP session
// and writes to the selected ICE pair, bypassing werift's RTCRtpSender (which clones and re-parses every packet).
import {
  RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTP_EXTENSION_URI, RtpHeader, RtpPacket,
} from 'werift'
import type { RoomsCtx as Ctx } from '../context'
import type { MediaApi, ParticipantInfo, ParticipantKey, RoomRole } from '../contracts'
import { connKey } from '../contracts'
import { fail } from '../errors'
import type { MediaRequests, RtcOffer } from '../protocol'
import type { Conn, Handlers } from '../realtime/hub'
import { K_SLOTS, SlotRewriter, audioLevelOfExtensions, levelFromDbov } from './forwarder'
import { PortCursor, hostAddresses, iceServersFor, withoutDefaultStun } from './ice'
import { SrtpWriter, writeRtpHeader } from './srtp'
import { Peer, RoomMedia, addListener, rank, removeListener, type Slot, type UdpSend } from './room'

export const OPUS_PT = 111
/** Opus with in-band FEC and DTX (the browser's encoder honours the answerer's fmtp for what it sends us). */
export const OPUS_FMTP = 'minptime=10;useinbandfec=1;usedtx=1'
/** Room tick: levels are smoothed and the K loudest chosen every TICK_MS; levels go out every LEVELS_EVERY ticks. */
export const TICK_MS = 100
export const LEVELS_EVERY = 3
/** A speaker who sent nothing for this long (not even DTX comfort noise) leaves the ranking. */
export const SPEAKER_IDLE_MS = 1500
/** A peer that never connects, or stays failed/disconnected this long, is closed. */
export const CONNECT_TIMEOUT_MS = 30_000
export const FAILED_TIMEOUT_MS = 60_000
/** An uplink forwards at most this many packets a second (Opus sends 50, at most 100 with 10 ms frames). */
export const UPLINK_MAX_PPS = 150

const SPEAKING_ROLES: ReadonlySet<RoomRole> = new Set(['host', 'moderator', 'speaker'])

/** What is wrong with an answer to our offer (werift applies almost anything), or null. */
export function answerProblem(sdp: string): string | null {
  if (!sdp.startsWith('v=0')) return 'not a session description'
  const sections = sdp.split(/\r?\nm=/).length - 1
  if (sections !== 1 + K_SLOTS) return `expected ${1 + K_SLOTS} media sections, got ${sections}`
  if (!/^m=audio/m.test(sdp) || /^m=(?!audio)/m.test(sdp)) return 'audio sections only'
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=ice-pwd:/m.test(sdp)) return 'ICE credentials missing'
  if (!/^a=fingerprint:/m.test(sdp)) return 'DTLS fingerprint missing'
  return null
}

/**
 * The fastest way to write to a node:dgram socket of werift's: Bun's native UDP handle under it when present
 * (synchronous, no per-packet address lookup), else the dgram socket itself.
 */
function udpSender(sock: any): UdpSend {
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol')
  const native = sym ? sock[sym]?.handle?.socket : null
  return native && typeof native.send === 'function' ? native : sock
}

export class MediaService implements MediaApi {
  private rooms = new Map<number, RoomMedia>()
  private ports: PortCursor
  private closing = new Set<Promise<unknown>>()
  private hosts: string[]
  forwardedPackets = 0
  forwardedBytes = 0
  droppedPackets = 0
  /** Benchmarks only: send through werift's RTCRtpSender (the stock path) instead of our own, for comparison. */
  stockSend = false

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
    return { peers, forwardedPackets: this.forwardedPackets, forwardedBytes: this.forwardedBytes }
  }

  /** For tests: what is still held. */
  debug() {
    let timers = 0
    for (const r of this.rooms.values()) {
      if (r.ticker) timers++
      for (const p of r.peers.values()) if (p.timer) timers++
    }
    return { rooms: this.rooms.size, ...this.stats(), timers, ports: this.ports.inUse, closing: this.closing.size, dropped: this.droppedPackets }
  }

  // ── signalling ──────────────────────────────────────────────────────────────────────────────────────────────

  private registerHandlers() {
    const handlers: Handlers<keyof typeof MediaRequests> = {
      'rtc.connect': (conn, msg) => this.connect(conn, msg.roomId),
      'rtc.answer': (conn, msg) => this.answer(conn, msg.roomId, msg.sdp),
      'rtc.restart': (conn, msg) => this.restart(conn, msg.roomId),
      'rtc.leave': (conn, msg) => { this.closePeer(msg.roomId, connKey(conn)); return {} },
    }
    this.ctx.hub.handleAll(handlers)
  }

  private participant(conn: Conn, roomId: number): ParticipantInfo {
    const rooms = this.ctx.rooms
    if (!rooms) fail('media_no_rooms')
    const room = rooms.room(roomId)
    if (!room || room.state !== 'live') fail('media_room_not_live')
    const p = rooms.participant(roomId, connKey(conn))
    if (!p) fail('media_not_joined')
    return p
  }

  private async connect(conn: Conn, roomId: number): Promise<RtcOffer> {
    const info = this.participant(conn, roomId)
    this.closePeer(roomId, info.key)
    const peer = this.createPeer(roomId, info)
    await this.offer(peer, false)
    return this.offerReply(conn, peer)
  }

  private peerOf(conn: Conn, roomId: number): Peer {
    const peer = this.rooms.get(roomId)?.peers.get(connKey(conn))
    if (!peer || peer.closed) fail('media_no_peer')
    return peer
  }

  private async answer(conn: Conn, roomId: number, sdp: string) {
    const peer = this.peerOf(conn, roomId)
    if (peer.pc.signalingState !== 'have-local-offer') fail('media_no_offer')
    const problem = answerProblem(sdp)
    if (problem) fail('validation', `sdp: ${problem}`)
    try {
      await peer.pc.setRemoteDescription({ type: 'answer', sdp })
    } catch (e) {
      fail('validation', `sdp: the answer could not be applied (${String((e as Error)?.message ?? e).slice(0, 120)})`)
    }
    if (peer.restarting) {
      peer.restarting = false
      // werift skips the ICE checks when DTLS is already up, so after an ICE restart the offerer has to start them.
      for (const d of peer.pc.dtlsTransports) {
        const ice = d.iceTransport
        if (ice.state !== 'closed' && !ice.connection.nominated) ice.start().catch(() => {})
      }
    }
    for (const [id, uri] of Object.entries(peer.pc.extIdUriMap)) {
      if (uri === RTP_EXTENSION_URI.audioLevelIndication) peer.levelExtId = Number(id)
    }
    return {}
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (no new tracks, same slots). */
  private async restart(conn: Conn, roomId: number) {
    const peer = this.peerOf(conn, roomId)
    await this.offer(peer, true)
    peer.restarting = true
    return this.offerReply(conn, peer)
  }

  /** The offer to answer, with the ICE servers (and TURN credentials) for this member or guest. */
  private offerReply(conn: Conn, peer: Peer): RtcOffer {
    return { sdp: peer.pc.localDescription!.sdp, iceServers: this.iceServers(conn.user ? String(conn.user.id) : `guest-${conn.id}`) }
  }

  /** Creates and applies an offer (with ICE restart: after dropping an unanswered one); a peer closed meanwhile is a conflict. */
  private async offer(peer: Peer, iceRestart: boolean) {
    try {
      if (iceRestart && peer.pc.signalingState === 'have-local-offer') await peer.pc.setLocalDescription({ type: 'rollback' })
      await peer.pc.setLocalDescription(await peer.pc.createOffer({ iceRestart }))
    } catch (e) {
      if (!peer.closed) throw e
    }
    if (peer.closed) fail('media_peer_closed')
    this.guardSockets(peer)
  }

  /**
   * werift's UDP sockets have no 'error' listener, and an unheard dgram error (e.g. recvmsg ECONNREFUSED after an
   * ICMP port-unreachable from a peer that went away) is thrown as an uncaught exception: log it instead.
   */
  private guardSockets(peer: Peer) {
    for (const t of peer.pc.iceTransports) {
      for (const protocol of (t.connection as any).protocols ?? []) {
        const sock = protocol.transport?.socket
        if (!sock || typeof sock.on !== 'function' || sock.__townhallGuard) continue
        sock.__townhallGuard = true
        sock.on('error', (error: Error) => this.ctx.log.debug('media: socket error', { key: peer.key, error: error.message }))
      }
    }
  }

  /** TURN URLs are an admin setting (TURN_URLS is its default); the secret stays in the config. */
  private iceServers(id: string) {
    return iceServersFor({ turnUrls: this.ctx.settings.get().turnUrls ?? this.ctx.config.turnUrls, turnSecret: this.ctx.config.turnSecret }, id)
  }

  // ── peers ───────────────────────────────────────────────────────────────────────────────────────────────────

  private createPeer(roomId: number, info: ParticipantInfo): Peer {
    const window = this.ports.take()
    if (!window) fail('media_unavailable')
    const pc = new RTCPeerConnection({
      codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: OPUS_PT, parameters: OPUS_FMTP })] },
      headerExtensions: { audio: [new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.sdesMid }), new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.audioLevelIndication })] },
      iceUseIpv4: false, iceUseIpv6: false, iceAdditionalHostAddresses: this.hosts,
      icePortRange: window.range,
      iceUseTcp: this.ctx.config.iceTcp,
      bundlePolicy: 'max-bundle',
      iceServers: [],
    })
    const uplink = pc.addTransceiver('audio', { direction: 'recvonly' })
    const slots: Slot[] = []
    for (let i = 0; i < K_SLOTS; i++) {
      const tr = pc.addTransceiver('audio', { direction: 'sendonly' })
      const ssrc = tr.sender.ssrc
      slots.push({ transceiver: tr, rw: new SlotRewriter(ssrc), ssrc, pt: OPUS_PT, header: Buffer.alloc(12), roc: 0, top: -1 })
    }
    withoutDefaultStun(pc as any)
    let room = this.rooms.get(roomId)
    if (!room) {
      room = new RoomMedia(roomId)
      this.rooms.set(roomId, room)
      const r = room
      room.ticker = setInterval(() => this.tick(r), TICK_MS)
    }
    const peer = new Peer(room, info.key, info.userId, pc, uplink, slots, window.port)
    peer.role = info.role
    peer.muted = info.muted
    peer.canSpeak = SPEAKING_ROLES.has(info.role) && !info.muted
    room.peers.set(info.key, peer)
    peer.timer = setTimeout(() => this.closePeer(roomId, info.key, peer), CONNECT_TIMEOUT_MS)

    uplink.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => this.onUplink(peer, rtp))
    })
    pc.connectionStateChange.subscribe((state) => {
      if (peer.closed) return
      if (state === 'connected') {
        peer.dtls = slots[0]!.transceiver.sender.dtlsTransport
        peer.ice = peer.dtls.iceTransport.connection
        for (const s of slots) s.pt = s.transceiver.sender.codec?.payloadType ?? OPUS_PT
        peer.ready = true
        if (peer.timer) clearTimeout(peer.timer)
        peer.timer = null
      } else {
        if (state === 'failed' || state === 'closed') peer.ready = false
        if ((state === 'failed' || state === 'disconnected') && !peer.timer) {
          peer.timer = setTimeout(() => this.closePeer(roomId, info.key, peer), FAILED_TIMEOUT_MS)
        }
      }
    })
    addListener(room, peer)
    return peer
  }

  private update(roomId: number, key: ParticipantKey, change: { role?: RoomRole; muted?: boolean }) {
    const peer = this.rooms.get(roomId)?.peers.get(key)
    if (!peer) return
    if (change.role !== undefined) peer.role = change.role
    if (change.muted !== undefined) peer.muted = change.muted
    // The rooms' own state is the truth (a role change may also mute, e.g. back to the audience).
    const info = this.ctx.rooms?.participant(roomId, key)
    if (info) { peer.role = info.role; peer.muted = info.muted }
    const can = SPEAKING_ROLES.has(peer.role) && !peer.muted
    if (can === peer.canSpeak) return
    peer.canSpeak = can
    if (!can) {
      peer.active = false
      peer.level = 0
      peer.acc = 0
      rank(peer.room)
    }
  }

  /** Closes a participant's peer (left, removed, replaced) and frees its socket, port and timers. */
  closePeer(roomId: number, key: ParticipantKey, only?: Peer) {
    const room = this.rooms.get(roomId)
    const peer = room?.peers.get(key)
    if (!room || !peer || (only && peer !== only)) return
    peer.closed = true
    peer.ready = false
    if (peer.timer) clearTimeout(peer.timer)
    peer.timer = null
    room.peers.delete(key)
    const done = peer.pc.close().catch(() => {}).finally(() => { this.ports.release(peer.port); this.closing.delete(done) })
    this.closing.add(done)
    if (room.peers.size === 0) {
      if (room.ticker) clearInterval(room.ticker)
      room.ticker = null
      this.rooms.delete(roomId)
      if (room.levelsShown) this.ctx.hub.publish(`room:${roomId}`, { type: 'room.levels', roomId, levels: {} })
    } else {
      removeListener(room, peer)
      if (room.ranking.includes(key)) rank(room)
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

  // ── the hot path ────────────────────────────────────────────────────────────────────────────────────────────

  private onUplink(peer: Peer, rtp: RtpPacket) {
    if (!peer.canSpeak || peer.closed) { this.droppedPackets++; return }
    const h = rtp.header
    const dbov = peer.levelExtId ? audioLevelOfExtensions(h.extensions, peer.levelExtId) : -1
    const v = levelFromDbov(dbov)
    if (v > peer.acc) peer.acc = v
    const now = performance.now()
    if (now - peer.windowStart >= 1000) { peer.windowStart = now; peer.windowCount = 0 }
    if (++peer.windowCount > UPLINK_MAX_PPS) { this.droppedPackets++; return }
    peer.lastPacketAt = now
    if (!peer.active) {
      peer.active = true
      rank(peer.room)
    }
    const targets = peer.targets
    const payload = rtp.payload
    const seqIn = h.sequenceNumber, tsIn = h.timestamp
    for (let i = 0; i < targets.length; i++) {
      const tg = targets[i]!
      const l = tg.peer
      if (!l.ready) continue
      const slot = tg.slot
      const rw = slot.rw
      rw.map(seqIn, tsIn, now)
      if (this.forward(l, slot, rw.seq, rw.ts, rw.marker, payload)) this.forwardedPackets++
    }
  }

  /** Protects one packet for a listener's slot and writes it to the listener's selected ICE pair. */
  private forward(l: Peer, slot: Slot, seq: number, ts: number, marker: boolean, payload: Buffer): boolean {
    if (this.stockSend) {
      const h = new RtpHeader({ payloadType: slot.pt, sequenceNumber: seq, timestamp: ts, marker, ssrc: slot.ssrc })
      slot.transceiver.sender.sendRtp(new RtpPacket(h, payload)).catch(() => {})
      this.forwardedBytes += 12 + payload.length + 16
      return true
    }
    const srtp = l.dtls.srtp
    if (srtp !== l.srtpRef) { l.srtpRef = srtp; l.writer = SrtpWriter.fromWerift(srtp) }
    const writer = l.writer
    if (!writer) return false
    const ice = l.ice
    const pair = ice.nominated
    if (!pair || !ice.canSendApplicationData()) return false
    if (pair !== l.pair) {
      l.pair = pair
      const t = pair.protocol?.transport
      l.sock = t && (t.socketType === 'udp4' || t.socketType === 'udp6') && !t.closed ? udpSender(t.socket) : null
      l.rip = pair.remoteAddr[0]
      l.rport = pair.remoteAddr[1]
    }
    // SRTP index: the rollover counter goes up when the slot's sequence wraps; a late packet from before a wrap
    // is protected with the previous one.
    let roc = slot.roc
    if (slot.top < 0) slot.top = seq
    else {
      const d = (seq - slot.top) & 0xffff
      if (d < 0x8000) { if (seq < slot.top) roc = ++slot.roc; slot.top = seq } else if (seq > slot.top) roc = slot.roc - 1
    }
    writeRtpHeader(slot.header, marker, slot.pt, seq, ts, slot.ssrc)
    const enc = writer.protect(slot.header, payload, slot.ssrc, seq, roc)
    if (l.sock) l.sock.send(enc, l.rport, l.rip)
    else pair.protocol.sendData(enc, pair.remoteAddr).catch(() => {})
    pair.packetsSent++
    pair.bytesSent += enc.length
    this.forwardedBytes += enc.length
    return true
  }

  // ── the room tick: levels and the K loudest ─────────────────────────────────────────────────────────────

  private tick(room: RoomMedia) {
    const now = performance.now()
    for (const p of room.peers.values()) {
      if (!p.active) continue
      if (!p.canSpeak || now - p.lastPacketAt > SPEAKER_IDLE_MS) { p.active = false; p.level = 0; p.acc = 0; continue }
      p.level = Math.round((p.level * 0.5 + p.acc * 0.5) * 1000) / 1000
      p.acc = 0
    }
    rank(room)
    if (++room.ticks % LEVELS_EVERY === 0) this.publishLevels(room)
  }

  private publishLevels(room: RoomMedia) {
    const levels: Record<string, number> = {}
    let any = false
    for (const p of room.peers.values()) {
      if (p.active && p.level > 0.01) { levels[p.key] = Math.round(p.level * 100) / 100; any = true }
    }
    if (!any && !room.levelsShown) return
    room.levelsShown = any
    this.ctx.hub.publish(`room:${room.id}`, { type: 'room.levels', roomId: room.id, levels })
  }
}
