// Images, videos and voice messages in threads: checked by their bytes (images: PNG, JPEG, WebP, GIF ≤ 10 MB; videos:
// MP4 H.264/AAC or WebM VP8/VP9/AV1/Opus up to the admin's maxVideoMb; voice: Opus in WebM or Ogg, ≤ 5 minutes; see
// lib/containers.ts), stored under DATA_DIR/uploads/backchannel under a name of ours (never the sender's), served only
// to those who may read the thread. They count together in a member's daily bytes.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fail } from '../errors'
import { type Container, ContainerError, readContainer } from '../lib/containers'
import { cleanImage } from '../http/upload'
import { newToken } from '../lib/crypto'
import { RateLimiter } from '../lib/ratelimit'
import { LIMITS } from '../protocol'
import { IMAGE_TYPES } from './model'
import type { BackchannelService } from './service'

const NAME = /^\d+-[A-Za-z0-9_-]{16}\.(png|jpg|webp|gif|mp4|webm|ogg)$/
/** Images a member may upload: a burst of 20, then one every 3 s. */
const UPLOAD_RATE = { burst: 20, perSecond: 1 / 3 } as const
/** Bytes of images a member may store in 24 hours (the rate alone would let one member fill the disk). */
const UPLOAD_DAILY_BYTES = 500 * 1024 * 1024

export class Uploads {
  private readonly dir: string
  private limiter = new RateLimiter(UPLOAD_RATE.burst, UPLOAD_RATE.perSecond)
  constructor(
    private svc: BackchannelService,
    dataDir: string,
    private maxVideoMb: () => number,
  ) {
    this.dir = join(dataDir, 'uploads', 'backchannel')
  }

  /** The checks every upload passes: the member may post in the thread, the rate, the size and the daily bytes. */
  private async admit(
    userId: number,
    threadId: number,
    bytes: Uint8Array,
    max: number,
    what: string,
    tooLarge: string,
  ) {
    const t = await this.svc.readable(threadId, userId)
    await this.svc.checkWrite(t, userId, 'upload')
    const wait = this.limiter.take(`u${userId}`)
    if (wait) fail('rate_limited', `Too many uploads; try again in ${wait} s.`, wait)
    if (bytes.byteLength === 0) fail('validation', `body: ${what} is required`)
    if (bytes.byteLength > max) fail('payload_too_large', tooLarge)
    const today = await this.svc.store.uploadedSince(userId, Date.now() - 86_400_000)
    if (today + bytes.byteLength > UPLOAD_DAILY_BYTES)
      fail('rate_limited', 'You have sent many images and videos today; try again later.', 3600)
  }

  /** Stores an image for a thread the member may post in; returns its name (to send with a message) and URL. */
  async save(userId: number, threadId: number, bytes: Uint8Array) {
    await this.admit(userId, threadId, bytes, LIMITS.imageBytes, 'an image', 'An image may be at most 10 MB.')
    // What is stored has no metadata (EXIF/GPS, XMP…): stripped from its bytes.
    const {
      mime,
      ext,
      bytes: clean,
    } = await cleanImage(bytes, IMAGE_TYPES, 'An image must be a PNG, JPEG, WebP or GIF.')
    const name = `${threadId}-${newToken(12)}.${ext}`
    // The folder is made with the first image (building the domain writes nothing).
    mkdirSync(this.dir, { recursive: true })
    await Bun.write(join(this.dir, name), clean)
    await this.svc.store.insertUpload({ name, thread_id: threadId, user_id: userId, mime, size: clean.byteLength })
    return { name, url: this.svc.views.imageUrl(threadId, name), mime, size: clean.byteLength }
  }

  /**
   * Stores a video (with its poster, an image the member uploaded to the thread, and the duration the browser
   * measured) for a thread the member may post in. The container's own duration wins when it has one.
   */
  async saveVideo(userId: number, threadId: number, bytes: Uint8Array, meta: { durationMs: number; poster?: string }) {
    const mb = this.maxVideoMb()
    await this.admit(userId, threadId, bytes, mb * 1024 * 1024, 'a video', `A video may be at most ${mb} MB.`)
    const c = readMedia(bytes, 'A video must be an MP4 (H.264/AAC) or a WebM (VP8, VP9 or AV1 with Opus).')
    if (!c.hasVideo) fail('unsupported_media', 'A video needs a video track (send sound as a voice message).')
    if (c.kind === 'ogg') fail('unsupported_media', 'A video must be an MP4 or a WebM.')
    if (meta.poster) {
      const p = await this.svc.store.upload(meta.poster)
      if (p?.kind !== 'image' || p.thread_id !== threadId || p.user_id !== userId)
        fail('validation', 'poster: upload the poster image to this thread first')
    }
    const durationMs = c.durationMs ?? meta.durationMs
    if (durationMs > LIMITS.videoMs) fail('validation', 'duration: a video may be at most an hour long')
    return this.keep(userId, threadId, c, { kind: 'video', durationMs, poster: meta.poster ?? null })
  }

  /** Stores a voice message (Opus in WebM or Ogg, ≤ 5 minutes) with its waveform. */
  async saveVoice(
    userId: number,
    threadId: number,
    bytes: Uint8Array,
    meta: { durationMs: number; waveform: number[] },
  ) {
    await this.admit(userId, threadId, bytes, LIMITS.voiceBytes, 'a recording', 'A voice message may be at most 10 MB.')
    const c = readMedia(bytes, 'A voice message must be Opus in WebM or Ogg.')
    if (c.hasVideo || c.codecs.some((x) => x !== 'opus'))
      fail('unsupported_media', 'A voice message must be Opus in WebM or Ogg.')
    const durationMs = c.durationMs ?? meta.durationMs
    // A recording stopped at 5:00 may end a frame or two later in its container.
    if (durationMs > LIMITS.voiceMs + 1000) fail('validation', 'duration: a voice message may be at most 5 minutes')
    const waveform = Uint8Array.from(meta.waveform)
    return this.keep(userId, threadId, c, { kind: 'voice', durationMs, waveform })
  }

  /** Writes the file as the container left it (its metadata dropped) under a name of ours, and records it. */
  private async keep(
    userId: number,
    threadId: number,
    c: Container,
    meta: { kind: 'video' | 'voice'; durationMs: number; poster?: string | null; waveform?: Uint8Array },
  ) {
    const name = `${threadId}-${newToken(12)}.${c.ext}`
    mkdirSync(this.dir, { recursive: true })
    const bytes = c.bytes
    await Bun.write(join(this.dir, name), bytes)
    const row = {
      name,
      thread_id: threadId,
      user_id: userId,
      mime: c.mime,
      size: bytes.byteLength,
      kind: meta.kind,
      duration_ms: Math.round(meta.durationMs),
      poster: meta.poster ?? null,
      waveform: meta.waveform ?? null,
    }
    await this.svc.store.insertUpload(row)
    return { name, ...this.svc.views.media({ ...row, created_at: Date.now() }) }
  }

  /** The file and its type, for a member who may read the thread it was sent to. */
  async open(userId: number, threadId: number, name: string) {
    await this.svc.readable(threadId, userId)
    if (!NAME.test(name)) fail('not_found')
    const up = await this.svc.store.upload(name)
    if (!up || up.thread_id !== threadId) fail('not_found')
    return { file: Bun.file(join(this.dir, name)), mime: up.mime }
  }
}

/** The container of a video or voice file (its metadata blanked in place), or `unsupported_media` saying why not. */
function readMedia(bytes: Uint8Array, refused: string): Container {
  try {
    return readContainer(bytes)
  } catch (e) {
    if (e instanceof ContainerError) fail('unsupported_media', `${refused} (${e.message})`)
    throw e
  }
}
