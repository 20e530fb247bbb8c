// The Opus codec [RP20]: libopus 1.4 compiled to WebAssembly (the `opusscript` package, pinned), used directly through
// its emscripten module so that its .wasm file is passed in as bytes: imported as a file, it is embedded in the
// compiled binary like the client's assets (Bun.embeddedFiles), and read from node_modules when run from source.
// Mono, 48 kHz, 16-bit samples in and out. Only the replay worker (and tests) load it: never the server's thread.
// Its bindings pass samples as bytes, one byte per 16-bit slot of the heap (low byte first), both ways.
import { readFileSync } from 'node:fs'
import factory, { type OpusNative } from 'opusscript/build/opusscript_native_wasm.js'
import wasmPath from 'opusscript/build/opusscript_native_wasm.wasm' with { type: 'file' }

const RATE = 48_000
/** Samples per millisecond at 48 kHz. */
export const PER_MS = RATE / 1000
/** The longest Opus packet's duration (120 ms): what the decoder's buffer holds. */
const MAX_SAMPLES = 5760
const MAX_PACKET = 1276 * 3

const APPLICATION_VOIP = 2048
const SET_BITRATE = 4002
const SET_COMPLEXITY = 4010
const GET_LOOKAHEAD = 4027
const RESET_STATE = 4028

let native: OpusNative | null = null
function load(): OpusNative {
  native ??= factory({ wasmBinary: readFileSync(wasmPath) })
  return native
}

/** Memory inside the codec's heap: a PCM buffer and a packet buffer, freed by `free()`. */
abstract class Codec {
  protected readonly m = load()
  // Two 16-bit slots per sample, and room for the bindings' in-place packing reading past the end.
  protected readonly pcmPtr = this.m._malloc(MAX_SAMPLES * 8)
  protected readonly packetPtr = this.m._malloc(MAX_PACKET)
  protected freed = false

  protected slots(samples: number): Uint16Array {
    return this.m.HEAPU16.subarray(this.pcmPtr >> 1, (this.pcmPtr >> 1) + samples * 2)
  }

  free() {
    if (this.freed) return
    this.freed = true
    this.m._free(this.pcmPtr)
    this.m._free(this.packetPtr)
  }
}

export class OpusEncoder extends Codec {
  private readonly h = new this.m.OpusScriptHandler(RATE, 1, APPLICATION_VOIP)
  /** The encoder's delay in samples: the Ogg stream's pre-skip. */
  readonly lookahead: number

  constructor(bitrate: number, complexity = 8) {
    super()
    this.h._encoder_ctl(SET_BITRATE, bitrate)
    this.h._encoder_ctl(SET_COMPLEXITY, complexity)
    const out = this.m._malloc(4)
    this.h._encoder_ctl(GET_LOOKAHEAD, out)
    this.lookahead = this.m.HEAP32[out >> 2]!
    this.m._free(out)
  }

  /** One packet from `samples` (a whole Opus frame: 2.5–60 ms, e.g. 960 for 20 ms). */
  encode(samples: Int16Array): Uint8Array {
    const slots = this.slots(samples.length)
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i]! & 0xffff
      slots[2 * i] = v & 0xff
      slots[2 * i + 1] = v >> 8
    }
    const len = this.h._encode(this.pcmPtr, samples.length * 2, this.packetPtr, samples.length)
    if (len < 0) throw new Error(`opus: encode failed (${len})`)
    return this.m.HEAPU8.slice(this.packetPtr, this.packetPtr + len)
  }

  override free() {
    if (this.freed) return
    this.m.OpusScriptHandler.destroy_handler(this.h)
    super.free()
  }
}

export class OpusDecoder extends Codec {
  private readonly h = new this.m.OpusScriptHandler(RATE, 1, APPLICATION_VOIP)

  /**
   * The samples of one packet (a copy). An empty packet asks for loss concealment: the decoder makes up to 120 ms
   * that fade from the last packet heard.
   */
  decode(packet: Uint8Array): Int16Array {
    if (packet.length > MAX_PACKET) throw new RangeError(`opus: a packet of ${packet.length} bytes`)
    this.m.HEAPU8.set(packet, this.packetPtr)
    const n = this.h._decode(this.packetPtr, packet.length, this.pcmPtr)
    if (n < 0) throw new Error(`opus: decode failed (${n})`)
    const slots = this.slots(n)
    const out = new Int16Array(n)
    for (let i = 0; i < n; i++) out[i] = (slots[2 * i + 1]! << 8) | slots[2 * i]!
    return out
  }

  /** Forgets the past (after a long gap, so that no concealment carries over). */
  reset() {
    this.h._decoder_ctl(RESET_STATE, 0)
  }

  override free() {
    if (this.freed) return
    this.m.OpusScriptHandler.destroy_handler(this.h)
    super.free()
  }
}

/** The number of 48 kHz samples an Opus packet holds, from its TOC byte (RFC 6716 §3.1); 0 if it is malformed. */
export function packetSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 0
  const toc = packet[0]!
  const config = toc >> 3
  let frame: number
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]!
  else if (config < 16) frame = config & 1 ? 960 : 480
  else frame = [120, 240, 480, 960][config & 3]!
  const code = toc & 3
  let frames: number
  if (code === 0) frames = 1
  else if (code !== 3) frames = 2
  else if (packet.length < 2) return 0
  else frames = packet[1]! & 0x3f
  return frame * frames
}
