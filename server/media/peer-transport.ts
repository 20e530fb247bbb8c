// One participant's transport on the server's single media socket (rtc-server.ts): its ICE-lite credentials, the
// client's address(es) learned from valid Binding requests, its DTLS server (werift's DtlsServer over our socket)
// and SRTP/SRTCP once the handshake is done. It is the listener's `Downlink` (router.ts) and hands the uplink's RTP
// to `onRtp`. No timers of its own: the server's sweep expires a transport whose checks stopped. Its handshake waits
// for a place at the server's gate (handshakes.ts, M57): the client's first ClientHello is kept until then.
import { createHash, randomBytes } from 'node:crypto'
import {
  DtlsServer,
  type RTCCertificate,
  RtcpPacketConverter,
  RtcpRrPacket,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  SrtcpSession,
  SrtpSession,
  keyLength,
  saltLength,
} from 'werift'
import { useNativeKeyExchange } from './dtls-crypto'
import type { GateEntry, HandshakeGate } from './handshakes'
import type { Downlink, RtpIn } from './router'
import { SrtpWriter } from './srtp'

useNativeKeyExchange()

/** Where a datagram came from and how to answer it: a UDP address or an ICE-TCP connection. */
export interface Path {
  /** "udp:<ip>:<port>" or "tcp:<id>". */
  readonly key: string
  readonly ip: string
  readonly port: number
  /** Over UDP, sent with the others of this turn of the loop in one sendmmsg; over ICE-TCP, written at once. */
  send(packet: Buffer): void
}

export interface TransportEvents {
  /** DTLS is up, the client's certificate matches the answer's fingerprint, SRTP keys are ready. */
  connected(): void
  /** One decrypted uplink RTP packet. */
  rtp(packet: RtpIn): void
  /** DTLS failed or the client closed it. */
  failed(reason: string): void
  /** A report block of the listener's RTCP (receiver or sender report) about one of our SSRCs (M56). */
  receiverReport(ssrc: number, fractionLost: number, jitter: number): void
  /** The client's ClientHello waits for a place at the handshake gate (the connect timer pauses). */
  queued(): void
  /** The handshake may start now (the connect timer runs again). */
  admitted(): void
}

/** ICE credentials (RFC 8445 §5.3: ufrag ≥ 4 characters, password ≥ 22). */
export interface IceCredentials {
  ufrag: string
  pwd: string
}

export function newCredentials(): IceCredentials {
  return { ufrag: randomBytes(6).toString('base64url'), pwd: randomBytes(18).toString('base64url') }
}

/**
 * A valid check from another path moves media there without USE-CANDIDATE when nothing came over the current path
 * for this long: the client's NAT gave it a new address (rebinding) and its consent checks now arrive from there.
 */
const SILENT_PATH_MS = 3_000

/** After the gate lets a waiting handshake start, more copies of the client's first flight are ignored this long. */
const HELLO_ECHO_MS = 1_000

/** How many ICE generations (first offer + restarts) a transport still answers checks for. */
const KEEP_GENERATIONS = 2

export class PeerTransport implements Downlink, GateEntry {
  /** ufrag → password, newest last (an ICE restart adds one; the oldest beyond KEEP_GENERATIONS is dropped). */
  readonly credentials = new Map<string, string>()
  /** The path media is sent on: the nominated one, else the first that checked. */
  path: Path | null = null
  /** Every path a valid check came from (DTLS and SRTP are accepted from these). */
  readonly paths = new Map<string, Path>()
  /** When the last valid Binding request arrived (ms, performance.now()). */
  lastCheck = performance.now()
  /** When anything last arrived over `path` (ms). */
  heardAt = performance.now()
  /** Counters read by the tests: ClientHellos with message_seq 0 (a second one is a retransmission). */
  firstClientHellos = 0
  /** Datagrams (or ICE-TCP frames) demultiplexed to this transport. */
  packetsIn = 0
  rtpIn = 0
  rtcpIn = 0
  /** Stage peers go before listeners at the handshake gate. */
  priority = false
  /**
   * werift's DTLS server: dropped once the client sent protected media, which proves it has our last flight (it
   * will not retransmit its own), so that a connected listener keeps only its keys (M63).
   */
  private dtls: DtlsServer | null
  private handshakeDone = false
  /** Where the handshake is at the gate: not asked yet, waiting, started, over (the place given back). */
  private gateState: 'idle' | 'queued' | 'admitted' | 'done' = 'idle'
  /** When the gate let the handshake start (ms, performance.now()). */
  private admittedAt = Number.NEGATIVE_INFINITY
  /** The client's latest first-flight ClientHello while it waits at the gate. */
  private waitingHello: Buffer | null = null
  /** The client's second ClientHello (the one with our cookie) arrived: its first is stale from then on. */
  private cookieHelloSeen = false
  private remoteFingerprint: { algorithm: string; value: string } | null = null
  private srtp: SrtpSession | null = null
  private srtpConfig: ConstructorParameters<typeof SrtpSession>[0] | null = null
  private srtcp: SrtcpSession | null = null
  private writer: SrtpWriter | null = null
  private state: 'new' | 'connected' | 'failed' | 'closed' = 'new'
  private readonly dtlsSocket = {
    type: 'udp',
    closed: false,
    onData: (_buf: Buffer, _addr?: unknown) => {},
    send: async (buf: Buffer) => {
      this.path?.send(buf)
    },
    close: async () => {},
    get address() {
      return {}
    },
  }

  constructor(
    certificate: RTCCertificate,
    private readonly events: TransportEvents,
    private readonly gate: HandshakeGate,
  ) {
    const dtls = new DtlsServer({
      cert: certificate.certPem,
      key: certificate.privateKey,
      signatureHash: certificate.signatureHash,
      transport: this.dtlsSocket as any,
      srtpProfiles: [ProtectionProfileAeadAes128Gcm, ProtectionProfileAes128CmHmacSha1_80],
      extendedMasterSecret: true,
      certificateRequest: true,
    })
    this.dtls = dtls
    dtls.onConnect.once(() => {
      this.handshakeDone = true
      this.leaveGate()
      this.maybeConnect()
    })
    dtls.onError.subscribe((e) => this.fail(`dtls: ${String((e as Error)?.message ?? e)}`))
    dtls.onClose.subscribe(() => this.fail('dtls closed'))
  }

  get connected() {
    return this.state === 'connected'
  }
  get holdsDtls() {
    return this.dtls !== null
  }
  get closed() {
    return this.state === 'closed'
  }

  /** Adds a generation of credentials; returns the ufrags dropped (beyond KEEP_GENERATIONS). */
  addCredentials(c: IceCredentials): string[] {
    this.credentials.set(c.ufrag, c.pwd)
    const dropped: string[] = []
    while (this.credentials.size > KEEP_GENERATIONS) {
      const oldest = this.credentials.keys().next().value!
      this.credentials.delete(oldest)
      dropped.push(oldest)
    }
    return dropped
  }

  /** The answer's DTLS fingerprint: the client's certificate must match it. */
  setRemoteFingerprint(algorithm: string, value: string) {
    this.remoteFingerprint = { algorithm: algorithm.toLowerCase(), value: value.toUpperCase() }
    this.maybeConnect()
  }

  /** A valid Binding request from `path` (nominating it with USE-CANDIDATE): where media goes from now. */
  checked(path: Path, nominate: boolean) {
    const now = performance.now()
    this.lastCheck = now
    if (!this.paths.has(path.key)) this.paths.set(path.key, path)
    const current = this.path
    if (current?.key === path.key) this.heardAt = now
    else if (nominate || !current || now - this.heardAt > SILENT_PATH_MS) {
      this.path = this.paths.get(path.key)!
      this.heardAt = now
    }
  }

  /** A DTLS record from one of our paths. */
  dtlsIn(buf: Buffer) {
    if (this.state === 'closed' || !this.dtls) return
    // A plaintext ClientHello (content type 22, epoch 0, handshake type 1): message_seq 0 is the client's first
    // flight, 1 its second (with our cookie).
    const hello = buf.length > 25 && buf[0] === 22 && buf[3] === 0 && buf[4] === 0 && buf[13] === 1
    if (this.gateState === 'idle' || this.gateState === 'queued') {
      // Nothing reaches werift before the gate admits us: the first flight is kept (its retransmissions replace it)
      // and anything else is dropped (a client sends nothing else before our answer).
      if (!hello || buf.readUInt16BE(17) !== 0) return
      this.firstClientHellos++
      this.waitingHello = buf
      if (this.gateState === 'idle') {
        this.gateState = 'queued'
        this.gate.request(this)
        if (this.gateState === 'queued') this.events.queued()
      }
      return
    }
    if (hello) {
      if (buf.readUInt16BE(17) === 0) {
        this.firstClientHellos++
        // Retransmissions the client sent while it waited at the gate, arriving just after its turn came: our
        // HelloVerifyRequest is on its way. Answering each again would make the client send its second flight twice
        // (werift's client starts over on each), and its handshake fails; one that comes later is answered.
        if (!this.cookieHelloSeen && performance.now() - this.admittedAt < HELLO_ECHO_MS) return
        // A retransmission of the first flight that arrives after the second (the client resent it while we were
        // slow to answer) is stale: werift's server would start over on it and draw new keys mid-handshake, and the
        // client, already past that point, would fail. Only a finished handshake may be started again.
        if (this.cookieHelloSeen && !this.handshakeDone) return
      } else this.cookieHelloSeen = true
    }
    this.dtlsSocket.onData(buf)
  }

  /** An SRTP or SRTCP packet from one of our paths (RFC 5761: payload types 192..223 are RTCP). */
  mediaIn(buf: Buffer) {
    if (this.state !== 'connected' || buf.length < 12) return
    const pt = buf[1]! & 0x7f
    if (pt >= 64 && pt <= 95) {
      this.rtcpIn++
      try {
        const packets = RtcpPacketConverter.deSerialize(this.srtcp!.decrypt(buf))
        this.retireDtls()
        for (const p of packets)
          if (p.type === RtcpRrPacket.type || p.type === RtcpSrPacket.type)
            for (const r of (p as RtcpRrPacket | RtcpSrPacket).reports)
              this.events.receiverReport(r.ssrc, r.fractionLost / 256, r.jitter)
      } catch {
        /* not ours or damaged: dropped */
      }
      return
    }
    let rtp: RtpPacket
    try {
      rtp = RtpPacket.deSerialize(this.uplink().decrypt(buf))
    } catch {
      return
    }
    this.retireDtls()
    this.rtpIn++
    this.events.rtp(rtp)
  }

  /** The gate's call: the handshake may start; the kept ClientHello goes to werift. */
  admit() {
    if (this.gateState !== 'queued' || this.state !== 'new') return this.leaveGate()
    this.gateState = 'admitted'
    this.admittedAt = performance.now()
    this.events.admitted()
    const hello = this.waitingHello
    this.waitingHello = null
    if (hello) this.dtlsSocket.onData(hello)
  }

  private leaveGate() {
    if (this.gateState === 'done') return
    this.gateState = 'done'
    this.waitingHello = null
    this.gate.release(this)
  }

  // ── Downlink ──────────────────────────────────────────────────────────────────────────────────────────────

  open(): SrtpWriter | null {
    return this.state === 'connected' && this.path ? this.writer : null
  }

  send(packet: Buffer) {
    this.path!.send(packet)
  }

  /** Benchmarks only (`MediaService.useStockSender`): werift's own RTP header and SRTP encryption, for comparison. */
  sendStock(_slot: number, pt: number, seq: number, ts: number, marker: boolean, ssrc: number, payload: Buffer) {
    if (!this.srtpConfig || !this.path || this.state !== 'connected') return
    const header = new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: ts, marker, ssrc })
    this.path.send(this.uplink().encrypt(payload, header))
  }

  close() {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.leaveGate()
    this.dtlsSocket.closed = true
    try {
      this.dtls?.close()
    } catch {
      /* already closed */
    }
  }

  /** The uplink's SRTP session (werift's, to decrypt): made when the first RTP arrives (listeners send none). */
  private uplink(): SrtpSession {
    this.srtp ??= new SrtpSession(this.srtpConfig!)
    return this.srtp
  }

  /** The client sent protected media: DTLS is over for it; only the keys are kept (M63). */
  private retireDtls() {
    if (!this.dtls) return
    this.dtls = null
    this.dtlsSocket.closed = true
  }

  private maybeConnect() {
    if (this.state !== 'new' || !this.handshakeDone || !this.remoteFingerprint || !this.dtls) return
    const cert = this.dtls.remoteCertificate
    if (!cert) return this.fail('no client certificate')
    const algo = this.remoteFingerprint.algorithm.replace('-', '')
    let actual: string
    try {
      actual = createHash(algo).update(cert).digest('hex').toUpperCase().match(/../g)!.join(':')
    } catch {
      return this.fail(`unsupported fingerprint algorithm ${this.remoteFingerprint.algorithm}`)
    }
    if (actual !== this.remoteFingerprint.value) return this.fail('certificate fingerprint mismatch')
    const profile = this.dtls.srtp.srtpProfile
    if (!profile) return this.fail('no SRTP profile negotiated')
    const { localKey, localSalt, remoteKey, remoteSalt } = this.dtls.extractSessionKeys(
      keyLength(profile),
      saltLength(profile),
    )
    const config = {
      keys: {
        localMasterKey: localKey,
        localMasterSalt: localSalt,
        remoteMasterKey: remoteKey,
        remoteMasterSalt: remoteSalt,
      },
      profile,
    }
    this.srtpConfig = config
    this.srtcp = new SrtcpSession(config)
    // Our writer takes the session keys werift derives; the session that derived them is not kept.
    this.writer = SrtpWriter.fromWerift(new SrtpSession(config))
    this.state = 'connected'
    this.events.connected()
  }

  private fail(reason: string) {
    if (this.state === 'closed' || this.state === 'failed') return
    this.state = 'failed'
    this.leaveGate()
    this.events.failed(reason)
  }
}
