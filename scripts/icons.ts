// Draws the app icons (a broadcast mark on indigo) as PNGs into client/icons. Run once; the PNGs are committed.
import { deflateSync } from 'node:zlib'
import { join } from 'node:path'

function crc32(buf: Uint8Array) {
  let crc = 0xffffffff
  for (let n = 0; n < buf.length; n++) {
    let c = (crc ^ buf[n]!) & 0xff
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    crc = (crc >>> 8) ^ c
  }
  return (crc ^ 0xffffffff) >>> 0
}
function chunk(type: string, data: Uint8Array) {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, 'ascii')
  Buffer.from(data).copy(out, 8)
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}
export function png(size: number, pixel: (x: number, y: number) => [number, number, number, number]) {
  const raw = Buffer.alloc((size * 4 + 1) * size)
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 4 + 1) + 1 + x * 4)
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0)
  ihdr.writeUInt32BE(size, 4)
  ihdr[8] = 8
  ihdr[9] = 6
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array()),
  ])
}

const BG: [number, number, number] = [79, 70, 229]
function draw(size: number, maskable: boolean) {
  const s = maskable ? 0.8 : 1 // keep the mark inside the maskable safe zone
  return png(size, (px, py) => {
    const x = (px + 0.5) / size - 0.5,
      y = (py + 0.5) / size - 0.5
    // rounded square for the plain icon, full bleed for maskable
    if (!maskable) {
      const r = 0.2,
        ax = Math.abs(x) - (0.5 - r),
        ay = Math.abs(y) - (0.5 - r)
      if (ax > 0 && ay > 0 && Math.hypot(ax, ay) > r) return [0, 0, 0, 0]
    }
    const d = Math.hypot(x, y + 0.04 * s) / s
    const ang = Math.atan2(y + 0.04 * s, x)
    const upper = ang < -0.45 && ang > -Math.PI + 0.45
    const white =
      d < 0.1 ||
      (upper && ((d > 0.18 && d < 0.235) || (d > 0.3 && d < 0.355))) ||
      (Math.abs(x) < 0.03 * s && y > 0 && y < 0.3 * s) ||
      (Math.abs(y - 0.3 * s) < 0.03 * s && Math.abs(x) < 0.12 * s)
    return white ? [255, 255, 255, 255] : [...BG, 255]
  })
}

if (import.meta.main) {
  const dir = join(import.meta.dir, '..', 'client', 'icons')
  for (const [name, size, mask] of [
    ['icon-192.png', 192, false],
    ['icon-512.png', 512, false],
    ['maskable-512.png', 512, true],
    ['apple-touch-icon.png', 180, true],
  ] as const)
    await Bun.write(join(dir, name), draw(size, mask))
  console.log('icons written to', dir)
}
