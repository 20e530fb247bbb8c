// A werift bot: a room participant with a WebSocket and a real WebRTC peer that answers the server's offer like a
// browser does (uplink sendonly, three downlink slots), sends synthesised Opus RTP with an RFC 6464 audio level,
// and records every packet it receives per slot. The payload names the speaker, so tests can tell who is heard.
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  RtpHeader,
  RtpPacket,
  RTP_EXTENSION_URI,
  type RTCRtpTransceiver,
} from 'werift'
import { connectWs, type WsClient } from './ws'
import { WAIT } from './limits'
import { withoutDefaultStun } from '../../server/media/ice'
import { useNativeKeyExchange } from '../../server/media/dtls-crypto'

// The bots' werift DTLS (the client side) does its key exchange in OpenSSL too, as the server's does: a benchmark's
// hundreds of bots in one process would otherwise spend more CPU on their handshakes than the server on its own.
useNativeKeyExchange()

export interface Received {
  mid: string
  ssrc: number
  seq: number
  ts: number
  marker: boolean
  from: string
  at: number
}

/** Payload: "TH" + speaker tag + filler, about the size of a 20 ms Opus frame of speech. */
function payloadFor(tag: string, size = 60): Buffer {
  const b = Buffer.alloc(Math.max(size, tag.length + 3), 0x55)
  b.write('TH', 0)
  b[2] = tag.length
  b.write(tag, 3)
  return b
}
function tagOf(payload: Buffer): string {
  if (payload.length < 3 || payload.toString('latin1', 0, 2) !== 'TH') return '?'
  return payload.toString('latin1', 3, 3 + payload[2]!)
}

export class Bot {
  pc: RTCPeerConnection | null = null
  uplink: RTCRtpTransceiver | null = null
  received: Received[] = []
  /** Packets counted without keeping them (benchmarks). */
  count = 0
  keep = true
  private sender: ReturnType<typeof setInterval> | null = null
  private seq = Math.floor(Math.random() * 65535)
  private ts = Math.floor(Math.random() * 2 ** 31)
  private levelId = 0
  roomId = 0

  /**
   * Where bots bind their UDP sockets. Unset: an ephemeral port, which may land inside a server's RTC range; a test
   * that counts the server's sockets in its range sets a range of its own here.
   */
  static portRange: [number, number] | undefined

  /** Applied to every offer before it is set (tests: point the bot at a relay, e.g. to change its address). */
  offerFilter: ((sdp: string) => string) | null = null
  /** ICE over TCP only: the bot gathers no UDP candidate and pairs only with the server's TCP candidate. */
  tcpOnly = false

  constructor(
    readonly ws: WsClient,
    readonly tag: string,
  ) {}

  static async connect(url: string, opts: { cookie?: string; origin?: string }, tag: string) {
    const ws = await connectWs(url, opts)
    return new Bot(ws, tag)
  }

  /** rtc.connect → answer → waits until the peer is connected. */
  async connectAudio(roomId: number, timeout = WAIT) {
    this.roomId = roomId
    const r = await this.ws.request('rtc.connect', { roomId }, timeout)
    if (!r.ok) throw new Error(`rtc.connect: ${r.error.code} ${r.error.message}`)
    const pc = new RTCPeerConnection({
      codecs: {
        audio: [
          new RTCRtpCodecParameters({
            mimeType: 'audio/opus',
            clockRate: 48000,
            channels: 2,
            parameters: 'minptime=10;useinbandfec=1;usedtx=1',
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
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceServers: [],
      ...(Bot.portRange ? { icePortRange: Bot.portRange } : {}),
      ...(this.tcpOnly
        ? { iceUseTcp: true, iceTcpPassive: false, iceFilterCandidatePair: (p: any) => p.protocol.type === 'tcp' }
        : {}),
    })
    this.pc = pc
    pc.onTransceiverAdded.subscribe((tr) => this.watch(tr))
    await pc.setRemoteDescription({ type: 'offer', sdp: this.offerFilter ? this.offerFilter(r.sdp) : r.sdp })
    withoutDefaultStun(pc as any) // loopback only: no third-party STUN query while gathering
    for (const tr of pc.getTransceivers()) {
      if (tr.mid === '0') {
        tr.setDirection('sendonly')
        this.uplink = tr
      }
      this.watch(tr)
    }
    await this.answer(timeout)
    return r
  }

  private watched = new Set<RTCRtpTransceiver>()
  private watch(tr: RTCRtpTransceiver) {
    if (this.watched.has(tr)) return
    this.watched.add(tr)
    tr.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.count++
        if (!this.keep) return
        const h = rtp.header
        this.received.push({
          mid: tr.mid ?? '?',
          ssrc: h.ssrc,
          seq: h.sequenceNumber,
          ts: h.timestamp,
          marker: h.marker,
          from: tagOf(rtp.payload),
          at: Date.now(),
        })
      })
    })
  }

  private async answer(timeout: number) {
    const pc = this.pc!
    const answer = await pc.createAnswer()
    await pc.setLocalDescription(answer)
    for (const [id, uri] of Object.entries(pc.extIdUriMap))
      if (uri === RTP_EXTENSION_URI.audioLevelIndication) this.levelId = Number(id)
    const a = await this.ws.request('rtc.answer', { roomId: this.roomId, sdp: pc.localDescription!.sdp }, timeout)
    if (!a.ok) throw new Error(`rtc.answer: ${a.error.code} ${a.error.message}`)
    await this.connected(timeout)
  }

  /**
   * For benchmarks: stop werift's SRTP processing of what arrives and only count the RTP datagrams (an SRTP packet
   * keeps its RTP header in the clear), so that hundreds of listeners fit in one process beside the server.
   */
  countRawOnly() {
    const conn = (this.pc as any).iceTransports[0].connection
    conn.onData.allUnsubscribe()
    conn.onData.subscribe((d: Buffer) => {
      const pt = d.length > 12 ? d[1]! & 0x7f : 0
      if (d[0]! >> 6 === 2 && (pt < 64 || pt > 95)) this.count++ // RTP, not RTCP (RFC 5761)
    })
  }

  /** rtc.restart: a new offer with ICE restart, answered; resolves when connected again. */
  async restart(timeout = WAIT) {
    const r = await this.ws.request('rtc.restart', { roomId: this.roomId }, timeout)
    if (!r.ok) throw new Error(`rtc.restart: ${r.error.code} ${r.error.message}`)
    const sdp = this.offerFilter ? this.offerFilter(r.sdp) : r.sdp
    const pc = this.pc!
    await pc.setRemoteDescription({ type: 'offer', sdp })
    await this.answer(timeout)
    // The server is ICE-lite: the checks after a restart are ours to run, and werift skips them while DTLS is up.
    for (const d of (pc as any).dtlsTransports) {
      const ice = d.iceTransport
      if (ice.state !== 'closed' && !ice.connection.nominated) ice.start().catch(() => {})
    }
    return r
  }

  connected(timeout = WAIT) {
    const pc = this.pc!
    if (pc.connectionState === 'connected') return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        sub.unSubscribe()
        const dtls = (pc as any).dtlsTransports?.[0]
        const ice = dtls?.iceTransport
        const detail = `${pc.connectionState}; ice ${ice?.state ?? '?'}, dtls ${dtls?.state ?? '?'}`
        reject(new Error(`bot ${this.tag}: not connected within ${timeout} ms (${detail})`))
      }, timeout)
      const sub = pc.connectionStateChange.subscribe((s) => {
        if (s === 'connected') {
          clearTimeout(t)
          sub.unSubscribe()
          resolve()
        }
      })
    })
  }

  /** Sends one synthesised Opus packet with the given level (-dBov, 0 loudest … 127 silence). */
  sendPacket(dbov: number, size = 60, payload?: Buffer) {
    const tr = this.uplink
    if (!tr) throw new Error('no uplink')
    this.seq = (this.seq + 1) & 0xffff
    this.ts = (this.ts + 960) >>> 0
    const extensions = this.levelId ? [{ id: this.levelId, payload: Buffer.from([0x80 | (dbov & 0x7f)]) }] : []
    const header = new RtpHeader({
      payloadType: 111,
      sequenceNumber: this.seq,
      timestamp: this.ts,
      extensions,
      marker: false,
    })
    return tr.sender.sendRtp(new RtpPacket(header, payload ?? payloadFor(this.tag, size)))
  }

  /**
   * Sings: real Opus (the server's own codec, server/replays/opus.ts), a steady sine of `freq` Hz, one 20 ms frame
   * every 20 ms (replays' tests find each speaker's tone in the mix).
   */
  async sing(freq: number, dbov = 20) {
    this.silence()
    const { OpusEncoder } = await import('../../server/replays/opus')
    const enc = new OpusEncoder(32_000, 2)
    let n = 0
    const timer = setInterval(() => {
      const pcm = new Int16Array(960)
      for (let k = 0; k < 960; k++) pcm[k] = Math.round(8000 * Math.sin((2 * Math.PI * freq * (n * 960 + k)) / 48_000))
      n++
      this.sendPacket(dbov, 0, Buffer.from(enc.encode(pcm))).catch(() => {})
    }, 20)
    this.sender = timer
    this.stopSinging = () => enc.free()
  }
  private stopSinging: (() => void) | null = null

  /** Talks: one packet every 20 ms at a steady level. */
  speak(dbov: number, everyMs = 20) {
    this.silence()
    this.sender = setInterval(() => {
      this.sendPacket(dbov).catch(() => {})
    }, everyMs)
  }

  silence() {
    if (this.sender) clearInterval(this.sender)
    this.sender = null
    this.stopSinging?.()
    this.stopSinging = null
  }

  /** Who was heard since `since` (ms epoch), by tag. */
  heardFrom(since = 0): Set<string> {
    return new Set(this.received.filter((r) => r.at >= since).map((r) => r.from))
  }

  async closeAudio() {
    this.silence()
    const pc = this.pc
    this.pc = null
    this.uplink = null
    this.watched.clear()
    if (pc) await pc.close()
  }

  async close() {
    await this.closeAudio()
    this.ws.close()
  }
}

export { until } from './limits'

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
