// Runs one request in a replay worker (server/replays/worker.ts) and answers its result; the worker ends after it.
import type { ClipResult } from './clip'
import { type MixInput, type MixResult, NothingToMixError } from './mix'

export type WorkerRequest =
  | { type: 'mix'; input: MixInput }
  | { type: 'clip'; srcPath: string; startMs: number; durationMs: number; destPath: string }
export type WorkerReply =
  | { type: 'progress'; share: number }
  | { type: 'done'; result: MixResult | ClipResult }
  | { type: 'failed'; kind: 'range' | 'empty' | 'error'; error: string }

/**
 * The worker's module. From source, beside this file. In the compiled binary every bundled module's import.meta.url
 * is the binary's entry (/$bunfs/root/townhall) and the worker is an entry point of its own (scripts/build.ts),
 * stored by its path under server/ (test/integration/binary.test.ts mixes a replay there).
 */
const WORKER = new URL(
  import.meta.url.startsWith('file:///$bunfs/') ? './replays/worker.ts' : './worker.ts',
  import.meta.url,
).href

export interface RunningWork {
  done: Promise<MixResult | ClipResult>
  /** Ends the worker; `done` rejects. */
  cancel(): void
}

/** Starts a worker for `req`; `progress` hears the share done (mixes only). */
export function startReplayWorker(req: WorkerRequest, progress: (share: number) => void = () => {}): RunningWork {
  const worker = new Worker(WORKER)
  let settled = false
  let cancel = () => {}
  const done = new Promise<MixResult | ClipResult>((resolve, reject) => {
    const end = (f: () => void) => {
      if (settled) return
      settled = true
      worker.terminate()
      f()
    }
    cancel = () => end(() => reject(new Error('replays: the work was stopped')))
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const r = e.data
      if (r.type === 'progress') progress(r.share)
      else if (r.type === 'done') end(() => resolve(r.result))
      else {
        const err =
          r.kind === 'range' ? new RangeError(r.error) : r.kind === 'empty' ? new NothingToMixError(r.error) : null
        end(() => reject(err ?? new Error(r.error)))
      }
    }
    worker.onerror = (e) => end(() => reject(new Error(`replays: the replay worker failed: ${e.message}`)))
    // A worker that ends without answering (it cannot load, it is killed): the work fails rather than hang.
    worker.addEventListener('close', () => end(() => reject(new Error('replays: the replay worker ended early'))))
    worker.postMessage(req)
  })
  return { done, cancel: () => cancel() }
}

export function runReplayWorker(req: WorkerRequest): Promise<MixResult | ClipResult> {
  return startReplayWorker(req).done
}
