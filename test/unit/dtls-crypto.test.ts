// werift's key exchange through node:crypto (server/media/dtls-crypto.ts): the same bytes as the pure-JS libraries.
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { p256 } from '@noble/curves/p256'
import nacl from 'tweetnacl'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

// The originals, taken before the module replaces them.
const js = {
  scalarMult: nacl.scalarMult,
  getPublicKey: p256.getPublicKey,
  getSharedSecret: p256.getSharedSecret,
}
const { nativeKeyExchange, useNativeKeyExchange } = await import('../../server/media/dtls-crypto')
useNativeKeyExchange()

describe('[M61] the DTLS key exchange runs in OpenSSL', () => {
  test('[M61] X25519: key pairs and shared secrets are those of tweetnacl', () => {
    const before = nativeKeyExchange.calls
    const a = nacl.box.keyPair()
    const b = nacl.box.keyPair()
    expect(a.secretKey.buffer.byteLength).toBe(32) // werift reads `.buffer`
    expect(a.publicKey.buffer.byteLength).toBe(32)
    expect(Buffer.from(js.scalarMult.base(a.secretKey))).toEqual(Buffer.from(a.publicKey))
    const ab = nacl.scalarMult(a.secretKey, b.publicKey)
    expect(Buffer.from(ab)).toEqual(Buffer.from(js.scalarMult(a.secretKey, b.publicKey)))
    expect(Buffer.from(ab)).toEqual(Buffer.from(nacl.scalarMult(b.secretKey, a.publicKey)))
    expect(nativeKeyExchange.calls).toBeGreaterThan(before)
    // A low-order point is refused by OpenSSL: the original answers as before (all zeros).
    expect(Buffer.from(nacl.scalarMult(a.secretKey, new Uint8Array(32)))).toEqual(Buffer.alloc(32))
  })

  test('[M61] P-256: public keys and the shared x coordinate are those of @noble/curves', () => {
    const a = p256.utils.randomPrivateKey()
    const b = p256.utils.randomPrivateKey()
    expect(Buffer.from(p256.getPublicKey(a, false))).toEqual(Buffer.from(js.getPublicKey(a, false)))
    expect(Buffer.from(p256.getPublicKey(a))).toEqual(Buffer.from(js.getPublicKey(a)))
    const pubB = p256.getPublicKey(b, false)
    const ours = p256.getSharedSecret(a, pubB)
    const theirs = js.getSharedSecret(a, pubB)
    expect(ours.length).toBe(theirs.length)
    expect(Buffer.from(ours.subarray(1))).toEqual(Buffer.from(theirs.subarray(1))) // werift keeps these 32 bytes
    expect(() => p256.getSharedSecret(a, new Uint8Array(65))).toThrow() // not a point: the original's error
  })
})
