// The ICE-lite server's STUN (server/media/stun.ts) and the offer it writes (signalling.ts), without sockets.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import {
  bindingRequest,
  bindingSuccess,
  bindingUnauthorized,
  integrityOk,
  isStun,
  parseBindingRequest,
  replyKind,
} from '../../server/media/stun'
import { buildOffer, readAnswer } from '../../server/media/signalling'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

describe('[M33] Binding requests', () => {
  test('[M33] a request with the right password checks; a wrong password or a damaged FINGERPRINT does not', () => {
    const req = bindingRequest('srv1:cli1', 'the-password-of-the-peer', { useCandidate: true })
    expect(isStun(req)).toBe(true)
    const parsed = parseBindingRequest(req)!
    expect(parsed.username).toBe('srv1:cli1')
    expect(parsed.useCandidate).toBe(true)
    expect(integrityOk(parsed, 'the-password-of-the-peer')).toBe(true)
    expect(integrityOk(parsed, 'another-password-entirely')).toBe(false)
    const damaged = Buffer.from(req)
    damaged[24] = damaged[24]! ^ 1 // inside USERNAME: the FINGERPRINT no longer matches
    expect(parseBindingRequest(damaged)).toBeNull()
    expect(parseBindingRequest(req.subarray(0, req.length - 8))).toBeNull() // no FINGERPRINT: not valid
    expect(parseBindingRequest(Buffer.from([0x80, 0x6f, 0, 0]))).toBeNull()
  })

  test('[M33] replies: success carries the address and checks with our password; 401 names the error', () => {
    const req = parseBindingRequest(bindingRequest('a:b', 'pw-pw-pw-pw-pw-pw-pw-pw'))!
    const ok = bindingSuccess(req, '192.0.2.33', 54321, 'pw-pw-pw-pw-pw-pw-pw-pw')
    expect(replyKind(ok)).toEqual({ type: 0x0101, error: null })
    expect(ok.subarray(8, 20).equals(req.transactionId)).toBe(true)
    // XOR-MAPPED-ADDRESS is the first attribute: port and address XORed with the magic cookie.
    expect(ok.readUInt16BE(20)).toBe(0x0020)
    expect(ok.readUInt16BE(26) ^ 0x2112).toBe(54321)
    expect(((ok.readUInt32BE(28) ^ 0x2112a442) >>> 0).toString(16)).toBe('c0000221')
    const v6 = bindingSuccess(req, '2001:db8::1', 3000, 'pw-pw-pw-pw-pw-pw-pw-pw')
    expect(v6[25]).toBe(2)
    const mapped = bindingSuccess(req, '::ffff:192.0.2.33', 3000, 'pw-pw-pw-pw-pw-pw-pw-pw')
    expect(mapped[25]).toBe(1)
    expect(((mapped.readUInt32BE(28) ^ 0x2112a442) >>> 0).toString(16)).toBe('c0000221')
    expect(replyKind(bindingUnauthorized(req))).toEqual({ type: 0x0111, error: 401 })
  })
})

describe('[M31] the offer', () => {
  test('[M31] ICE-lite, one candidate per address on the port (+ passive TCP), K slots with their SSRCs', () => {
    const sdp = buildOffer({
      sessionId: '1',
      version: 0,
      ice: { ufrag: 'abcd', pwd: 'p'.repeat(24) },
      fingerprint: { algorithm: 'sha-256', value: 'AA:BB' },
      hosts: ['203.0.113.7', '10.0.0.2'],
      udpPort: 3000,
      tcpPort: 3001,
      ssrcs: [11, 22, 33],
      cname: 'x',
    })
    expect(sdp).toMatch(/^a=ice-lite\r$/m)
    expect(sdp.match(/^m=audio/gm)).toHaveLength(4)
    const first = sdp.split('m=audio')[1]!
    expect(first.match(/^a=candidate:.* udp .*$/gm)).toHaveLength(2)
    expect(first).toMatch(/a=candidate:\S+ 1 udp \d+ 203\.0\.113\.7 3000 typ host/)
    expect(first).toMatch(/a=candidate:\S+ 1 tcp \d+ 203\.0\.113\.7 3001 typ host tcptype passive/)
    for (const ssrc of [11, 22, 33]) expect(sdp).toContain(`a=ssrc:${ssrc} cname:x`)
    const a = readAnswer(
      'v=0\r\nm=audio 9 x 111\r\na=fingerprint:sha-256 CC:DD\r\n' +
        'a=extmap:4 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n' +
        'a=rtpmap:111 opus/48000/2\r\nm=audio 9 x 109\r\na=rtpmap:109 opus/48000/2\r\nm=audio 9 x\r\nm=audio 9 x\r\n',
    )
    expect(a).toEqual({
      fingerprint: { algorithm: 'sha-256', value: 'CC:DD' },
      levelExtension: 4,
      payloadTypes: [109, 111, 111],
    })
  })
})
