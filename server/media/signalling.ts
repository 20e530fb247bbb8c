// The control plane of one participant's audio: its werift RTCPeerConnection (one recvonly uplink and K sendonly
// slots), the offer, the checks on the answer, ICE restarts, the timers that close a peer that never connects or
// stays failed, and close. werift does ICE, DTLS and SDP; the packets go to and from the room's router through the
// participant's `Endpoint` (router.ts): the uplink's RTP in, and once connected the listener's `Downlink`.
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  RTP_EXTENSION_URI,
  RtcpRrPacket,
  RtcpSrPacket,
  type RTCRtpTransceiver,
} from 'werift'
import type { ParticipantKey } from '../contracts'
import { fail } from '../errors'
import type { Logger } from '../lib/log'
import { K_SLOTS } from './forwarder'
import { withoutDefaultStun } from './ice'
import type { Endpoint } from './router'
import { WeriftDownlink } from './transport'

const OPUS_PT = 111
/** Opus with in-band FEC and DTX (the browser's encoder honours the answerer's fmtp for what it sends us). */
const OPUS_FMTP = 'minptime=10;useinbandfec=1;usedtx=1'
/** A peer that never connects, or stays failed/disconnected this long, is closed. */
const CONNECT_TIMEOUT_MS = 30_000
const FAILED_TIMEOUT_MS = 60_000

/** What is wrong with an answer to our offer (werift applies almost anything), or null. */
function answerProblem(sdp: string): string | null {
  if (!sdp.startsWith('v=0')) return 'not a session description'
  const sections = sdp.split(/\r?\nm=/).length - 1
  if (sections !== 1 + K_SLOTS) return `expected ${1 + K_SLOTS} media sections, got ${sections}`
  if (!/^m=audio/m.test(sdp) || /^m=(?!audio)/m.test(sdp)) return 'audio sections only'
  if (!/^a=ice-ufrag:/m.test(sdp) || !/^a=ice-pwd:/m.test(sdp)) return 'ICE credentials missing'
  if (!/^a=fingerprint:/m.test(sdp)) return 'DTLS fingerprint missing'
  return null
}

export interface PeerOptions {
  /** Host addresses announced as candidates (PUBLIC_IP first), the peer's window of the RTC port range, ICE-TCP. */
  hosts: string[]
  portRange: [number, number]
  iceTcp: boolean
  log: Logger
  /** The participant's place in the room's router, given the SSRCs of the peer's K slots. */
  join(ssrcs: readonly number[]): Endpoint
  /** Never connected within CONNECT_TIMEOUT_MS, or failed/disconnected for FAILED_TIMEOUT_MS: the owner closes it. */
  expired(peer: SignallingPeer): void
}

/** One participant's WebRTC connection, offered by the server. */
export class SignallingPeer {
  private readonly pc: RTCPeerConnection
  private readonly endpoint: Endpoint
  private closed = false
  /** An ICE restart was offered: its answer starts the ICE checks again. */
  private restarting = false
  /** The connect or failed timeout, while one runs. */
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    readonly key: ParticipantKey,
    readonly port: number,
    private readonly opts: PeerOptions,
  ) {
    const pc = new RTCPeerConnection({
      codecs: {
        audio: [
          new RTCRtpCodecParameters({
            mimeType: 'audio/opus',
            clockRate: 48000,
            channels: 2,
            payloadType: OPUS_PT,
            parameters: OPUS_FMTP,
          }),
        ],
      },
      headerExtensions: {
        audio: [
          new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.sdesMid }),
          new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.audioLevelIndication }),
        ],
      },
      iceUseIpv4: false,
      iceUseIpv6: false,
      iceAdditionalHostAddresses: opts.hosts,
      icePortRange: opts.portRange,
      iceUseTcp: opts.iceTcp,
      bundlePolicy: 'max-bundle',
      iceServers: [],
    })
    const uplink = pc.addTransceiver('audio', { direction: 'recvonly' })
    const slots: RTCRtpTransceiver[] = []
    for (let i = 0; i < K_SLOTS; i++) slots.push(pc.addTransceiver('audio', { direction: 'sendonly' }))
    withoutDefaultStun(pc as any)
    this.pc = pc
    this.endpoint = opts.join(slots.map((tr) => tr.sender.ssrc))
    this.timer = setTimeout(() => opts.expired(this), CONNECT_TIMEOUT_MS)

    const endpoint = this.endpoint
    uplink.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => endpoint.receive(rtp))
    })
    // The listener's RTCP receiver reports on its slots (werift routes them to the slot's sender by SSRC).
    // A packet with several report blocks reaches each slot's sender: each reads its own block.
    for (const tr of slots) {
      const ssrc = tr.sender.ssrc
      tr.sender.onRtcp.subscribe((rtcp) => {
        if (rtcp.type !== RtcpRrPacket.type && rtcp.type !== RtcpSrPacket.type) return
        for (const r of (rtcp as RtcpRrPacket).reports)
          if (r.ssrc === ssrc) endpoint.receiverReport(ssrc, r.fractionLost / 256, r.jitter)
      })
    }
    pc.connectionStateChange.subscribe((state) => {
      if (this.closed) return
      if (state === 'connected') {
        const senders = slots.map((tr) => tr.sender)
        const payloadTypes = senders.map((s) => s.codec?.payloadType ?? OPUS_PT)
        endpoint.connect(new WeriftDownlink(senders[0]!.dtlsTransport, senders), payloadTypes)
        this.clearTimer()
      } else {
        if (state === 'failed' || state === 'closed') endpoint.disconnect()
        if ((state === 'failed' || state === 'disconnected') && !this.timer) {
          this.timer = setTimeout(() => opts.expired(this), FAILED_TIMEOUT_MS)
        }
      }
    })
  }

  get isClosed() {
    return this.closed
  }
  /** Whether a connect or failed timeout runs (for the media service's count of what it holds). */
  get hasTimer() {
    return this.timer !== null
  }

  /** A first offer; returns its SDP. */
  async offer(): Promise<string> {
    await this.makeOffer(false)
    return this.pc.localDescription!.sdp
  }

  /** A network change: a new offer with fresh ICE credentials on the same peer (no new tracks, same slots). */
  async restart(): Promise<string> {
    await this.makeOffer(true)
    this.restarting = true
    return this.pc.localDescription!.sdp
  }

  /** Applies the participant's answer to the offer waiting for one. */
  async answer(sdp: string) {
    const pc = this.pc
    if (pc.signalingState !== 'have-local-offer') fail('media_no_offer')
    const problem = answerProblem(sdp)
    if (problem) fail('validation', `sdp: ${problem}`)
    try {
      await pc.setRemoteDescription({ type: 'answer', sdp })
    } catch (e) {
      fail('validation', `sdp: the answer could not be applied (${String((e as Error)?.message ?? e).slice(0, 120)})`)
    }
    if (this.restarting) {
      this.restarting = false
      // werift skips the ICE checks when DTLS is already up, so after an ICE restart the offerer has to start them.
      for (const d of pc.dtlsTransports) {
        const ice = d.iceTransport
        if (ice.state !== 'closed' && !ice.connection.nominated) ice.start().catch(() => {})
      }
    }
    for (const [id, uri] of Object.entries(pc.extIdUriMap)) {
      if (uri === RTP_EXTENSION_URI.audioLevelIndication) this.endpoint.setLevelExtension(Number(id))
    }
  }

  /** Stops the timers and closes the connection; resolves when werift has closed its sockets. */
  close(): Promise<void> {
    this.closed = true
    this.endpoint.disconnect()
    this.clearTimer()
    return this.pc.close()
  }

  /** Creates and applies an offer (with ICE restart: after dropping an unanswered one); closed meanwhile: conflict. */
  private async makeOffer(iceRestart: boolean) {
    const pc = this.pc
    try {
      if (iceRestart && pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' })
      await pc.setLocalDescription(await pc.createOffer({ iceRestart }))
    } catch (e) {
      if (!this.closed) throw e
    }
    if (this.closed) fail('media_peer_closed')
    this.guardSockets()
  }

  /**
   * werift's UDP sockets have no 'error' listener, and an unheard dgram error (e.g. recvmsg ECONNREFUSED after an
   * ICMP port-unreachable from a peer that went away) is thrown as an uncaught exception: log it instead.
   */
  private guardSockets() {
    for (const t of this.pc.iceTransports) {
      for (const protocol of (t.connection as any).protocols ?? []) {
        const sock = protocol.transport?.socket
        if (!sock || typeof sock.on !== 'function' || sock.__townhallGuard) continue
        sock.__townhallGuard = true
        sock.on('error', (error: Error) => {
          this.opts.log.debug('media: socket error', { key: this.key, error: error.message })
        })
      }
    }
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
