// The DTLS handshake gate (server/media/handshakes.ts), without sockets: a bounded number in flight, the others in
// arrival order, the stage first, a place given back when the handshake ends or after its hold time.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { HandshakeGate, type GateEntry } from '../../server/media/handshakes'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

function entries(names: string[], admitted: string[], stage: string[] = []): Record<string, GateEntry> {
  return Object.fromEntries(
    names.map((n) => [n, { priority: stage.includes(n), admit: () => void admitted.push(n) }] as const),
  )
}

describe('[M57] the handshake gate', () => {
  test('[M57] at most `limit` in flight; the others start in arrival order as places are given back', () => {
    const admitted: string[] = []
    const e = entries(['a', 'b', 'c', 'd', 'e'], admitted)
    const gate = new HandshakeGate(2)
    for (const n of ['a', 'b', 'c', 'd', 'e']) gate.request(e[n]!)
    expect(admitted).toEqual(['a', 'b'])
    expect(gate.stats()).toMatchObject({ inFlight: 2, queued: 3, maxQueued: 3 })
    gate.request(e.c!) // asking again changes nothing
    gate.release(e.b!)
    expect(admitted).toEqual(['a', 'b', 'c'])
    gate.release(e.d!) // one that waits gives up: it leaves the queue, nothing else starts
    expect(admitted).toEqual(['a', 'b', 'c'])
    gate.release(e.a!)
    gate.release(e.c!)
    expect(admitted).toEqual(['a', 'b', 'c', 'e'])
    gate.release(e.e!)
    expect(gate.stats()).toMatchObject({ inFlight: 0, queued: 0, admitted: 4, maxInFlight: 2, outOfOrder: 0 })
    gate.close()
  })

  test('[M57] the stage goes before the listeners waiting, after the stage already waiting', () => {
    const admitted: string[] = []
    const e = entries(['l1', 'l2', 'l3', 's1', 's2'], admitted, ['s1', 's2'])
    const gate = new HandshakeGate(1)
    for (const n of ['l1', 'l2', 'l3', 's1', 's2']) gate.request(e[n]!)
    for (const n of ['l1', 's1', 's2', 'l2']) gate.release(e[n]!)
    expect(admitted).toEqual(['l1', 's1', 's2', 'l2', 'l3'])
    expect(gate.stats().outOfOrder).toBe(0) // in order within each kind
    gate.close()
  })

  test('[M57] a place held too long is given back; 0 means no limit', async () => {
    const admitted: string[] = []
    const e = entries(['a', 'b'], admitted)
    const gate = new HandshakeGate(1, 50)
    gate.request(e.a!)
    gate.request(e.b!)
    await until(() => admitted.length === 2, 'the hold time gives a place back')
    expect(gate.stats().expired).toBe(1)
    gate.close()
    const open = new HandshakeGate(0)
    const all: string[] = []
    const many = entries(['x', 'y', 'z'], all)
    for (const n of ['x', 'y', 'z']) open.request(many[n]!)
    expect(all).toEqual(['x', 'y', 'z'])
    open.close()
  })
})
