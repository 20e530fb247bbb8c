// The origin → edge relay's datagrams (server/media/relay-wire.ts): sealed once per edge by the origin, opened by the
// edge only with the relay's key, each counter taken once.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { randomBytes } from 'node:crypto'
import { RELAY_MARK, RelayIn, RelayOut, relayIdOf } from '../../server/media/relay-wire'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const key = () => randomBytes(32).toString('hex')

function origin(targets: { relayId: number; secret: string }[]) {
  const sent: { packet: Buffer; port: number; ip: string }[] = []
  const out = new RelayOut(7, (packet, port, ip) => sent.push({ packet, port, ip }))
  out.set(targets.map((t, i) => ({ ...t, ip: '127.0.0.1', port: 40000 + i })))
  return { out, sent }
}

describe('[M64][M66] relay datagrams', () => {
  test('[M64] one datagram per edge per packet, each opened by its own edge: speaker, numbers, level', () => {
    const a = { relayId: 11, secret: key() }
    const b = { relayId: 12, secret: key() }
    const { out, sent } = origin([a, b])
    const payload = Buffer.from('opus frame')
    out.relay('u:42', 65535, 4_000_000_000, 30, payload)
    expect(sent.length).toBe(2)
    expect(sent.map((s) => s.port)).toEqual([40000, 40001])
    expect(sent[0]!.packet[0]).toBe(RELAY_MARK)
    expect(sent.map((s) => relayIdOf(s.packet))).toEqual([11, 12])
    const p = new RelayIn(7, a).open(sent[0]!.packet)!
    expect(p).toEqual({ key: 'u:42', seq: 65535, ts: 4_000_000_000, dbov: 30, payload })
    expect(new RelayIn(7, b).open(sent[1]!.packet)!.key).toBe('u:42')
    // No level: 0xFF on the wire, -1 read.
    out.relay('g:9', 1, 2, -1, payload)
    expect(new RelayIn(7, b).open(sent[3]!.packet)!.dbov).toBe(-1)
    expect(out.counts()).toEqual([
      { roomId: 7, relayId: 11, packets: 2 },
      { roomId: 7, relayId: 12, packets: 2 },
    ])
  })

  test('[M66] another relay’s key, a changed byte, a short datagram: refused', () => {
    const a = { relayId: 11, secret: key() }
    const { out, sent } = origin([a])
    out.relay('u:1', 5, 6, 10, Buffer.from('voice'))
    const packet = sent[0]!.packet
    expect(new RelayIn(7, { relayId: 11, secret: key() }).open(packet)).toBeNull()
    for (const at of [1, 8, 12, 20, packet.length - 1]) {
      const bad = Buffer.from(packet)
      bad[at]! ^= 1
      expect(new RelayIn(7, a).open(bad)).toBeNull()
    }
    expect(new RelayIn(7, a).open(packet.subarray(0, 20))).toBeNull()
    expect(new RelayIn(7, a).open(packet)).not.toBeNull()
  })

  test('[M66] each counter is taken once: a replay is refused, late ones within 32 taken, older refused', () => {
    const a = { relayId: 3, secret: key() }
    const { out, sent } = origin([a])
    for (let i = 0; i < 40; i++) out.relay('u:1', i, i * 960, 10, Buffer.from([i]))
    const edge = new RelayIn(7, a)
    // Arriving out of order: 2..40, then 1 (39 behind the highest: refused), then 10 again (a replay).
    for (let i = 1; i < 40; i++) expect(edge.open(sent[i]!.packet)?.seq).toBe(i)
    expect(edge.open(sent[0]!.packet)).toBeNull()
    expect(edge.open(sent[9]!.packet)).toBeNull()
    const late = new RelayIn(7, a)
    expect(late.open(sent[20]!.packet)).not.toBeNull()
    expect(late.open(sent[5]!.packet)).not.toBeNull()
    expect(late.open(sent[5]!.packet)).toBeNull()
  })

  test('[M66] a relay kept across set() keeps its counter; a new key starts again', () => {
    const a = { relayId: 5, secret: key() }
    const { out, sent } = origin([a])
    out.relay('u:1', 1, 1, 1, Buffer.from('x'))
    out.set([{ ...a, ip: '127.0.0.1', port: 40000 }])
    out.relay('u:1', 2, 2, 1, Buffer.from('x'))
    expect(sent.map((s) => s.packet.readUInt32BE(6))).toEqual([1, 2])
    out.set([])
    expect(out.active).toBe(false)
    out.relay('u:1', 3, 3, 1, Buffer.from('x'))
    expect(sent.length).toBe(2)
  })
})
