// SRTP protection of forwarded packets without werift's per-packet objects: the 12-byte header is written into a
// buffer each slot reuses, the IV/counter into reused buffers, and the packet is built in one allocation.
// Keys come from werift's SRTP session (after its DTLS handshake). Both profiles werift negotiates:
// AEAD_AES_128_GCM (RFC 7714; werift's preference) and AES_CM_128_HMAC_SHA1_80 (RFC 3711), whose AES-CTR
// keystream comes from one reused AES-ECB cipher over the counter blocks.
import { createCipheriv, createHmac, type Cipheriv } from 'node:crypto'

/** The parts of werift's SRTP cipher objects we read (CipherAesGcm / CipherAesCtr). */
interface WeriftCipher {
  srtpSessionKey: Buffer
  srtpSessionSalt: Buffer
  srtpSessionAuthTag?: Buffer
  aeadAuthTagLen?: number
}

export abstract class SrtpWriter {
  /** Protects header (12 bytes, no extensions) + payload; returns a new buffer with the tag. */
  abstract protect(header: Uint8Array, payload: Uint8Array, ssrc: number, seq: number, roc: number): Buffer

  /** A writer for werift's local SRTP context of a connected DTLS transport, or null if unknown. */
  static fromWerift(srtpSession: any): SrtpWriter | null {
    const cipher: WeriftCipher | undefined = srtpSession?.localContext?.cipher
    if (!cipher?.srtpSessionKey || !cipher.srtpSessionSalt) return null
    if (cipher.aeadAuthTagLen === 16) return new GcmWriter(cipher.srtpSessionKey, cipher.srtpSessionSalt)
    if (cipher.srtpSessionAuthTag)
      return new CtrWriter(cipher.srtpSessionKey, cipher.srtpSessionSalt, cipher.srtpSessionAuthTag)
    return null
  }
}

class GcmWriter extends SrtpWriter {
  private iv = Buffer.alloc(12)
  constructor(
    private key: Buffer,
    private salt: Buffer,
  ) {
    super()
  }

  protect(header: Uint8Array, payload: Uint8Array, ssrc: number, seq: number, roc: number): Buffer {
    const iv = this.iv,
      salt = this.salt
    iv[0] = 0
    iv[1] = 0
    iv.writeUInt32BE(ssrc >>> 0, 2)
    iv.writeUInt32BE(roc >>> 0, 6)
    iv.writeUInt16BE(seq, 10)
    for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!
    const c = createCipheriv('aes-128-gcm', this.key, iv)
    c.setAAD(header)
    const hl = header.length,
      pl = payload.length
    const out = Buffer.allocUnsafe(hl + pl + 16)
    out.set(header, 0)
    out.set(c.update(payload), hl)
    c.final()
    out.set(c.getAuthTag(), hl + pl)
    return out
  }
}

class CtrWriter extends SrtpWriter {
  private ecb: Cipheriv
  private blocks = Buffer.alloc(16 * 96)
  private rocBuf = Buffer.alloc(4)
  constructor(
    key: Buffer,
    private salt: Buffer,
    private authKey: Buffer,
  ) {
    super()
    this.ecb = createCipheriv('aes-128-ecb', key, null)
    this.ecb.setAutoPadding(false)
  }

  protect(header: Uint8Array, payload: Uint8Array, ssrc: number, seq: number, roc: number): Buffer {
    const hl = header.length,
      pl = payload.length
    const n = Math.ceil(pl / 16)
    if (n * 16 > this.blocks.length) this.blocks = Buffer.alloc(n * 16)
    const b = this.blocks,
      salt = this.salt
    // Counter block i: (salt << 16) XOR (ssrc << 64) XOR (index << 16), plus i in the last two bytes.
    for (let i = 0; i < n; i++) {
      const o = i * 16
      b.fill(0, o, o + 16)
      b.writeUInt32BE(ssrc >>> 0, o + 4)
      b.writeUInt32BE(roc >>> 0, o + 8)
      b.writeUInt16BE(seq, o + 12)
      for (let k = 0; k < 14; k++) b[o + k]! ^= salt[k]!
      b.writeUInt16BE(i, o + 14)
    }
    const ks = this.ecb.update(b.subarray(0, n * 16))
    const out = Buffer.allocUnsafe(hl + pl + 10)
    out.set(header, 0)
    for (let k = 0; k < pl; k++) out[hl + k] = payload[k]! ^ ks[k]!
    this.rocBuf.writeUInt32BE(roc >>> 0, 0)
    const tag = createHmac('sha1', this.authKey)
      .update(out.subarray(0, hl + pl))
      .update(this.rocBuf)
      .digest()
    tag.copy(out, hl + pl, 0, 10)
    return out
  }
}

/** Writes a 12-byte RTP header (version 2, no padding, extension or CSRC) into `buf`. */
export function writeRtpHeader(buf: Buffer, marker: boolean, pt: number, seq: number, ts: number, ssrc: number) {
  buf[0] = 0x80
  buf[1] = (marker ? 0x80 : 0) | (pt & 0x7f)
  buf.writeUInt16BE(seq & 0xffff, 2)
  buf.writeUInt32BE(ts >>> 0, 4)
  buf.writeUInt32BE(ssrc >>> 0, 8)
}
