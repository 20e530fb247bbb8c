// The replay worker [RP30]: mixes a replay or cuts a clip off the server's thread, one request per worker, answering
// progress as it goes and then once with the result. Started by runReplayWorker (worker-client.ts); in the compiled
// binary it is an entry point of its own (scripts/build.ts), and the Opus codec's WebAssembly is embedded with it.
import { cutClipHere } from './clip'
import { mixReplay, NothingToMixError } from './mix'
import type { WorkerReply, WorkerRequest } from './worker-client'

declare const self: Worker

/** Progress is posted at most this often. */
const PROGRESS_EVERY_MS = 250

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  const req = e.data
  let reply: WorkerReply
  try {
    if (req.type === 'mix') {
      let last = 0
      const result = mixReplay(req.input, (share) => {
        const now = Date.now()
        if (now - last < PROGRESS_EVERY_MS) return
        last = now
        self.postMessage({ type: 'progress', share } satisfies WorkerReply)
      })
      reply = { type: 'done', result }
    } else {
      reply = { type: 'done', result: cutClipHere(req.srcPath, req.startMs, req.durationMs, req.destPath) }
    }
  } catch (error) {
    const kind = error instanceof RangeError ? 'range' : error instanceof NothingToMixError ? 'empty' : 'error'
    reply = { type: 'failed', kind, error: error instanceof Error ? error.message : String(error) }
  }
  self.postMessage(reply)
}
