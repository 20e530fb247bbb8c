// The control plane of one participant's audio: the offer (one recvonly uplink and K sendonly slots, ICE-lite, one
// host candidate per announced address on the shared RTC port), the checks on the answer, ICE restarts, the timer
// that closes a peer that never connects, and close. The transport (peer-transport.ts, on the server's one socket:
// rtc-server.ts) does ICE-lite, DTLS and SRTP; the packets go to and from the room's router through the
// participant's `Endpoint` (router.ts): the uplink's RTP in, and once connected the listener's `Downlink`.
import { randomBytes } from 'node:crypto'
import type { ParticipantKey } from '../contracts'
import { fail } from '../errors'
import type { Logger } from '../lib/log'
import { K_SLOTS } from './forwarder'
import type { PeerTransport, IceCredentials } from './peer-transport'
import type { Endpoint } from './router'
import type { RtcServer } from './rtc-server'

const OPUS_PT = 111
/** Opus with in-band FEC and DTX (the browser's encoder honours the answerer's fmtp for what it sends us). */
const OPUS_FMTP = 'minptime=10;useinbandfec=1;usedtx=1'
const EXT_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid'
const EXT_AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'
/**
 * A peer that never connects this long is closed. The time its handshake waits at the gate (M57) does not count:
 * the timer stops while it waits and starts again, whole, when its handshake may begin.
 */
const CONNECT_TIMEOUT_MS = 30_000

/** What is wrong with an answer to our offer, or null. */
function answerProblem(sdp: string): string | null {
  if (!sdp.startsWith('v=0')) return 'not a session description'
  const sections = sdp.split(/\r?\nm=/).length - 1
  if (sections !== 1 + K_SLOTS) return `expected ${1 + K_SLOTS} media sections, got ${sections}`
  if (!/^m=audio/m.test(sdp) || /^m=(?!audio)/m.test(sdp)) return 'audio sections only'
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=ice-pwd:/m.test(sdp)) return 'ICE credentials missing'
  if (!/^a=fingerprint:\S+ \S+/m.test(sdp)) return 'DTLS fingerprint missing'
  if (/^a=setup:passive/m.test(sdp)) return 'the server is the DTLS server: answer a=setup:active'
  return null
}

/** What the server reads of an answer: the DTLS fingerprint, the audio-level extension id, each section's Opus PT. */
export function readAnswer(sdp: string) {
  const fp = /^a=fingerprint:(\S+) (\S+)/m.exec(sdp)!
  const level = new RegExp(`^a=extmap:(\\d+)(?:/\\w+)? ${EXT_AUDIO_LEVEL}`, 'm').exec(sdp)
  const sections = sdp.split(/\r?\nm=/).slice(1)
  const payloadTypes = sections.map((s) => {
    const m = /^a=rtpmap:(\d+) opus\/48000/im.exec(s)
    return m ? Number(m[1]) : OPUS_PT
  })
  return {
    fingerprint: { algorithm: fp[1]!, value: fp[2]! },
    levelExtension: level ? Number(level[1]) : 0,
    payloadTypes: payloadTypes.slice(1),
  }
}

/**
 * The server's offer: ICE-lite (RFC 8445 §2.5), non-trickle, BUNDLE of one recvonly uplink and K sendonly slots
 * (with their SSRCs), one host candidate per address on the RTC port (and a passive TCP one with ICE-TCP).
 */
export function buildOffer(o: {
  sessionId: string
  version: number
  ice: IceCredentials
  fingerprint: { algorithm: string; value: string }
  hosts: readonly string[]
  udpPort: number
  tcpPort: number | null
  ssrcs: readonly number[]
  cname: string
}): string {
  const candidates: string[] = []
  o.hosts.forEach((host, i) => {
    // RFC 8445 §5.1.2.1 priorities: host type preference 126; UDP before TCP; the first address first.
    const local = 65535 - i
    candidates.push(`a=candidate:${i + 1} 1 udp ${(126 << 24) | (local << 8) | 255} ${host} ${o.udpPort} typ host`)
    if (o.tcpPort !== null)
      candidates.push(
        `a=candidate:${i + 101} 1 tcp ${((90 << 24) | (local << 8) | 255) >>> 0} ${host} ${o.tcpPort} typ host ` +
          'tcptype passive',
      )
  })
  const lines = [
    'v=0',
    `o=- ${o.sessionId} ${o.version} IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${Array.from({ length: 1 + K_SLOTS }, (_, i) => i).join(' ')}`,
    'a=msid-semantic:WMS *',
  ]
  for (let i = 0; i <= K_SLOTS; i++) {
    lines.push(
      `m=audio ${o.udpPort} UDP/TLS/RTP/SAVPF ${OPUS_PT}`,
      `c=IN IP4 ${o.hosts[0] ?? '0.0.0.0'}`,
      ...candidates,
      'a=end-of-candidates',
      `a=ice-ufrag:${o.ice.ufrag}`,
      `a=ice-pwd:${o.ice.pwd}`,
      `a=fingerprint:${o.fingerprint.algorithm} ${o.fingerprint.value}`,
      'a=setup:actpass',
      i === 0 ? 'a=recvonly' : 'a=sendonly',
      `a=mid:${i}`,
      'a=rtcp-mux',
      `a=rtpmap:${OPUS_PT} opus/48000/2`,
      `a=fmtp:${OPUS_PT} ${OPUS_FMTP}`,
      `a=extmap:1 ${EXT_MID}`,
      `a=extmap:2 ${EXT_AUDIO_LEVEL}`,
    )
    if (i > 0) {
      const ssrc = o.ssrcs[i - 1]!
      lines.push(`a=msid:townhall slot${i}`, `a=ssrc:${ssrc} cname:${o.cname}`, `a=ssrc:${ssrc} msid:townhall slot${i}`)
    }
  }
  return `${lines.join('\r\n')}\r\n`
}

export interface PeerOptions {
  /** The media plane's socket (ICE-lite, DTLS, SRTP for every peer). */
  rtc: RtcServer
  /** Host addresses announced as candidates (PUBLIC_IP first). */
  hosts: string[]
  iceTcp: boolean
  log: Logger
  /** A stage peer: its handshake goes before the listeners' at the gate. */
  stage: boolean
  /** The participant's place in the room's router, given the SSRCs of the peer's K slots. */
  join(ssrcs: readonly number[]): Endpoint
  /** Never connected within CONNECT_TIMEOUT_MS, or its ICE checks stopped: the owner closes it. */
  expired(peer: SignallingPeer): void
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

/** One participant's WebRTC connection, offered by the server. */
export class SignallingPeer {
  private readonly transport: PeerTransport
  private readonly endpoint: Endpoint
  private readonly ssrcs: number[]
  private readonly sessionId = String(randomBytes(6).readUIntBE(0, 6))
  private readonly cname = randomBytes(8).toString('hex')
  private version = 0
  private ice: IceCredentials
  private closed = false
  /** An offer waits for its answer. */
  private pendingOffer = false
  private payloadTypes: readonly number[] = Array(K_SLOTS).fill(OPUS_PT)
  /** The connect timeout, while one runs. */
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    readonly key: ParticipantKey,
    private readonly opts: PeerOptions,
  ) {
    const taken = new Set<number>()
    this.ssrcs = Array.from({ length: K_SLOTS }, () => randomSsrc(taken))
    const { transport, ice } = opts.rtc.createTransport(
      {
        connected: () => {
          if (this.closed) return
          this.clearTimer()
          this.endpoint.connect(this.transport, this.payloadTypes)
        },
        rtp: (rtp) => this.endpoint.receive(rtp),
        receiverReport: (ssrc, fractionLost, jitter) => this.endpoint.receiverReport(ssrc, fractionLost, jitter),
        // Waiting is not failing: no timer while the handshake waits for its place.
        queued: () => this.clearTimer(),
        admitted: () => {
          if (!this.closed) this.startTimer()
        },
        failed: (reason) => {
          if (this.closed) return
          opts.log.debug('media: transport failed', { key, reason })
          this.endpoint.disconnect()
          opts.expired(this)
        },
      },
      () => opts.expired(this),
      opts.stage,
    )
    this.transport = transport
    this.ice = ice
    this.endpoint = opts.join(this.ssrcs)
    this.startTimer()
  }

  get isClosed() {
    return this.closed
  }
  /** Whether a connect timeout runs (for the media service's count of what it holds). */
  get hasTimer() {
    return this.timer !== null
  }
  /** For tests: the transport's counters. */
  get stats() {
    const t = this.transport
    const path = t.path ? (t.path.key.startsWith('t') ? 'tcp' : 'udp') : null
    return {
      firstClientHellos: t.firstClientHellos,
      packetsIn: t.packetsIn,
      rtpIn: t.rtpIn,
      rtcpIn: t.rtcpIn,
      connected: t.connected,
      path,
      remote: t.path ? `${t.path.ip}:${t.path.port}` : null,
    }
  }

  /** A first offer; returns its SDP. */
  async offer(): Promise<string> {
    return this.makeOffer()
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (same DTLS, same slots). */
  async restart(): Promise<string> {
    if (this.closed) fail('media_peer_closed')
    this.ice = this.opts.rtc.restartIce(this.transport)
    return this.makeOffer()
  }

  /** Applies the participant's answer to the offer waiting for one. */
  async answer(sdp: string) {
    if (!this.pendingOffer) fail('media_no_offer')
    const problem = answerProblem(sdp)
    if (problem) fail('validation', `sdp: ${problem}`)
    const a = readAnswer(sdp)
    this.pendingOffer = false
    this.payloadTypes = a.payloadTypes
    if (a.levelExtension) this.endpoint.setLevelExtension(a.levelExtension)
    this.transport.setRemoteFingerprint(a.fingerprint.algorithm, a.fingerprint.value)
  }

  /** Stops the timer and releases the transport. */
  close(): Promise<void> {
    this.closed = true
    this.endpoint.disconnect()
    this.clearTimer()
    this.opts.rtc.release(this.transport)
    return Promise.resolve()
  }

  private makeOffer(): string {
    if (this.closed) fail('media_peer_closed')
    const rtc = this.opts.rtc
    this.pendingOffer = true
    return buildOffer({
      sessionId: this.sessionId,
      version: this.version++,
      ice: this.ice,
      fingerprint: rtc.fingerprint,
      hosts: this.opts.hosts,
      udpPort: rtc.port,
      tcpPort: this.opts.iceTcp ? rtc.tcpPort : null,
      ssrcs: this.ssrcs,
      cname: this.cname,
    })
  }

  private startTimer() {
    this.clearTimer()
    this.timer = setTimeout(() => this.opts.expired(this), CONNECT_TIMEOUT_MS)
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
