// The media plane's one UDP socket (RTC_PORT, bound to HOST), shared by every peer, and the ICE-lite agent
// in front of it (RFC 8445 §2.5: the server has a public address and never checks; the clients do full ICE and
// consent). A datagram is sorted by its first byte (RFC 7983: 0..3 STUN, 20..63 DTLS, 128..191 RTP/RTCP) and by
// where it came from. An address becomes a peer's by a valid Binding request (USERNAME "<our ufrag>:…" names the
// peer, MESSAGE-INTEGRITY with its password, FINGERPRINT); anything else from an unknown address is dropped, and
// a wrong password gets 401 and changes nothing. A peer whose checks stop for PEER_EXPIRY_MS is expired.
import type { Socket as TcpSocket, TCPSocketListener } from 'bun'
import { createSocket, type Socket as DgramSocket } from 'node:dgram'
import { RTCDtlsTransport, type RTCCertificate } from 'werift'
import type { Logger } from '../lib/log'
import { RELAY_MARK } from './relay-wire'
import { HandshakeGate, type HandshakeStats } from './handshakes'
import { newCredentials, PeerTransport, type IceCredentials, type Path, type TransportEvents } from './peer-transport'
import { bindingSuccess, bindingUnauthorized, integrityOk, isStun, parseBindingRequest } from './stun'

/** A peer none of whose paths sent a valid check for this long is expired (consent is the client's job). */
const PEER_EXPIRY_MS = 30_000
const SWEEP_MS = 5_000
/** A relay socket (one per edge) unused this long is closed. */
const RELAY_IDLE_MS = 60_000
/** An ICE-TCP connection that sent no valid check this long after opening is closed. */
const TCP_CHECK_WITHIN_MS = 10_000
/** RFC 4571 framing: a TCP connection may buffer at most this much of an unfinished frame. */
const TCP_MAX_FRAME = 65_535 + 2

/**
 * Kernel buffers of the one socket: every peer's packets queue in it while the loop is busy (a burst of joins, a
 * DTLS key exchange), so it gets more than the default 208 KiB (the kernel caps it at net.core.rmem_max/wmem_max).
 */
const SOCKET_BUFFER = 4 << 20
/** Media packets sent in one sendmmsg at most (a longer fan-out goes out in several). */
const MAX_BATCH = 256

/** The one UDP socket: node:dgram for the buffer sizes, written to through Bun's native handle under it. */
interface MediaUdp {
  readonly port: number
  /**
   * Queues a datagram (media, STUN, DTLS): the queue goes out in one `sendMany` (sendmmsg) at the end of the turn of
   * the loop that queued it (the fan-out of one uplink packet to every listener is one batch), or when it is full.
   * One sendto costs ~5 µs here, a datagram of a batch ~1.8 µs.
   */
  send(packet: Buffer, port: number, ip: string): void
  flush(): void
  /** Datagrams sent, and the system calls (sendmmsg) that sent them. */
  readonly sent: { datagrams: number; calls: number }
  close(): void
}

async function openUdp(host: string, port: number, log: Logger, data: (b: Buffer, ip: string, port: number) => void) {
  const family = host.includes(':') ? 'udp6' : 'udp4'
  const sock: DgramSocket = createSocket({
    type: family,
    recvBufferSize: SOCKET_BUFFER,
    sendBufferSize: SOCKET_BUFFER,
  })
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => reject(new Error(`media: cannot bind RTC_PORT ${host}:${port}/udp (${e.message})`))
    sock.once('error', failed)
    sock.bind(port, host, () => {
      sock.off('error', failed)
      resolve()
    })
  })
  // e.g. ECONNREFUSED after an ICMP port-unreachable from a client gone away: the socket keeps working.
  sock.on('error', (error) => log.debug('media: udp error', { error: String(error?.message ?? error) }))
  sock.on('message', (msg, rinfo) => data(msg, rinfo.address, rinfo.port))
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol')
  const native = sym ? (sock as any)[sym]?.handle?.socket : null
  const send: (b: Buffer, port: number, ip: string) => unknown =
    native && typeof native.send === 'function' ? native.send.bind(native) : sock.send.bind(sock)
  const sendMany: ((batch: (Buffer | number | string)[]) => unknown) | null =
    native && typeof native.sendMany === 'function' ? native.sendMany.bind(native) : null
  // [packet, port, address, packet, port, address, …] as sendMany takes it.
  let batch: (Buffer | number | string)[] = []
  const sent = { datagrams: 0, calls: 0 }
  const flush = () => {
    if (batch.length === 0) return
    const out = batch
    batch = []
    sent.datagrams += out.length / 3
    sent.calls += sendMany ? 1 : out.length / 3
    try {
      if (sendMany) sendMany(out)
      else for (let i = 0; i < out.length; i += 3) send(out[i] as Buffer, out[i + 1] as number, out[i + 2] as string)
    } catch {
      /* a full send buffer or an unreachable address: the packets are lost, as on the wire */
    }
  }
  const udp: MediaUdp = {
    port: sock.address().port,
    send: (b, p, ip) => {
      if (batch.push(b, p, ip) === 3) queueMicrotask(flush)
      if (batch.length >= MAX_BATCH * 3) flush()
    },
    flush,
    sent,
    close: () => {
      flush()
      sock.close()
    },
  }
  return udp
}

/** What the tests and /metrics read. */
export interface RtcServerStats {
  peers: number
  /** Datagrams from an unknown address that were not a valid Binding request. */
  dropped: number
  /** Binding requests answered with 401 (unknown ufrag or wrong password). */
  unauthorized: number
  /** Valid Binding requests answered. */
  checks: number
  tcpConnections: number
  /** Datagrams sent, and the sendmmsg calls that sent them (M55: a fan-out is one call). */
  datagramsSent: number
  sendCalls: number
  /** The DTLS handshake gate (M57). */
  handshakes: HandshakeStats
}

export interface RtcServerOptions {
  host: string
  port: number
  /** ICE-TCP (RFC 6544 passive, RFC 4571 framing) on this TCP port, or null. */
  tcpPort: number | null
  log: Logger
  /** DTLS handshakes in flight at most (MEDIA_HANDSHAKES; 0: no limit). */
  handshakes?: number
}

export class RtcServer {
  private readonly byUfrag = new Map<string, PeerTransport>()
  private readonly byPath = new Map<string, PeerTransport>()
  private readonly peers = new Set<PeerTransport>()
  private readonly expired = new Map<PeerTransport, () => void>()
  private readonly sweeper: ReturnType<typeof setInterval>
  private readonly tcpConns = new Set<TcpSocket<TcpConn>>()
  private nextTcpId = 1
  readonly counts = { dropped: 0, unauthorized: 0, checks: 0 }
  readonly gate: HandshakeGate

  private constructor(
    private readonly udp: MediaUdp,
    private readonly tcp: TCPSocketListener<TcpConn> | null,
    private readonly certificate: RTCCertificate,
    private readonly log: Logger,
    handshakes: number,
  ) {
    this.gate = new HandshakeGate(handshakes)
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS)
    this.sweeper.unref?.()
  }

  /** Binds the UDP socket (and the ICE-TCP listener) on HOST; throws if the port is taken. */
  static async open(opts: RtcServerOptions): Promise<RtcServer> {
    const certificate = await RTCDtlsTransport.SetupCertificate()
    let server: RtcServer | null = null
    const udpSocket = await openUdp(opts.host, opts.port, opts.log, (data, ip, port) => server?.udpIn(data, ip, port))
    let tcp: TCPSocketListener<TcpConn> | null = null
    if (opts.tcpPort !== null) {
      try {
        tcp = Bun.listen<TcpConn>({
          hostname: opts.host,
          port: opts.tcpPort,
          socket: {
            open: (s) => server?.tcpOpen(s),
            data: (s, data) => server?.tcpData(s, data),
            close: (s) => server?.tcpClose(s),
            error: (s) => server?.tcpClose(s),
          },
        })
      } catch (e) {
        udpSocket.close()
        throw new Error(
          `media: cannot listen on RTC_TCP_PORT ${opts.host}:${opts.tcpPort}/tcp (${(e as Error).message})`,
        )
      }
    }
    server = new RtcServer(udpSocket, tcp, certificate, opts.log, opts.handshakes ?? 0)
    return server
  }

  get port() {
    return this.udp.port
  }
  get tcpPort() {
    return this.tcp?.port ?? null
  }
  get fingerprint() {
    return this.certificate.getFingerprints()[0]!
  }

  stats(): RtcServerStats {
    return {
      peers: this.peers.size,
      ...this.counts,
      tcpConnections: this.tcpConns.size,
      datagramsSent: this.udp.sent.datagrams,
      sendCalls: this.udp.sent.calls,
      handshakes: this.gate.stats(),
    }
  }

  /**
   * A new peer transport with fresh ICE credentials; `expired` runs once if its checks stop. `priority` (the stage)
   * puts its handshake before the listeners' at the gate.
   */
  createTransport(
    events: TransportEvents,
    expired: () => void,
    priority = false,
  ): { transport: PeerTransport; ice: IceCredentials } {
    const transport = new PeerTransport(this.certificate, events, this.gate)
    transport.priority = priority
    this.peers.add(transport)
    this.expired.set(transport, expired)
    return { transport, ice: this.restartIce(transport) }
  }

  /** New ICE credentials for a peer (an ICE restart); the previous ones stay valid until the next restart. */
  restartIce(transport: PeerTransport): IceCredentials {
    const ice = newCredentials()
    for (const u of transport.addCredentials(ice)) if (this.byUfrag.get(u) === transport) this.byUfrag.delete(u)
    this.byUfrag.set(ice.ufrag, transport)
    return ice
  }

  /** Forgets a peer: its credentials and paths stop matching anything. */
  release(transport: PeerTransport) {
    transport.close()
    this.peers.delete(transport)
    this.expired.delete(transport)
    for (const u of transport.credentials.keys()) if (this.byUfrag.get(u) === transport) this.byUfrag.delete(u)
    for (const k of transport.paths.keys()) if (this.byPath.get(k) === transport) this.byPath.delete(k)
  }

  close() {
    clearInterval(this.sweeper)
    for (const t of [...this.peers]) this.release(t)
    this.gate.close()
    for (const c of this.tcpConns) c.end()
    this.tcp?.stop(true)
    this.udp.close()
    for (const { sock } of this.relaySockets.values()) sock.close()
    this.relaySockets.clear()
  }

  // ── the demultiplexer ──────────────────────────────────────────────────────────────────────────────────────

  private udpPaths = new Map<string, Path>()

  private udpPath(ip: string, port: number, key: string): Path {
    let p = this.udpPaths.get(key)
    if (!p) {
      const udp = this.udp
      p = { key, ip, port, send: (b) => udp.send(b, port, ip) }
      this.udpPaths.set(key, p)
    }
    return p
  }

  /** Relay datagrams from origin nodes (M64; first byte 0xFE), handed to the plane; none taken when unset. */
  relayIn: ((data: Buffer) => void) | null = null

  /**
   * Sends a relay datagram (M64) from a socket of its own for that edge (the edge reads relays by their tag, not by
   * where they come from). An edge whose process died answers with ICMP port-unreachable, and Linux hands that error
   * to the next send of the socket that caused it: on the media socket, it dropped the sends (and sendmmsg batches)
   * of every peer and every other edge until the relay to the dead edge ended, ~10 s later (W39).
   */
  sendRelay(packet: Buffer, port: number, ip: string) {
    const key = `${ip}:${port}`
    let out = this.relaySockets.get(key)
    if (!out) {
      const sock = createSocket({ type: ip.includes(':') ? 'udp6' : 'udp4' })
      sock.on('error', (error) => this.log.debug('media: relay udp error', { error: String(error?.message ?? error) }))
      this.relaySockets.set(key, (out = { sock, usedAt: 0 }))
    }
    out.usedAt = performance.now()
    out.sock.send(packet, port, ip)
  }
  /** The relay sockets by edge address (closed at the sweep after a minute unused). */
  private readonly relaySockets = new Map<string, { sock: DgramSocket; usedAt: number }>()

  private udpIn(data: Buffer, ip: string, port: number) {
    if (data[0] === RELAY_MARK && this.relayIn) return this.relayIn(data)
    const key = `u${ip}:${port}`
    const peer = this.byPath.get(key)
    if (peer) return this.packetIn(peer, data, peer.paths.get(key) ?? this.udpPath(ip, port, key))
    if (isStun(data)) return this.stunIn(data, this.udpPath(ip, port, key))
    this.counts.dropped++
  }

  private packetIn(peer: PeerTransport, data: Buffer, path: Path) {
    peer.packetsIn++
    if (peer.path === path) peer.heardAt = performance.now()
    const b = data[0]!
    if (b >= 128 && b <= 191) peer.mediaIn(data)
    else if (b >= 20 && b <= 63) peer.dtlsIn(data)
    else if (b <= 3) this.stunIn(data, path)
    else this.counts.dropped++
  }

  private stunIn(data: Buffer, path: Path) {
    const req = parseBindingRequest(data)
    if (!req) {
      if (!this.byPath.has(path.key)) this.forgetPath(path)
      this.counts.dropped++
      return
    }
    const ufrag = req.username.split(':', 1)[0]!
    const peer = this.byUfrag.get(ufrag)
    const pwd = peer?.credentials.get(ufrag)
    if (!peer || pwd === undefined || !integrityOk(req, pwd)) {
      this.counts.unauthorized++
      if (!this.byPath.has(path.key)) this.forgetPath(path)
      path.send(bindingUnauthorized(req))
      return
    }
    this.counts.checks++
    const owner = this.byPath.get(path.key)
    if (owner && owner !== peer) owner.paths.delete(path.key)
    this.byPath.set(path.key, peer)
    peer.checked(path, req.useCandidate)
    path.send(bindingSuccess(req, path.ip, path.port, pwd))
  }

  private forgetPath(path: Path) {
    if (path.key.startsWith('u')) this.udpPaths.delete(path.key)
  }

  private sweep() {
    const now = performance.now()
    for (const [t, expired] of [...this.expired]) {
      if (now - t.lastCheck < PEER_EXPIRY_MS) continue
      this.log.debug('media: peer expired (no ICE checks)')
      this.expired.delete(t)
      expired()
    }
    for (const [key, { sock, usedAt }] of this.relaySockets)
      if (now - usedAt > RELAY_IDLE_MS) {
        sock.close()
        this.relaySockets.delete(key)
      }
    // UDP paths of no peer (a 401'd address, a peer gone) are not kept; nor TCP connections that never checked.
    for (const k of this.udpPaths.keys()) if (!this.byPath.has(k)) this.udpPaths.delete(k)
    for (const c of this.tcpConns)
      if (!this.byPath.has(c.data.path.key) && now - c.data.openedAt > TCP_CHECK_WITHIN_MS) c.end()
  }

  // ── ICE-TCP (RFC 6544 passive candidate, RFC 4571 framing) ──────────────────────────────────────────────────

  private tcpOpen(s: TcpSocket<TcpConn>) {
    const id = this.nextTcpId++
    const key = `t${id}`
    const send = (b: Buffer) => {
      const frame = Buffer.allocUnsafe(2 + b.length)
      frame.writeUInt16BE(b.length, 0)
      b.copy(frame, 2)
      s.write(frame)
    }
    s.data = {
      buf: Buffer.alloc(0),
      openedAt: performance.now(),
      path: {
        key,
        ip: s.remoteAddress,
        port: 0,
        send,
      },
    }
    this.tcpConns.add(s)
  }

  private tcpData(s: TcpSocket<TcpConn>, chunk: Buffer) {
    const c = s.data
    let buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0)
      if (buf.length < 2 + len) break
      const frame = buf.subarray(2, 2 + len)
      buf = buf.subarray(2 + len)
      const peer = this.byPath.get(c.path.key)
      if (peer) this.packetIn(peer, Buffer.from(frame), peer.paths.get(c.path.key) ?? c.path)
      else if (isStun(frame)) this.stunIn(Buffer.from(frame), c.path)
      else {
        this.counts.dropped++
        s.end()
        return
      }
    }
    if (buf.length > TCP_MAX_FRAME) {
      s.end()
      return
    }
    c.buf = Buffer.from(buf)
  }

  private tcpClose(s: TcpSocket<TcpConn>) {
    if (!this.tcpConns.delete(s)) return
    const key = s.data?.path.key
    if (!key) return
    const peer = this.byPath.get(key)
    this.byPath.delete(key)
    if (peer) {
      peer.paths.delete(key)
      if (peer.path?.key === key) peer.path = peer.paths.values().next().value ?? null
    }
  }
}

interface TcpConn {
  buf: Buffer
  openedAt: number
  path: Path
}
