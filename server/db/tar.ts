// A small streaming tar (POSIX ustar) writer and reader for backups: files are copied in chunks (never whole into
// memory) and hashed (SHA-256) on the way, in and out. The reader accepts only what the writer makes: regular files
// and folders with relative, clean names; anything else (links, devices, `..`, absolute paths) is refused.
// `tar tf` and `tar xf` read what it writes.
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'

const BLOCK = 512
const CHUNK = 1 << 20
/** The largest size an ustar header holds (11 octal digits). */
const MAX_SIZE = 0o77777777777

export class TarError extends Error {}

export interface TarEntry {
  /** The name inside the archive (forward slashes, relative). */
  name: string
  size: number
  sha256: string
}

/** A name the reader accepts: relative, forward slashes, no empty, `.` or `..` part, printable ASCII only. */
function safeName(name: string): boolean {
  if (!name || name.length > 255 || name.startsWith('/') || !/^[\x21-\x7e]+$/.test(name)) return false
  return name.split('/').every((p) => p !== '' && p !== '.' && p !== '..')
}

function octal(buf: Uint8Array, at: number, len: number, n: number) {
  const s = n.toString(8).padStart(len - 1, '0')
  for (let i = 0; i < len - 1; i++) buf[at + i] = s.charCodeAt(i)
  buf[at + len - 1] = 0
}
function ascii(buf: Uint8Array, at: number, s: string) {
  for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i)
}

function header(name: string, size: number, mtime: number): Uint8Array {
  if (!safeName(name)) throw new TarError(`tar: unsafe name "${name}"`)
  if (size > MAX_SIZE) throw new TarError(`tar: ${name} is too large (${size} bytes)`)
  let prefix = ''
  let base = name
  if (name.length > 100) {
    // Split at a slash: up to 155 characters of folder in `prefix`, up to 100 of the rest in `name`.
    const cut = name.lastIndexOf('/', 155)
    if (cut <= 0 || name.length - cut - 1 > 100) throw new TarError(`tar: name too long "${name}"`)
    prefix = name.slice(0, cut)
    base = name.slice(cut + 1)
  }
  const h = new Uint8Array(BLOCK)
  ascii(h, 0, base)
  octal(h, 100, 8, 0o644)
  octal(h, 108, 8, 0)
  octal(h, 116, 8, 0)
  octal(h, 124, 12, size)
  octal(h, 136, 12, Math.floor(mtime / 1000))
  ascii(h, 148, '        ')
  h[156] = 0x30 // '0': a regular file
  ascii(h, 257, 'ustar\u000000')
  ascii(h, 265, 'townhall')
  ascii(h, 297, 'townhall')
  ascii(h, 345, prefix)
  let sum = 0
  for (const b of h) sum += b
  octal(h, 148, 7, sum)
  h[155] = 0x20
  return h
}

/** Writes a tar file entry by entry; close() ends the archive. Each added file is hashed as it is copied. */
export class TarWriter {
  private constructor(private out: FileHandle) {}

  static async create(path: string): Promise<TarWriter> {
    return new TarWriter(await open(path, 'wx', 0o600))
  }

  /** Adds bytes under a name. */
  async addBytes(name: string, bytes: Uint8Array, mtime = Date.now()): Promise<TarEntry> {
    await this.out.write(header(name, bytes.byteLength, mtime))
    await this.out.write(bytes)
    await this.pad(bytes.byteLength)
    return { name, size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') }
  }

  /**
   * Copies a file from disk under a name, in chunks. Its size is taken when it is opened; a file that changes while
   * it is copied is refused (the caller decides whether to skip it). Returns null if the file no longer exists.
   */
  async addFile(name: string, path: string): Promise<TarEntry | null> {
    let src: FileHandle
    try {
      src = await open(path, 'r')
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null
      throw e
    }
    try {
      const st = await src.stat()
      const size = st.size
      await this.out.write(header(name, size, st.mtimeMs))
      const hash = createHash('sha256')
      const buf = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)))
      let done = 0
      while (done < size) {
        const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, size - done), done)
        if (bytesRead === 0) throw new TarError(`tar: ${path} shrank while it was copied`)
        const part = buf.subarray(0, bytesRead)
        hash.update(part)
        await this.out.write(part)
        done += bytesRead
      }
      await this.pad(size)
      return { name, size, sha256: hash.digest('hex') }
    } finally {
      await src.close()
    }
  }

  private async pad(size: number) {
    const rest = (BLOCK - (size % BLOCK)) % BLOCK
    if (rest) await this.out.write(new Uint8Array(rest))
  }

  /** Two zero blocks end the archive; the file is flushed to disk and closed. */
  async close() {
    await this.out.write(new Uint8Array(BLOCK * 2))
    await this.out.sync()
    await this.out.close()
  }

  /** Closes without finishing (the caller removes the partial file). */
  async abort() {
    await this.out.close().catch(() => {})
  }
}

/** What tarStream() puts in the archive: bytes under a name, or a file from disk copied as it is read. */
export type TarSource = { name: string; bytes: Uint8Array } | { name: string; path: string }

/** The pieces a streamed tar is made of, in order: per entry its header, its bytes in chunks, its padding. */
async function* tarPieces(sources: Iterable<TarSource>): AsyncGenerator<Uint8Array> {
  const padding = (size: number) => new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK)
  for (const src of sources) {
    if ('bytes' in src) {
      yield header(src.name, src.bytes.byteLength, Date.now())
      yield src.bytes
      yield padding(src.bytes.byteLength)
      continue
    }
    let fh: FileHandle
    try {
      fh = await open(src.path, 'r')
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') continue // deleted since it was listed: left out
      throw e
    }
    try {
      const st = await fh.stat()
      yield header(src.name, st.size, st.mtimeMs)
      let done = 0
      while (done < st.size) {
        // A fresh buffer per piece: the reader may hold it until it is sent.
        const buf = new Uint8Array(Math.min(STREAM_CHUNK, st.size - done))
        const { bytesRead } = await fh.read(buf, 0, buf.length, done)
        if (bytesRead === 0) throw new TarError(`tar: ${src.path} shrank while it was read`)
        yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)
        done += bytesRead
      }
      yield padding(st.size)
    } finally {
      await fh.close()
    }
  }
  yield new Uint8Array(BLOCK * 2)
}
const STREAM_CHUNK = 256 * 1024

/**
 * A tar as a stream [D62]: each header and each chunk of a file (256 KiB at most) is made when the reader asks for
 * it, so an archive of any size holds only a chunk or two in memory; a file's size is taken when it is opened. A
 * reader that stops (a download cancelled) closes the file being read.
 */
export function tarStream(sources: Iterable<TarSource>): ReadableStream<Uint8Array> {
  const pieces = tarPieces(sources)
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          const { value, done } = await pieces.next()
          if (done) return controller.close()
          if (value.byteLength === 0) continue
          return controller.enqueue(value)
        }
      },
      async cancel() {
        await pieces.return(undefined)
      },
    },
    { highWaterMark: 0 },
  )
}

/** Reads a file's bytes in order, a piece at a time. */
class ByteReader {
  private pending: Uint8Array = new Uint8Array(0)
  private offset = 0
  private constructor(private src: FileHandle) {}
  static async open(path: string) {
    return new ByteReader(await open(path, 'r'))
  }
  /** Up to `max` bytes (at least one), or null at the end of the file. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.pending.length === 0) {
      const buf = new Uint8Array(CHUNK)
      const { bytesRead } = await this.src.read(buf, 0, CHUNK, this.offset)
      if (bytesRead === 0) return null
      this.offset += bytesRead
      this.pending = buf.subarray(0, bytesRead)
    }
    const n = Math.min(max, this.pending.length)
    const out = this.pending.subarray(0, n)
    this.pending = this.pending.subarray(n)
    return out
  }
  /** Exactly n bytes, or null when the file ends before them. */
  async exact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const part = await this.some(n - got)
      if (!part) return null
      out.set(part, got)
      got += part.length
    }
    return out
  }
  close() {
    return this.src.close()
  }
}

const text = (b: Uint8Array, at: number, len: number) => {
  const s = b.subarray(at, at + len)
  const end = s.indexOf(0)
  return new TextDecoder('latin1').decode(end < 0 ? s : s.subarray(0, end))
}
const readOctal = (b: Uint8Array, at: number, len: number) => {
  const s = text(b, at, len).trim()
  if (!/^[0-7]+$/.test(s)) throw new TarError('tar: a header has a malformed number')
  return Number.parseInt(s, 8)
}

/**
 * Extracts every regular file of a tar into `dest` (which must be empty or new), hashing each; `accept(name)` says
 * which names may appear. Throws TarError on a damaged archive (bad checksum, truncated), an unsafe or unexpected
 * name, a duplicate, or an entry that is not a file or a folder.
 */
export async function extractTar(
  path: string,
  dest: string,
  accept: (name: string) => boolean,
): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>()
  const r = await ByteReader.open(path)
  try {
    for (;;) {
      const h = await r.exact(BLOCK)
      if (!h) throw new TarError('tar: the archive ends without its end marker (truncated)')
      if (h.every((b) => b === 0)) break
      let sum = 0
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!
      if (readOctal(h, 148, 8) !== sum) throw new TarError('tar: a header checksum does not match (damaged archive)')
      const prefix = text(h, 345, 155)
      const name = (prefix ? `${prefix}/` : '') + text(h, 0, 100)
      const type = String.fromCharCode(h[156]!)
      const size = readOctal(h, 124, 12)
      const clean = name.replace(/\/$/, '')
      if (!safeName(clean)) throw new TarError(`tar: unsafe name "${name}"`)
      if (type === '5') {
        if (size !== 0) throw new TarError(`tar: folder ${name} has a size`)
        continue
      }
      if (type !== '0' && type !== '\0') throw new TarError(`tar: ${name} is not a regular file (type ${type})`)
      if (!accept(clean)) throw new TarError(`tar: unexpected file "${clean}"`)
      if (entries.has(clean)) throw new TarError(`tar: "${clean}" appears twice`)
      const target = join(dest, clean)
      mkdirSync(dirname(target), { recursive: true })
      const out = await open(target, 'wx', 0o600)
      const hash = createHash('sha256')
      try {
        let left = size
        while (left > 0) {
          const part = await r.some(left)
          if (!part) throw new TarError(`tar: the archive ends inside ${clean} (truncated)`)
          hash.update(part)
          await out.write(part)
          left -= part.length
        }
        await out.sync()
      } finally {
        await out.close()
      }
      const rest = (BLOCK - (size % BLOCK)) % BLOCK
      if (rest && !(await r.exact(rest))) throw new TarError('tar: the archive is truncated')
      entries.set(clean, { name: clean, size, sha256: hash.digest('hex') })
    }
  } finally {
    await r.close()
  }
  return entries
}
