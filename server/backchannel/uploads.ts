// Images in threads: checked by their bytes (PNG, JPEG, WebP, GIF ≤ 10 MB), stored under DATA_DIR/uploads/backchannel,
// served only to those who may read the thread.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fail } from '../errors'
import { cleanImage } from '../http/upload'
import { newToken } from '../lib/crypto'
import { RateLimiter } from '../lib/ratelimit'
import { LIMITS } from '../protocol'
import { IMAGE_TYPES } from './model'
import type { BackchannelService } from './service'

const NAME = /^\d+-[A-Za-z0-9_-]{16}\.(png|jpg|webp|gif)$/
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
  ) {
    this.dir = join(dataDir, 'uploads', 'backchannel')
  }

  /** Stores an image for a thread the member may post in; returns its name (to send with a message) and URL. */
  async save(userId: number, threadId: number, bytes: Uint8Array) {
    const t = this.svc.readable(threadId, userId)
    this.svc.checkPost(t, userId)
    const wait = this.limiter.take(`u${userId}`)
    if (wait) fail('rate_limited', `Too many images; try again in ${wait} s.`, wait)
    if (bytes.byteLength === 0) fail('validation', 'body: an image is required')
    if (bytes.byteLength > LIMITS.imageBytes) fail('payload_too_large', 'An image may be at most 10 MB.')
    const today = this.svc.store.uploadedSince(userId, Date.now() - 86_400_000)
    if (today + bytes.byteLength > UPLOAD_DAILY_BYTES)
      fail('rate_limited', 'You have sent many images today; try again later.', 3600)
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
    this.svc.store.insertUpload({ name, thread_id: threadId, user_id: userId, mime, size: clean.byteLength })
    return { name, url: this.svc.views.imageUrl(threadId, name), mime, size: clean.byteLength }
  }

  /** The file and its type, for a member who may read the thread it was sent to. */
  open(userId: number, threadId: number, name: string) {
    this.svc.readable(threadId, userId)
    if (!NAME.test(name)) fail('not_found')
    const up = this.svc.store.upload(name)
    if (!up || up.thread_id !== threadId) fail('not_found')
    return { file: Bun.file(join(this.dir, name)), mime: up.mime }
  }
}
