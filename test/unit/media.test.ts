// The SFU's pure parts: audio levels, slot assignment, sequence/timestamp rewriting, ICE settings, TURN credentials.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createHmac, randomBytes } from 'node:crypto'
import { RTCPeerConnection, RtpHeader, RtpPacket, SrtpSession } from 'werift'
import {
  K_SLOTS,
  OPUS_FRAME_TS,
  SlotRewriter,
  assignSlots,
  audioLevelDbov,
  audioLevelOfExtensions,
  levelFromDbov,
} from '../../server/media/forwarder'
import { hostAddresses, iceServersFor, turnCredentials, withoutDefaultStun } from '../../server/media/ice'
import { SrtpWriter, writeRtpHeader } from '../../server/media/srtp'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const packetWithLevel = (id: number, dbov: number, extra: { id: number; payload: Buffer }[] = []) =>
  new RtpPacket(
    new RtpHeader({
      payloadType: 111,
      sequenceNumber: 7,
      timestamp: 9,
      ssrc: 1,
      extensions: [...extra, { id, payload: Buffer.from([0x80 | dbov]) }],
    }),
    Buffer.from('opus'),
  ).serialize()

describe('[M3] audio levels (RFC 6464)', () => {
  test('[M3] the level is read from the one-byte extension with the negotiated id, ignoring the voice bit', () => {
    expect(audioLevelDbov(packetWithLevel(2, 30), 2)).toBe(30)
    expect(audioLevelDbov(packetWithLevel(2, 0), 2)).toBe(0)
    expect(audioLevelDbov(packetWithLevel(3, 45, [{ id: 1, payload: Buffer.from('0') }]), 3)).toBe(45)
    expect(audioLevelDbov(packetWithLevel(2, 30), 5)).toBe(-1)
    expect(audioLevelDbov(new RtpPacket(new RtpHeader({ payloadType: 111 }), Buffer.from('x')).serialize(), 2)).toBe(-1)
    expect(audioLevelDbov(new Uint8Array(5), 1)).toBe(-1)
  })

  test('[M3] parsed extensions give the same level; louder (fewer -dBov) maps higher, silence to 0', () => {
    expect(audioLevelOfExtensions([{ id: 1, payload: Buffer.from([0x80 | 20]) }], 1)).toBe(20)
    expect(audioLevelOfExtensions([], 1)).toBe(-1)
    expect(levelFromDbov(0)).toBe(1)
    expect(levelFromDbov(10)).toBeGreaterThan(levelFromDbov(30))
    expect(levelFromDbov(127)).toBe(0)
    expect(levelFromDbov(-1)).toBe(0)
    for (let d = 0; d <= 127; d++) {
      expect(levelFromDbov(d)).toBeGreaterThanOrEqual(0)
      expect(levelFromDbov(d)).toBeLessThanOrEqual(1)
    }
  })
})

describe('[M4] the K loudest speakers in K slots', () => {
  const empty = Array(K_SLOTS).fill(null)
  test('[M4] a listener gets the first K of the ranking, never themselves', () => {
    expect(assignSlots(empty, ['a', 'b', 'c', 'd', 'e'], 'x')).toEqual(['a', 'b', 'c'])
    expect(assignSlots(empty, ['a', 'b', 'c', 'd'], 'b')).toEqual(['a', 'c', 'd'])
    expect(assignSlots(empty, ['a'], 'a')).toEqual([null, null, null])
  })
  test('[M4] a speaker keeps their slot; only the slot of someone who dropped out changes', () => {
    const cur = ['a', 'b', 'c']
    expect(assignSlots(cur, ['c', 'b', 'a'], 'x')).toBe(cur)
    expect(assignSlots(cur, ['d', 'a', 'c', 'b'], 'x')).toEqual(['a', 'd', 'c'])
    expect(assignSlots(cur, ['c'], 'x')).toEqual([null, null, 'c'])
  })
})

describe('[M5] a slot is one continuous stream', () => {
  test("[M5] within one speaker the numbers are the speaker's own (offset 0 for the first)", () => {
    const s = new SlotRewriter(1234)
    s.setSource('a')
    s.map(100, 5000, 0)
    expect([s.seq, s.ts, s.marker]).toEqual([100, 5000, true])
    s.map(101, 5960, 20)
    expect([s.seq, s.ts, s.marker]).toEqual([101, 5960, false])
  })

  test('[M5] a speaker change continues the sequence by one, moves the timestamp forward, sets the marker', () => {
    const s = new SlotRewriter(1)
    s.setSource('a')
    for (let i = 0; i < 10; i++) s.map(65530 + i, 4294960000 + i * 960, i * 20) // wraps both counters
    const [lastSeq, lastTs] = [s.seq, s.ts]
    expect(lastSeq).toBe(65539 & 0xffff)
    s.setSource('b')
    s.map(17, 123, 200 + 180)
    expect(s.seq).toBe((lastSeq + 1) & 0xffff)
    expect(s.marker).toBe(true)
    const step = (s.ts - lastTs) >>> 0
    expect(step).toBeGreaterThanOrEqual(OPUS_FRAME_TS)
    expect(step).toBe(200 * 48) // the wall time that passed, in 48 kHz ticks
    s.map(18, 1083, 400)
    expect(s.seq).toBe((lastSeq + 2) & 0xffff)
    expect((s.ts - lastTs) >>> 0).toBe(200 * 48 + 960)
    expect(s.marker).toBe(false)
  })

  test('[M5] a late packet of the same speaker keeps its place without moving the continuity point back', () => {
    const s = new SlotRewriter(1)
    s.setSource('a')
    s.map(10, 0, 0)
    s.map(12, 1920, 40)
    s.map(11, 960, 41)
    expect(s.seq).toBe(11)
    s.setSource('b')
    s.map(500, 0, 60)
    expect(s.seq).toBe(13)
  })
})

describe('[M7] NAT: addresses, TURN', () => {
  test('[M7] PUBLIC_IP is announced first; a loopback-only server announces 127.0.0.1', () => {
    expect(hostAddresses({ publicIp: '', host: '127.0.0.1' })).toEqual(['127.0.0.1'])
    expect(hostAddresses({ publicIp: '203.0.113.7', host: '0.0.0.0' })[0]).toBe('203.0.113.7')
    expect(hostAddresses({ publicIp: '', host: '0.0.0.0' }).length).toBe(1)
    // A server bound to one address announces that one (after PUBLIC_IP).
    expect(hostAddresses({ publicIp: '', host: '192.0.2.10' })).toEqual(['192.0.2.10'])
    expect(hostAddresses({ publicIp: '203.0.113.7', host: '192.0.2.10' })).toEqual(['203.0.113.7', '192.0.2.10'])
  })

  test("[M7] TURN credentials follow coturn's shared-secret scheme: <expiry>:<id> and base64 HMAC-SHA1", () => {
    const now = 1_700_000_000_000
    const c = turnCredentials('s3cret', '42', now, 3600)
    expect(c.username).toBe(`${1_700_000_000 + 3600}:42`)
    expect(c.credential).toBe(createHmac('sha1', 's3cret').update(c.username).digest('base64'))
    const servers = iceServersFor(
      {
        turnUrls: [
          'stun:stun.example.org:3478',
          'turn:turn.example.org:3478?transport=udp',
          'turns:turn.example.org:5349',
        ],
        turnSecret: 's3cret',
      },
      '42',
      now,
    )
    expect(servers).toEqual([
      { urls: ['stun:stun.example.org:3478'] },
      {
        urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'],
        ...turnCredentials('s3cret', '42', now),
      },
    ])
    expect(iceServersFor({ turnUrls: ['turn:t.example.org'], turnSecret: '' }, '1')).toEqual([])
    expect(iceServersFor({ turnUrls: [], turnSecret: 'x' }, '1')).toEqual([])
  })
})

describe('[M11] lean SRTP matches werift', () => {
  for (const [name, profile, saltLen] of [
    ['AEAD_AES_128_GCM', 7, 12],
    ['AES_CM_128_HMAC_SHA1_80', 1, 14],
  ] as const) {
    test(
      `[M11] ${name}: our packets are byte-identical to werift's ` +
        'and decrypt on the other side, across a sequence wrap',
      () => {
        const keys = {
          localMasterKey: randomBytes(16),
          localMasterSalt: randomBytes(saltLen),
          remoteMasterKey: randomBytes(16),
          remoteMasterSalt: randomBytes(saltLen),
        }
        const local: any = new SrtpSession({ profile, keys } as any)
        const reference: any = new SrtpSession({ profile, keys } as any)
        const remote: any = new SrtpSession({
          profile,
          keys: {
            localMasterKey: keys.remoteMasterKey,
            localMasterSalt: keys.remoteMasterSalt,
            remoteMasterKey: keys.localMasterKey,
            remoteMasterSalt: keys.localMasterSalt,
          },
        } as any)
        const w = SrtpWriter.fromWerift(local)!
        expect(w).not.toBeNull()
        const hdr = Buffer.alloc(12)
        let roc = 0
        for (let i = 0; i < 40; i++) {
          const seq = (65520 + i) & 0xffff
          if (seq === 0) roc++
          const payload = randomBytes(20 + i * 7)
          writeRtpHeader(hdr, i === 3, 111, seq, 1000 + i * 960, 0xdeadbeef)
          const ours = w.protect(hdr, payload, 0xdeadbeef, seq, roc)
          const theirs: Buffer = reference.encrypt(
            payload,
            new RtpHeader({
              payloadType: 111,
              sequenceNumber: seq,
              timestamp: 1000 + i * 960,
              ssrc: 0xdeadbeef,
              marker: i === 3,
              extensions: [],
            }),
          )
          expect(ours.equals(theirs)).toBe(true)
          const plain: Buffer = remote.decrypt(ours)
          expect(plain.subarray(12).equals(payload)).toBe(true)
          expect(plain.readUInt16BE(2)).toBe(seq)
          expect((plain[1]! & 0x80) !== 0).toBe(i === 3)
        }
      },
    )
  }
})

test("[M7] the server asks no third-party STUN server (werift would default to Google's)", async () => {
  const pc = new RTCPeerConnection({ iceServers: [] })
  pc.addTransceiver('audio', { direction: 'recvonly' })
  expect((pc.iceTransports[0]!.connection as any).stunServer).toBeDefined()
  withoutDefaultStun(pc as any)
  expect((pc.iceTransports[0]!.connection as any).stunServer).toBeUndefined()
  await pc.close()
})
