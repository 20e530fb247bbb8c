// The STUN an ICE-lite server needs (RFC 8489, RFC 8445 §7.3): read a Binding request, check its FINGERPRINT and its
// MESSAGE-INTEGRITY (short-term credentials: the key is our ICE password), and write the success or 401 reply.
// Nothing else of STUN: the server never sends a request of its own (the clients do full ICE and consent).
import { createHmac } from 'node:crypto'
import { crc32 } from 'node:zlib'

const MAGIC = 0x2112a442
const FINGERPRINT_XOR = 0x5354554e
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const BINDING_ERROR = 0x0111

const ATTR_USERNAME = 0x0006
const ATTR_MESSAGE_INTEGRITY = 0x0008
const ATTR_ERROR_CODE = 0x0009
const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const ATTR_USE_CANDIDATE = 0x0025
const ATTR_FINGERPRINT = 0x8028

/** A Binding request as read off the wire (offsets into `buf`; nothing copied but the username). */
export interface BindingRequest {
  readonly buf: Buffer
  readonly transactionId: Buffer
  /** "<our ufrag>:<their ufrag>". */
  readonly username: string
  readonly useCandidate: boolean
  /** Offset of the MESSAGE-INTEGRITY attribute. */
  readonly integrityAt: number
}

/** Whether `buf` looks like STUN at all (RFC 7983: first byte 0..3, and the magic cookie). */
export function isStun(buf: Buffer): boolean {
  return buf.length >= 20 && buf[0]! < 4 && buf.readUInt32BE(4) === MAGIC && (buf.readUInt16BE(2) & 3) === 0
}

/**
 * A Binding request with USERNAME, MESSAGE-INTEGRITY and a correct FINGERPRINT (as its last attribute), or null.
 * MESSAGE-INTEGRITY is checked separately (`integrityOk`) once the username names a peer.
 */
export function parseBindingRequest(buf: Buffer): BindingRequest | null {
  if (!isStun(buf) || buf.readUInt16BE(0) !== BINDING_REQUEST) return null
  const end = 20 + buf.readUInt16BE(2)
  if (end !== buf.length) return null
  let username: string | null = null
  let integrityAt = -1
  let fingerprintOk = false
  let useCandidate = false
  for (let at = 20; at + 4 <= end; ) {
    const type = buf.readUInt16BE(at)
    const len = buf.readUInt16BE(at + 2)
    if (at + 4 + len > end) return null
    if (fingerprintOk) return null // nothing may follow FINGERPRINT
    if (type === ATTR_USERNAME && integrityAt < 0) username = buf.toString('utf8', at + 4, at + 4 + len)
    else if (type === ATTR_MESSAGE_INTEGRITY && len === 20 && integrityAt < 0) integrityAt = at
    else if (type === ATTR_USE_CANDIDATE && integrityAt < 0) useCandidate = true
    else if (type === ATTR_FINGERPRINT && len === 4) {
      const want = (crc32(buf.subarray(0, at)) ^ FINGERPRINT_XOR) >>> 0
      if (buf.readUInt32BE(at + 4) !== want) return null
      fingerprintOk = true
    }
    at += 4 + ((len + 3) & ~3)
  }
  if (!fingerprintOk || username === null || integrityAt < 0) return null
  return { buf, transactionId: buf.subarray(8, 20), username, useCandidate, integrityAt }
}

/** Whether the request's MESSAGE-INTEGRITY is the HMAC-SHA1 of what precedes it, keyed with `password`. */
export function integrityOk(req: BindingRequest, password: string): boolean {
  const { buf, integrityAt } = req
  // The length field as if the message ended right after MESSAGE-INTEGRITY.
  const head = Buffer.from(buf.subarray(0, integrityAt))
  head.writeUInt16BE(integrityAt + 24 - 20, 2)
  const mac = createHmac('sha1', password).update(head).digest()
  return mac.equals(buf.subarray(integrityAt + 4, integrityAt + 24))
}

function header(type: number, txid: Buffer, bodyLength: number): Buffer {
  const b = Buffer.alloc(20)
  b.writeUInt16BE(type, 0)
  b.writeUInt16BE(bodyLength, 2)
  b.writeUInt32BE(MAGIC, 4)
  txid.copy(b, 8)
  return b
}

function attr(type: number, value: Buffer): Buffer {
  const padded = (value.length + 3) & ~3
  const b = Buffer.alloc(4 + padded)
  b.writeUInt16BE(type, 0)
  b.writeUInt16BE(value.length, 2)
  value.copy(b, 4)
  return b
}

function xorMappedAddress(address: string, port: number, txid: Buffer): Buffer {
  // An IPv4 client seen by a dual-stack socket ("::ffff:192.0.2.1") is told its IPv4 address.
  const ip = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
  const v6 = ip.includes(':')
  const v = Buffer.alloc(v6 ? 20 : 8)
  v[1] = v6 ? 2 : 1
  v.writeUInt16BE(port ^ (MAGIC >>> 16), 2)
  if (!v6) {
    const parts = ip.split('.').map(Number)
    v.writeUInt32BE((((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) ^ MAGIC) >>> 0, 4)
  } else {
    const raw = ipv6Bytes(ip)
    const mask = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), txid])
    for (let i = 0; i < 16; i++) v[4 + i] = raw[i]! ^ mask[i]!
  }
  return v
}

function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16)
  const [l, r] = ip.split('::') as [string, string | undefined]
  const left = l ? l.split(':') : []
  const right = r ? r.split(':') : []
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  groups.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g || '0', 16), i * 2)
  })
  return out
}

/** Appends MESSAGE-INTEGRITY (when `password` is given) and FINGERPRINT to a message built of `parts`. */
function seal(type: number, txid: Buffer, parts: Buffer[], password: string | null): Buffer {
  let body = Buffer.concat(parts)
  if (password !== null) {
    const head = header(type, txid, body.length + 24)
    const mac = createHmac('sha1', password).update(head).update(body).digest()
    body = Buffer.concat([body, attr(ATTR_MESSAGE_INTEGRITY, mac)])
  }
  const msg = Buffer.concat([header(type, txid, body.length + 8), body])
  const fp = Buffer.alloc(4)
  fp.writeUInt32BE((crc32(msg) ^ FINGERPRINT_XOR) >>> 0)
  return Buffer.concat([msg, attr(ATTR_FINGERPRINT, fp)])
}

/** The success reply to a valid Binding request: the address it came from, signed with our password. */
export function bindingSuccess(req: BindingRequest, ip: string, port: number, password: string): Buffer {
  const txid = req.transactionId
  return seal(BINDING_SUCCESS, txid, [attr(ATTR_XOR_MAPPED_ADDRESS, xorMappedAddress(ip, port, txid))], password)
}

/** 401 Unauthenticated (RFC 8489 §9.1.3: no MESSAGE-INTEGRITY, since the credentials did not check out). */
export function bindingUnauthorized(req: BindingRequest): Buffer {
  const reason = Buffer.from('Unauthenticated')
  const v = Buffer.alloc(4 + reason.length)
  v[2] = 4
  v[3] = 1
  reason.copy(v, 4)
  return seal(BINDING_ERROR, req.transactionId, [attr(ATTR_ERROR_CODE, v)], null)
}

/** For tests and tools: a Binding request as a full ICE agent sends it. */
export function bindingRequest(username: string, password: string, opts: { useCandidate?: boolean } = {}): Buffer {
  const txid = Buffer.from(Array.from({ length: 12 }, () => Math.floor(Math.random() * 256)))
  const parts = [attr(ATTR_USERNAME, Buffer.from(username))]
  if (opts.useCandidate) parts.push(attr(ATTR_USE_CANDIDATE, Buffer.alloc(0)))
  return seal(BINDING_REQUEST, txid, parts, password)
}

/** For tests: the class of a STUN reply (0x0101 success, 0x0111 error) and its ERROR-CODE number, if any. */
export function replyKind(buf: Buffer): { type: number; error: number | null } | null {
  if (!isStun(buf)) return null
  let error: number | null = null
  for (let at = 20; at + 4 <= buf.length; ) {
    const type = buf.readUInt16BE(at)
    const len = buf.readUInt16BE(at + 2)
    if (type === ATTR_ERROR_CODE) error = buf[at + 6]! * 100 + buf[at + 7]!
    at += 4 + ((len + 3) & ~3)
  }
  return { type: buf.readUInt16BE(0), error }
}
