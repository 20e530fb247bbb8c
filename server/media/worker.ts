// A media worker (M62): one data plane (plane.ts: the media socket, the transports, the rooms' routers) in a thread
// of its own, so that a full room never delays HTTP, the WebSocket or Backchannel, and a burst of messages never
// delays audio. Started by WorkerPlane (worker-plane.ts) on the main thread, which posts the plane's commands; the
// plane's events, its logs and the answers go back by message. In the compiled binary it is an entry point of its
// own (scripts/build.ts).
import type { Logger, LogLevel } from '../lib/log'
import { LocalPlane, type PlaneEvents } from './plane'
import type { FromWorker, ToWorker } from './worker-plane'

declare const self: Worker

const post = (m: FromWorker) => self.postMessage(m)

const RANK: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** Logs go to the server's logger, on the main thread (one format, one output); nothing below LOG_LEVEL crosses. */
function workerLog(level: LogLevel): Logger {
  const plain = (ctx?: object) =>
    ctx ? JSON.parse(JSON.stringify(ctx, (_k, v) => (v instanceof Error ? v.message : v))) : undefined
  const at = (l: LogLevel) => (msg: string, ctx?: object) => {
    if (RANK.indexOf(l) >= RANK.indexOf(level)) post({ kind: 'log', level: l, msg, ctx: plain(ctx) })
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}

let plane: LocalPlane | null = null
let log: Logger = workerLog('info')

const events: PlaneEvents = {
  connected: (peerId) => post({ kind: 'event', name: 'connected', args: [peerId] }),
  expired: (peerId) => post({ kind: 'event', name: 'expired', args: [peerId] }),
  levels: (roomId, levels) => post({ kind: 'event', name: 'levels', args: [roomId, levels] }),
  slots: (peerId, slots) => post({ kind: 'event', name: 'slots', args: [peerId, slots] }),
  tap: (packets) => post({ kind: 'event', name: 'tap', args: [packets] }),
  report: (report) => post({ kind: 'event', name: 'report', args: [report] }),
}

// A stray error in a callback must not end the thread (and every room's audio on it): it is logged.
process.on('uncaughtException', (error) => log.error('media worker: uncaught error', { error }))
process.on('unhandledRejection', (error) => log.error('media worker: unhandled rejection', { error }))

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data
  if (m.kind === 'init') {
    log = workerLog(m.logLevel)
    try {
      plane = await LocalPlane.open(m.options, events, log)
      post({ kind: 'ready', info: plane.info })
    } catch (error) {
      post({ kind: 'failed', error: error instanceof Error ? error.message : String(error) })
    }
    return
  }
  if (!plane) {
    // Not open (yet, or any more): a call is answered so that nothing waits for it; a cast has nothing to act on.
    if (m.kind === 'call') post({ kind: 'reply', id: m.id, error: 'media: the media worker is not open' })
    return
  }
  if (m.kind === 'cast') {
    try {
      ;(plane[m.method] as (...a: unknown[]) => void)(...m.args)
    } catch (error) {
      log.error('media worker: command failed', { method: m.method, error })
    }
    return
  }
  try {
    const value = await (plane[m.method] as (...a: unknown[]) => Promise<unknown>)(...m.args)
    post({ kind: 'reply', id: m.id, value })
  } catch (error) {
    post({ kind: 'reply', id: m.id, error: error instanceof Error ? error.message : String(error) })
  }
  if (m.method === 'stop') plane = null
}
