// Files imported as text (SQL migrations) are embedded in the binary.
declare module '*.sql' {
  const text: string
  export default text
}

// Files imported with `{ type: 'file' }` (the Opus codec's WebAssembly): a path, embedded in the binary.
declare module '*.wasm' {
  const path: string
  export default path
}

// libopus 1.4 compiled to WebAssembly by emscripten (the opusscript package): its module factory.
declare module 'opusscript/build/opusscript_native_wasm.js' {
  export interface OpusHandler {
    _encode(pcm: number, samples: number, out: number, frameSize: number): number
    _decode(packet: number, length: number, pcm: number): number
    _encoder_ctl(ctl: number, arg: number): number
    _decoder_ctl(ctl: number, arg: number): number
  }
  export interface OpusNative {
    HEAPU8: Uint8Array
    HEAPU16: Uint16Array
    HEAP32: Int32Array
    _malloc(bytes: number): number
    _free(ptr: number): void
    OpusScriptHandler: { new (rate: number, channels: number, application: number): OpusHandler } & {
      destroy_handler(h: OpusHandler): void
    }
  }
  const factory: (opts: { wasmBinary: Uint8Array }) => OpusNative
  export default factory
}
