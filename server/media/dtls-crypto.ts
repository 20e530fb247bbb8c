// werift's DTLS does its ECDHE key exchange in pure JavaScript: X25519 with tweetnacl (a key pair 2.6 ms, the shared
// secret 1.2 ms on this machine) and P-256 with @noble/curves (0.9 ms + 2.9 ms). That is most of a handshake's CPU on
// the main thread, and under a burst of joins (M60) it is what sets the rate. werift's bundle calls these two
// libraries through their module objects, so pointing those functions at node:crypto (OpenSSL: 0.03 ms + 0.06 ms)
// makes every handshake of the process cheaper without forking werift. The results are the same bytes (checked in
// test/unit/dtls-crypto.test.ts), with one exception: the P-256 shared secret's first byte (the parity of y, which
// OpenSSL does not give) is always 0x02; werift, the only user of @noble/curves here, drops that byte. Anything the
// native path refuses (a malformed or low-order key) goes to the original function, which answers as before.
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import { p256 } from '@noble/curves/p256'
import nacl from 'tweetnacl'

/** DER prefixes of X25519 keys (RFC 8410): PKCS#8 private key and SubjectPublicKeyInfo, each followed by 32 bytes. */
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex')

/** How many key exchange steps went through OpenSSL (tests check that werift's handshakes use it). */
export const nativeKeyExchange = { calls: 0 }

let installed = false

/** Points werift's key exchange at node:crypto (idempotent; done when the media plane is loaded). */
export function useNativeKeyExchange() {
  if (installed) return
  installed = true

  const scalarMult = nacl.scalarMult
  const x25519 = (n: Uint8Array, p: Uint8Array): Uint8Array => {
    if (n.length !== 32 || p.length !== 32) return scalarMult(n, p)
    try {
      const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8, n]), format: 'der', type: 'pkcs8' })
      const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI, p]), format: 'der', type: 'spki' })
      nativeKeyExchange.calls++
      return new Uint8Array(diffieHellman({ privateKey, publicKey }))
    } catch {
      return scalarMult(n, p)
    }
  }
  nacl.scalarMult = Object.assign(x25519, {
    base: scalarMult.base,
    scalarLength: scalarMult.scalarLength,
    groupElementLength: scalarMult.groupElementLength,
  })
  // werift reads `keys.secretKey.buffer` and `keys.publicKey.buffer`: each array owns exactly its 32 bytes.
  const keyPair = nacl.box.keyPair
  nacl.box.keyPair = Object.assign(
    () => {
      const { privateKey, publicKey } = generateKeyPairSync('x25519')
      nativeKeyExchange.calls++
      return {
        secretKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)),
        publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)),
      }
    },
    { fromSecretKey: keyPair.fromSecretKey },
  )

  const getPublicKey = p256.getPublicKey
  const getSharedSecret = p256.getSharedSecret
  const ecdh = (priv: unknown) => {
    if (!(priv instanceof Uint8Array) || priv.length !== 32) return null
    try {
      const e = createECDH('prime256v1')
      e.setPrivateKey(priv)
      return e
    } catch {
      return null
    }
  }
  p256.getPublicKey = (priv, isCompressed = true) => {
    const e = ecdh(priv)
    if (!e) return getPublicKey(priv, isCompressed)
    nativeKeyExchange.calls++
    return new Uint8Array(e.getPublicKey(undefined, isCompressed ? 'compressed' : 'uncompressed'))
  }
  p256.getSharedSecret = (priv, pub, isCompressed = true) => {
    const e = ecdh(priv)
    if (!e || !isCompressed || !(pub instanceof Uint8Array)) return getSharedSecret(priv, pub, isCompressed)
    try {
      const x = e.computeSecret(pub)
      nativeKeyExchange.calls++
      const out = new Uint8Array(1 + x.length)
      out[0] = 0x02
      out.set(x, 1)
      return out
    } catch {
      return getSharedSecret(priv, pub, isCompressed)
    }
  }
}
