// Raw uploads (an avatar, an image in a thread): the body is refused before it is read when its declared length is
// too large, and an image's type is judged by its bytes, never by its name or a declared content type; what is
// stored of an image has no metadata (cleanImage).
import { fileTypeFromBuffer } from 'file-type'
import { fail } from '../errors'
import { StripError, stripMetadata } from '../lib/strip-metadata'

/** Reads a raw request body; `payload_too_large` (with `tooLarge` as the message) if it declares over `max` bytes. */
export async function rawBody(request: Request, max: number, tooLarge: string): Promise<Uint8Array> {
  if (Number(request.headers.get('content-length') ?? 0) > max) fail('payload_too_large', tooLarge)
  return new Uint8Array(await request.arrayBuffer())
}

/** An image's type from its bytes if it is one of `allowed` (MIME type → file extension); else `unsupported_media`. */
async function sniffImage(
  bytes: Uint8Array,
  allowed: Record<string, string>,
  refused: string,
): Promise<{ mime: string; ext: string }> {
  const type = await fileTypeFromBuffer(bytes)
  const ext = type ? allowed[type.mime] : undefined
  if (!type || !ext) fail('unsupported_media', refused)
  return { mime: type.mime, ext }
}

/**
 * sniffImage, then the image without its metadata (EXIF with GPS, XMP, IPTC, comments, text chunks; the orientation
 * is kept): the bytes to store. An image whose structure does not parse is refused rather than stored as it came.
 */
export async function cleanImage(
  bytes: Uint8Array,
  allowed: Record<string, string>,
  refused: string,
): Promise<{ mime: string; ext: string; bytes: Uint8Array }> {
  const type = await sniffImage(bytes, allowed, refused)
  try {
    return { ...type, bytes: stripMetadata(bytes, type.mime) }
  } catch (e) {
    if (e instanceof StripError) fail('unsupported_media', `${refused} This one could not be read (${e.message}).`)
    throw e
  }
}
