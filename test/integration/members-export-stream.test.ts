// [D62] "Download my data" is streamed: the tar's headers and file chunks are made as the download reads them, never
// the whole archive in memory. A member with a few MB of uploads downloads an export whose files the tar reader reads
// back byte for byte as the server stored them; the growth of the process's memory during it is reported (not
// asserted). tarStream() itself: `tar` and the reader read it (empty and vanished files too); a reader may stop.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from 'node:fs/promises'
import { deflateSync } from 'node:zlib'
import { extractTar, tarStream } from '../../server/db/tar'
import { closeAll, dm, person, send, type Person } from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'
import { startTestServer, type TestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const tmp = mkdtempSync(join(tmpdir(), 'townhall-export-stream-'))
let s: TestServer
const people: Person[] = []

beforeAll(async () => {
  s = await startTestServer()
})
afterAll(async () => {
  closeAll(people)
  await s.stop()
  rmSync(tmp, { recursive: true, force: true })
})

/** A PNG of random pixels (incompressible): `side`×`side` RGB, about 3·side² bytes. */
function noisePng(side: number): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const crc = (b: Uint8Array) => {
    let c = 0xffffffff
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8)
    return (c ^ 0xffffffff) >>> 0
  }
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length)
    const v = new DataView(out.buffer)
    v.setUint32(0, data.length)
    out.set(new TextEncoder().encode(type), 4)
    out.set(data, 8)
    v.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)))
    return out
  }
  const ihdr = new Uint8Array(13)
  const hv = new DataView(ihdr.buffer)
  hv.setUint32(0, side)
  hv.setUint32(4, side)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8 bits, RGB
  const raw = new Uint8Array(side * (1 + side * 3))
  for (let at = 0; at < raw.length; at += 65536) crypto.getRandomValues(raw.subarray(at, at + 65536))
  for (let y = 0; y < side; y++) raw[y * (1 + side * 3)] = 0 // filter: none
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw, { level: 1 }))),
    chunk('IEND', new Uint8Array(0)),
  ]
  const png = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    png.set(p, at)
    at += p.length
  }
  return png
}

/** How many images of about 2.4 MB the member uploads (EXPORT_IMAGES=10 EXPORT_SIDE=1800: ~100 MB). */
const IMAGES = Number(process.env.EXPORT_IMAGES ?? 4)
const SIDE = Number(process.env.EXPORT_SIDE ?? 900)
const rssMB = () => process.memoryUsage().rss / 1024 / 1024

test('[D62] an export of MBs of uploads is streamed; the tar reader reads each file back byte for byte', async () => {
  const ann = await person(s, 'xs')
  const bob = await person(s, 'xs')
  people.push(ann, bob)
  const thread = await dm(ann, bob)
  const names: string[] = []
  for (let i = 0; i < IMAGES; i++) {
    const up = await ann.http.req('POST', `/api/threads/${thread}/images`, noisePng(SIDE), {
      'content-type': 'image/png',
    })
    expect(up.status).toBeLessThan(300)
    await send(ann, thread, `picture ${i}`, { image: up.json.image.name })
    names.push(up.json.image.name)
  }
  Bun.gc(true)
  const before = rssMB()
  let peak = before
  const res = await fetch(`${s.url}/api/me/export`, { headers: { cookie: ann.http.cookie } })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('application/x-tar')
  // Read the download piece by piece, as a browser saving it would, watching the process's memory.
  const file = join(tmp, 'export.tar')
  const out = await open(file, 'w')
  let size = 0
  let pieces = 0
  for await (const piece of res.body!) {
    await out.write(piece)
    size += piece.byteLength
    pieces++
    // A collection now and then, so that the figure is memory held rather than garbage not yet collected.
    if (pieces % 40 === 0) Bun.gc(true)
    peak = Math.max(peak, rssMB())
  }
  await out.close()
  expect(pieces).toBeGreaterThan(1)
  console.log(
    `export: ${(size / 1024 / 1024).toFixed(1)} MiB in ${pieces} pieces; RSS ${before.toFixed(0)} → peak ` +
      `${peak.toFixed(0)} MiB (+${(peak - before).toFixed(1)} MiB)`,
  )
  const dir = join(tmp, 'export')
  const entries = await extractTar(file, dir, () => true)
  const uploads = JSON.parse(readFileSync(join(dir, 'backchannel', 'uploads.json'), 'utf8'))
  expect(uploads.map((u: { name: string }) => u.name).sort()).toEqual([...names].sort())
  // Each file as the server stored it (its own record of where), byte for byte.
  const stored = new Map((await s.ctx.backchannel.api.exportOf(ann.id)).uploads.map((u) => [u.name, u.file]))
  let total = 0
  for (const name of names) {
    const got = new Uint8Array(readFileSync(join(dir, 'files', 'backchannel', name)))
    expect(got).toEqual(new Uint8Array(readFileSync(stored.get(name)!)))
    expect(entries.get(`files/backchannel/${name}`)!.size).toBe(got.length)
    total += got.length
  }
  expect(total).toBeGreaterThan(IMAGES * 1024 * 1024)
})

test('[D62] tarStream: headers, padding and end marker as tar reads them; a reader that stops closes it', async () => {
  const a = join(tmp, 'a.bin')
  const b = join(tmp, 'b.bin')
  writeFileSync(a, crypto.getRandomValues(new Uint8Array(600 * 1024 + 7)))
  writeFileSync(b, new Uint8Array(0))
  const sources = [
    { name: 'one.txt', bytes: new TextEncoder().encode('hello\n') },
    { name: 'dir/a.bin', path: a },
    { name: 'dir/b.bin', path: b },
    { name: 'gone.bin', path: join(tmp, 'no-such-file') },
  ]
  const file = join(tmp, 'stream.tar')
  await Bun.write(file, new Response(tarStream(sources)))
  const tf = Bun.spawnSync(['tar', 'tf', file]).stdout.toString().trim().split('\n')
  expect(tf).toEqual(['one.txt', 'dir/a.bin', 'dir/b.bin'])
  const dir = join(tmp, 'stream')
  const entries = await extractTar(file, dir, () => true)
  expect(new Uint8Array(readFileSync(join(dir, 'dir', 'a.bin')))).toEqual(new Uint8Array(readFileSync(a)))
  expect(entries.get('dir/b.bin')!.size).toBe(0)
  expect(readFileSync(join(dir, 'one.txt'), 'utf8')).toBe('hello\n')
  // A reader that stops after the first piece: the stream closes (its open file with it), nothing throws.
  const reader = tarStream(sources).getReader()
  expect((await reader.read()).done).toBe(false)
  await reader.cancel()
})
