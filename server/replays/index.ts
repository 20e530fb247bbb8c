// The replays domain (issue 10): the recorder that writes each consenting speaker's capture file while a recorded
// room is live, and the replays' rows. Built after rooms and media (it follows the rooms' events and taps the media
// plane). start(): timers, and the recorded rooms a previous run left live record again. stop(): writes what is
// buffered and closes the files. `api.on('pending', …)`: a replay waits for its mix (the mix job follows it).
import type { MediaApi, ReplayEvents, ReplaysApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { Emitter } from '../lib/events'
import { Recorder } from './recorder'
import { CaptureStore } from './tracks'

export interface ReplaysDomain extends Domain<ReplaysApi> {
  readonly recorder: Recorder
  readonly store: CaptureStore
}

export function createReplays(deps: { core: Core; rooms: RoomsApi; media: MediaApi }): ReplaysDomain {
  const events = new Emitter<ReplayEvents>('replays', deps.core.log)
  const store = new CaptureStore(deps.core.db)
  const recorder = new Recorder({ ...deps, store, pending: (e) => events.emit('pending', e) })
  return {
    api: {
      on: (event, fn) => events.on(event, fn),
    },
    recorder,
    store,
    start: () => recorder.start(),
    stop: () => recorder.stop(),
  }
}
