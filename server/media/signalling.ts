// The control plane of one participant's audio, on the main thread: the offer (one recvonly uplink and K sendonly
// slots, ICE-lite, one host candidate per announced address on the plane's RTC port), the checks on the answer, ICE
// restarts and close. Everything per packet is the data plane's (plane.ts, in a media worker or in this thread): it
// opens the transport (ICE-lite, DTLS, SRTP on the one socket) and the participant's place in the room's router, and
// expires a peer that never connects or whose checks stop.
import { randomBytes } from 'node:crypto'
import type { ParticipantKey } from '../contracts'
import { fail } from '../errors'
import { K_SLOTS, OPUS_PT } from './forwarder'
import type { IceCredentials } from './peer-transport'
import type { PeerAnswer, PeerSpec, Plane } from './plane'

/** Opus with in-band FEC and DTX (the browser's encoder honours the answerer's fmtp for what it sends us). */
const OPUS_FMTP = 'minptime=10;useinbandfec=1;usedtx=1'
const EXT_MID = 'urn:ietf:params:rtp-hdrext:sdes:mid'
const EXT_AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level'
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
export function readAnswer(sdp: string): PeerAnswer {
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

/** One participant's WebRTC connection as signalling sees it: the offers, the answer, ICE restarts. */
export class SignallingPeer {
  private readonly sessionId = String(randomBytes(6).readUIntBE(0, 6))
  private readonly cname = randomBytes(8).toString('hex')
  private version = 0
  private ice: IceCredentials | null = null
  private ssrcs: readonly number[] = []
  private closed = false
  /** DTLS is up (the plane said so): no longer counted as connecting. */
  connected = false
  /** An offer waits for its answer. */
  private pendingOffer = false

  constructor(
    /** Unique in the process: the plane's name for this peer (a later peer of the same participant is another). */
    readonly id: number,
    readonly roomId: number,
    readonly key: ParticipantKey,
    private readonly plane: Plane,
    /** Host addresses announced as candidates (PUBLIC_IP first), and whether ICE-TCP is offered. */
    private readonly hosts: readonly string[],
    private readonly iceTcp: boolean,
  ) {}

  get isClosed() {
    return this.closed
  }

  /** A first offer: the plane opens the transport and its place in the room's router; returns the SDP. */
  async offer(spec: Omit<PeerSpec, 'peerId' | 'roomId' | 'key'>): Promise<string> {
    const { ice, ssrcs } = await this.plane.open({ ...spec, peerId: this.id, roomId: this.roomId, key: this.key })
    this.ice = ice
    this.ssrcs = ssrcs
    return this.makeOffer()
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (same DTLS, same slots). */
  async restart(): Promise<string> {
    if (this.closed) fail('media_peer_closed')
    this.ice = await this.plane.restart(this.id)
    return this.makeOffer()
  }

  /** Applies the participant's answer to the offer waiting for one. */
  answer(sdp: string) {
    if (!this.pendingOffer) fail('media_no_offer')
    const problem = answerProblem(sdp)
    if (problem) fail('validation', `sdp: ${problem}`)
    this.pendingOffer = false
    this.plane.answer(this.id, readAnswer(sdp))
  }

  /** Releases the transport and the participant's place in the router. */
  close() {
    if (this.closed) return
    this.closed = true
    this.plane.close(this.id)
  }

  private makeOffer(): string {
    if (this.closed || !this.ice) fail('media_peer_closed')
    this.pendingOffer = true
    const info = this.plane.info
    return buildOffer({
      sessionId: this.sessionId,
      version: this.version++,
      ice: this.ice,
      fingerprint: info.fingerprint,
      hosts: this.hosts,
      udpPort: info.udpPort,
      tcpPort: this.iceTcp ? info.tcpPort : null,
      ssrcs: this.ssrcs,
      cname: this.cname,
    })
  }
}
