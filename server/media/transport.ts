// werift's side of a listener's downlink: the SRTP keys of its DTLS transport and the selected ICE pair, written to
// directly (Bun's native UDP handle under werift's socket), bypassing werift's RTCRtpSender, which clones and
// re-parses every packet. This is the one file that reads werift's internals on the per-packet path; a transport of
// our own (one UDP socket for every peer) would be another `Downlink`.
import { RtpHeader, RtpPacket, type RTCDtlsTransport, type RTCRtpSender } from 'werift'
import type { Downlink } from './router'
import { SrtpWriter } from './srtp'

type UdpSend = { send(b: Buffer, port: number, ip: string): unknown }

/**
 * The fastest way to write to a node:dgram socket of werift's: Bun's native UDP handle under it when present
 * (synchronous, no per-packet address lookup), else the dgram socket itself.
 */
function udpSender(sock: any): UdpSend {
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol')
  const native = sym ? sock[sym]?.handle?.socket : null
  return native && typeof native.send === 'function' ? native : sock
}

/** A connected listener's downlink over werift's DTLS transport (read once connected; keys and path followed). */
export class WeriftDownlink implements Downlink {
  /** werift's ICE connection (its nominated pair changes on an ICE restart). */
  private readonly ice: any
  /** The SRTP writer for werift's current session (rebuilt if the session object changes). */
  private srtp: unknown = null
  private writer: SrtpWriter | null = null
  /** The selected ICE pair and, for UDP, its socket and remote address (sent to directly). */
  private pair: any = null
  private udp: UdpSend | null = null
  private ip = ''
  private port = 0

  constructor(
    private readonly dtls: RTCDtlsTransport,
    private readonly senders: readonly RTCRtpSender[],
  ) {
    this.ice = dtls.iceTransport.connection
  }

  open(): SrtpWriter | null {
    const srtp = this.dtls.srtp
    if (srtp !== this.srtp) {
      this.srtp = srtp
      this.writer = SrtpWriter.fromWerift(srtp)
    }
    const writer = this.writer
    if (!writer) return null
    const ice = this.ice
    const pair = ice.nominated
    if (!pair || !ice.canSendApplicationData()) return null
    if (pair !== this.pair) {
      this.pair = pair
      const t = pair.protocol?.transport
      this.udp = t && (t.socketType === 'udp4' || t.socketType === 'udp6') && !t.closed ? udpSender(t.socket) : null
      this.ip = pair.remoteAddr[0]
      this.port = pair.remoteAddr[1]
    }
    return writer
  }

  send(packet: Buffer) {
    const pair = this.pair
    if (this.udp) this.udp.send(packet, this.port, this.ip)
    else pair.protocol.sendData(packet, pair.remoteAddr).catch(() => {})
    pair.packetsSent++
    pair.bytesSent += packet.length
  }

  /** werift's sockets send at once: nothing is queued. */
  flush() {}

  sendStock(slot: number, pt: number, seq: number, ts: number, marker: boolean, ssrc: number, payload: Buffer) {
    const h = new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: ts, marker, ssrc })
    this.senders[slot]!.sendRtp(new RtpPacket(h, payload)).catch(() => {})
  }
}
