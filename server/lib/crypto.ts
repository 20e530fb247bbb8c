import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A random token of 32 bytes (256 bits), base64url. */
export const newToken = (bytes = 32) => randomBytes(bytes).toString('base64url')
/** What we store instead of a token: its SHA-256. */
export const hashToken = (token: string) => createHash('sha256').update(token).digest()
export const safeEqual = (a: string, b: string) => {
  const x = Buffer.from(a),
    y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
