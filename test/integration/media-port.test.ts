// The media plane's one socket (issue 14, parts 1 and 3): ICE-lite on RTC_PORT bound to HOST, the RFC 7983 demux
// by first byte and source address, STUN checks (401 on a wrong password), DTLS answered from the first ClientHello,
// a client whose address changes keeps its audio, and ICE over TCP. werift bots do full ICE as clients; a raw UDP
// socket plays the stranger. Socket counts are of this process's own sockets (/proc, helpers/sockets.ts).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { udp } from 'bun'
import { startTestServer, type TestServer } from '../helpers/server'
import { Bot, until } from '../helpers/bot'
import { serverSockets, udpBindings } from '../helpers/sockets'
import type { MediaService } from '../../server/media/service'
import { bindingRequest, replyKind } from '../../server/media/stun'
import { DtlsClient, ProtectionProfileAeadAes128Gcm, RTCDtlsTransport } from 'werift'
import { createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT } from '../helpers/limits'
import { reservePorts } from '../helpers/ports'

setDefaultTimeout(TEST_LIMIT)

// The file's own block of port numbers (test/helpers/ports.ts): the test's range, then the servers' RTC ports.
const ports = await reservePorts()
/** The test's range: nothing of the server's is in it. Bots bind in its first part, raw sockets and relays after. */
const MINE = ports.range(0, 999)
const BOTS = ports.range(0, 799)
let nextRaw = ports.at(800)
const RTC_PORT = ports.at(1710)
let s: TestServer
let media: MediaService
const bots: Bot[] = []
const members: Member[] = []
const sockets: udp.Socket<'buffer'>[] = []

beforeAll(async () => {
  Bot.portRange = BOTS
  s = await startTestServer({ RTC_PORT: String(RTC_PORT), ROOM_GRACE_MS: '500' })
  media = s.ctx.media.service
})
afterAll(async () => {
  for (const b of bots) await b.close().catch(() => {})
  for (const m of members) m.ws.close()
  for (const u of sockets) u.close()
  await s.stop()
  Bot.portRange = undefined
  await ports.release()
})

async function person(tag: string, server = s) {
  const m = await member(server, tag.toLowerCase())
  members.push(m)
  const bot = new Bot(m.ws, tag)
  bots.push(bot)
  return Object.assign(m, { bot })
}
type Person = Awaited<ReturnType<typeof person>>

/** A live room whose host speaks; the others join as audience. Audio is connected by the caller. */
async function liveRoom(host: Person, others: Person[]) {
  const room = await createRoom(host)
  await ok(host, 'room.join', { roomId: room.id })
  await ok(host, 'room.mute', { roomId: room.id, muted: false })
  for (const p of others) await ok(p, 'room.join', { roomId: room.id })
  return room.id
}

/** Every UDP socket of this process outside the test's own range: the server's, on whatever port. */
const serverUdp = () => serverSockets('udp', (port) => port < MINE[0] || port > MINE[1])

/** A raw UDP socket of the test's (a stranger, or one side of a relay), with what it received. */
async function rawSocket(onData?: (data: Buffer, port: number, address: string) => void) {
  const got: Buffer[] = []
  const u = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: nextRaw++,
    socket: {
      data: (_s, data, port, address) => {
        got.push(Buffer.from(data))
        onData?.(Buffer.from(data), port, address)
      },
    },
  })
  sockets.push(u)
  return { u, got }
}

/**
 * A UDP relay between a bot and the server that can change the address the server sees (a NAT rebinding): the bot
 * talks to `front`; the server sees `outer`, which `rebind()` replaces by a socket on another port.
 */
async function relay() {
  let bot: [string, number] | null = null
  let outer: udp.Socket<'buffer'>
  const open = async () => {
    outer = (await rawSocket((d) => bot && front.u.send(d, bot[1], bot[0]))).u
  }
  const front = await rawSocket((d, port, address) => {
    bot = [address, port]
    outer.send(d, RTC_PORT, '127.0.0.1')
  })
  await open()
  return {
    port: front.u.port,
    /** Points an offer's UDP candidate at the relay. */
    filter: (sdp: string) => sdp.replaceAll(` 127.0.0.1 ${RTC_PORT} typ host`, ` 127.0.0.1 ${front.u.port} typ host`),
    get outerPort() {
      return outer.port
    },
    async rebind() {
      const old = outer
      await open()
      old.close()
    },
  }
}

describe('[M30] one UDP socket for all media', () => {
  const oneSocket =
    '[M30] the server holds exactly one UDP socket, on RTC_PORT and bound to HOST, whatever the peers; ' +
    '[M39] SRTP in and out; [M55] a fan-out leaves in one sendmmsg'
  test(oneSocket, async () => {
    expect(serverUdp()).toBe(1)
    expect(udpBindings(RTC_PORT)).toEqual(['127.0.0.1'])
    const host = await person('S0')
    const listeners = await Promise.all(['S1', 'S2', 'S3', 'S4', 'S5'].map((t) => person(t)))
    const roomId = await liveRoom(host, listeners)
    await host.bot.connectAudio(roomId)
    expect(serverUdp()).toBe(1)
    for (const l of listeners) await l.bot.connectAudio(roomId)
    const before = (await media.rtcStats())!
    host.bot.speak(20)
    for (const l of listeners) await until(() => l.bot.received.length > 5, `${l.bot.tag} hears the host`)
    // Each packet of the host goes to its five listeners in one system call (a STUN answer goes alone in its turn).
    const after = (await media.rtcStats())!
    const perCall = (after.datagramsSent - before.datagramsSent) / (after.sendCalls - before.sendCalls)
    expect(perCall).toBeGreaterThan(2)
    expect(media.stats().peers).toBe(6)
    expect(serverUdp()).toBe(1)
    expect(udpBindings(RTC_PORT)).toEqual(['127.0.0.1'])
    // [M36] every client's first ClientHello was answered: none had to be sent again.
    expect((await media.transportsDebug(roomId)).map((t) => t.firstClientHellos)).toEqual([1, 1, 1, 1, 1, 1])
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
    await until(() => media.stats().peers === 0, 'peers closed')
    expect(serverUdp()).toBe(1)
  })

  test('[M30] a second server on the same RTC_PORT does not start, and says why', async () => {
    let error = ''
    await startTestServer({ RTC_PORT: String(RTC_PORT) }).then(
      (t) => t.stop(),
      (e) => {
        error = (e as Error).message
      },
    )
    expect(error).toContain(`RTC_PORT 127.0.0.1:${RTC_PORT}/udp`)
    expect(serverUdp()).toBe(1)
  })

  test('[M31] the offer is ICE-lite with one host candidate on RTC_PORT, not trickled', async () => {
    const host = await person('L0')
    const roomId = await liveRoom(host, [])
    const r = await ok(host, 'rtc.connect', { roomId })
    expect(r.sdp).toMatch(/^a=ice-lite$/m)
    const candidates = [...new Set(r.sdp.match(/^a=candidate:.*$/gm))]
    expect(candidates).toHaveLength(1)
    expect(candidates[0]).toMatch(new RegExp(` udp \\d+ 127\\.0\\.0\\.1 ${RTC_PORT} typ host$`))
    expect(r.sdp).toContain('a=end-of-candidates')
    expect(r.sdp).not.toContain('trickle')
    expect(r.sdp).toMatch(/^a=setup:actpass$/m)
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M32] demultiplexing', () => {
  const strangers =
    '[M32] a datagram from an unknown address that is not a valid binding request is dropped; ' +
    '[M33] a wrong password gets 401 and creates nothing'
  test(strangers, async () => {
    const host = await person('D0')
    const roomId = await liveRoom(host, [])
    const r = await ok(host, 'rtc.connect', { roomId })
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(r.sdp)![1]!
    const pwd = /^a=ice-pwd:(\S+)/m.exec(r.sdp)![1]!
    const { u, got } = await rawSocket()
    const rtc = async () => (await media.rtcStats())!
    const before = await rtc()
    const rtp = Buffer.alloc(60, 0x11)
    rtp[0] = 0x80
    rtp[1] = 111
    const dtls = Buffer.alloc(60, 0x22)
    dtls[0] = 22
    const stunNoAuth = bindingRequest(`${ufrag}:stranger`, pwd).subarray(0, 20) // a bare header: no attributes
    stunNoAuth.writeUInt16BE(0, 2)
    for (const d of [rtp, dtls, Buffer.from('hello'), stunNoAuth]) u.send(d, RTC_PORT, '127.0.0.1')
    await until(async () => (await rtc()).dropped >= before.dropped + 4, '4 datagrams dropped')
    expect(got).toHaveLength(0)

    // A well-formed check with the wrong password: 401, and the peer learns nothing.
    u.send(bindingRequest(`${ufrag}:stranger`, 'not-the-password-at-all'), RTC_PORT, '127.0.0.1')
    await until(() => got.length === 1, 'a reply to the check')
    expect(replyKind(got[0]!)).toEqual({ type: 0x0111, error: 401 })
    expect((await rtc()).peers).toBe(before.peers)
    expect((await rtc()).unauthorized).toBeGreaterThan(before.unauthorized)
    expect(await media.transportsDebug(roomId)).toMatchObject([{ remote: null, connected: false }])
    // An unknown ufrag: 401 too.
    u.send(bindingRequest('nobody:stranger', pwd), RTC_PORT, '127.0.0.1')
    await until(() => got.length === 2, 'a reply to the second check')
    expect(replyKind(got[1]!)).toEqual({ type: 0x0111, error: 401 })
    // Still a stranger: its media is dropped (not given to the peer).
    const dropped = (await rtc()).dropped
    u.send(rtp, RTC_PORT, '127.0.0.1')
    await until(async () => (await rtc()).dropped > dropped, 'the stranger dropped again')
    expect(await media.transportsDebug(roomId)).toMatchObject([{ packetsIn: 0 }])

    // The right password: a success reply, and this address is now the peer's.
    u.send(bindingRequest(`${ufrag}:stranger`, pwd, { useCandidate: true }), RTC_PORT, '127.0.0.1')
    await until(() => got.length === 3, 'a reply to the valid check')
    expect(replyKind(got[2]!)).toEqual({ type: 0x0101, error: null })
    expect(await media.transportsDebug(roomId)).toMatchObject([{ remote: `127.0.0.1:${u.port}`, path: 'udp' }])
    u.send(rtp, RTC_PORT, '127.0.0.1') // now the peer's (not decryptable: ignored by it)
    u.send(bindingRequest(`${ufrag}:stranger`, pwd), RTC_PORT, '127.0.0.1')
    await until(() => got.length === 4, 'a reply to the next check')
    expect(await media.transportsDebug(roomId)).toMatchObject([{ packetsIn: 2 }])
    await ok(host, 'room.end', { roomId })
  })

  test('[M34] a listener whose address changes keeps its audio (NAT rebinding, then [M37] ICE restart)', async () => {
    const host = await person('R0'),
      l = await person('R1')
    const roomId = await liveRoom(host, [l])
    const r = await relay()
    l.bot.offerFilter = r.filter
    await host.bot.connectAudio(roomId)
    await l.bot.connectAudio(roomId)
    host.bot.speak(20)
    await until(() => l.bot.received.length > 10, 'audio through the relay')
    const remote = async () => (await await media.transportsDebug(roomId)).map((t) => t.remote)
    expect(await remote()).toContain(`127.0.0.1:${r.outerPort}`)
    const ssrc = l.bot.received.at(-1)!.ssrc

    // NAT rebinding: the server sees the listener on a new port; its next consent check moves the audio there.
    await r.rebind()
    let n = l.bot.received.length
    await until(async () => (await remote()).includes(`127.0.0.1:${r.outerPort}`), 'the new address')
    await until(() => l.bot.received.length > n + 10, 'audio after the rebinding')

    // Again, then an ICE restart right away: its nominating check moves the audio at once.
    await r.rebind()
    await l.bot.restart()
    n = l.bot.received.length
    await until(async () => (await remote()).includes(`127.0.0.1:${r.outerPort}`), 'the restarted address')
    await until(() => l.bot.received.length > n + 10, 'audio after the restart')
    expect(l.bot.received.at(-1)!.ssrc).toBe(ssrc)
    expect(media.stats().peers).toBe(2)
    host.bot.silence()
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M36] DTLS at once', () => {
  /**
   * A minimal client: a raw socket, one Binding request without USE-CANDIDATE, then werift's DTLS client at once,
   * and the answer (our fingerprint, a=setup:active) over the WebSocket meanwhile, as a browser's would. `tamper`
   * sees every DTLS datagram the client sends and may send more.
   */
  async function rawDtlsClient(tag: string, tamper?: (b: Buffer, send: (b: Buffer) => void) => void) {
    const host = await person(tag)
    const roomId = await liveRoom(host, [])
    const r = await ok(host, 'rtc.connect', { roomId })
    const ufrag = /^a=ice-ufrag:(\S+)/m.exec(r.sdp)![1]!
    const pwd = /^a=ice-pwd:(\S+)/m.exec(r.sdp)![1]!
    const cert = await RTCDtlsTransport.SetupCertificate()
    const toServer = (b: Buffer) => void u.send(b, RTC_PORT, '127.0.0.1')
    const transport = {
      type: 'udp',
      closed: false,
      onData: (_b: Buffer) => {},
      send: async (b: Buffer) => (tamper ? tamper(b, toServer) : toServer(b)),
      close: async () => {},
      address: {},
    }
    const stun: Buffer[] = []
    const { u } = await rawSocket((d) => (d[0]! >= 20 && d[0]! <= 63 ? transport.onData(d) : stun.push(d)))
    u.send(bindingRequest(`${ufrag}:raw1`, pwd), RTC_PORT, '127.0.0.1')
    await until(() => stun.length === 1, 'the check answered')
    expect(replyKind(stun[0]!)).toEqual({ type: 0x0101, error: null })
    const dtls = new DtlsClient({
      cert: cert.certPem,
      key: cert.privateKey,
      signatureHash: cert.signatureHash,
      transport: transport as any,
      srtpProfiles: [ProtectionProfileAeadAes128Gcm],
      extendedMasterSecret: true,
    })
    const state = { connected: false }
    dtls.onConnect.once(() => {
      state.connected = true
    })
    dtls.connect().catch(() => {})
    const answer = r.sdp
      .replace(/^a=ice-lite\r\n/m, '')
      .replaceAll(`a=ice-ufrag:${ufrag}`, 'a=ice-ufrag:raw1')
      .replaceAll(`a=ice-pwd:${pwd}`, 'a=ice-pwd:rawrawrawrawrawrawrawraw')
      .replaceAll('a=setup:actpass', 'a=setup:active')
      .replaceAll(/^a=fingerprint:.*$/gm, `a=fingerprint:sha-256 ${cert.getFingerprints()[0]!.value}`)
    await ok(host, 'rtc.answer', { roomId, sdp: answer })
    return { host, roomId, dtls, state, port: u.port }
  }

  const atOnce = '[M36] a client that sends its ClientHello right after its first check (no nomination) is answered'
  test(atOnce, async () => {
    const c = await rawDtlsClient('F0')
    await until(() => c.state.connected, 'the DTLS handshake done')
    await until(
      async () => (await media.transportsDebug(c.roomId))[0]?.connected === true,
      'the server side connected (SRTP keys)',
    )
    expect(await media.transportsDebug(c.roomId)).toMatchObject([
      { firstClientHellos: 1, remote: `127.0.0.1:${c.port}` },
    ])
    c.dtls.close()
    await ok(c.host, 'room.end', { roomId: c.roomId })
  })

  const lateHello = '[M36] a late duplicate of the first ClientHello (after the one with the cookie) breaks nothing'
  test(lateHello, async () => {
    let first: Buffer | null = null
    const isHello = (b: Buffer, seq: number) => b[0] === 22 && b[13] === 1 && b.readUInt16BE(17) === seq
    const c = await rawDtlsClient('F1', (b, send) => {
      if (isHello(b, 0)) first ??= Buffer.from(b)
      send(b)
      // A slow network (or a slow server loop) delivers the retransmitted first ClientHello after the second.
      if (isHello(b, 1) && first) send(first)
    })
    await until(() => c.state.connected, 'the DTLS handshake done')
    await until(
      async () => (await media.transportsDebug(c.roomId))[0]?.connected === true,
      'the server side connected (SRTP keys)',
    )
    expect((await media.transportsDebug(c.roomId))[0]!.firstClientHellos).toBeGreaterThanOrEqual(2)
    c.dtls.close()
    await ok(c.host, 'room.end', { roomId: c.roomId })
  })
})

describe('[M35] expiry', () => {
  test('[M35] a peer whose ICE checks stop is expired after 30 s; the others keep theirs', async () => {
    const host = await person('E0'),
      l = await person('E1')
    const roomId = await liveRoom(host, [l])
    await host.bot.connectAudio(roomId)
    await l.bot.connectAudio(roomId)
    expect(media.stats().peers).toBe(2)
    // The listener's client goes away without a word (werift sends no DTLS alert): only its checks stop.
    await l.bot.closeAudio()
    await until(() => media.stats().peers === 1, 'the silent peer expired', 60_000)
    expect(await media.transportsDebug(roomId)).toMatchObject([{ connected: true }])
    await ok(host, 'room.end', { roomId })
  })
})

describe('[M38] ICE over TCP', () => {
  const tcpOnly =
    '[M38] a client without UDP hears a speaker over ICE-TCP (RFC 6544 passive candidate, RFC 4571 framing)'
  test(tcpOnly, async () => {
    const t = await startTestServer({ RTC_PORT: String(ports.at(1720)), ICE_TCP: 'true' })
    const mine: Bot[] = []
    try {
      const host = await person('T0', t),
        l = await person('T1', t)
      mine.push(host.bot, l.bot)
      const roomId = await liveRoom(host, [l])
      const r = await host.bot.connectAudio(roomId)
      const tcp = ` 1 tcp \\d+ 127\\.0\\.0\\.1 ${ports.at(1721)} typ host tcptype passive$`
      expect(r.sdp).toMatch(new RegExp(`^a=candidate:\\S+${tcp}`, 'm'))
      l.bot.tcpOnly = true
      await l.bot.connectAudio(roomId)
      host.bot.speak(20)
      await until(() => l.bot.received.some((p) => p.from === 'T0'), 'the TCP listener hears the host')
      const paths = (await t.ctx.media.service.transportsDebug(roomId)).map((x) => x.path)
      expect(paths.sort()).toEqual(['tcp', 'udp'])
      expect((await t.ctx.media.service.rtcStats())!.tcpConnections).toBeGreaterThanOrEqual(1)
      host.bot.silence()
    } finally {
      for (const b of mine) await b.close().catch(() => {})
      await t.stop()
    }
  })
})
