// The replays domain (issue 10): the recorder that writes each consenting speaker's capture file while a recorded
// room is live, the replays' rows, and the mix job that turns an ended room's capture files into its replay. Built
// after rooms, media and Backchannel (it follows the rooms' events, taps the media plane, and the mix names the
// speakers and marks the questions brought to stage through the accounts' and Backchannel's APIs). start(): timers,
// the recorded rooms a previous run left live record again, and the mix job (which mixes again what a crash left
// 'mixing'). stop(): ends the mix under way, writes what is buffered and closes the files. `api.on('pending', …)`: a
// replay waits for its mix (the mix job follows it); `api.on('mix', …)`: its progress and end; `api.on('ready', …)`:
// it can be heard.
import type { AccountsApi, BackchannelApi, MediaApi, ReplayEvents, ReplaysApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { Emitter } from '../lib/events'
import { MixJobs } from './jobs'
import { Recorder } from './recorder'
import { byDialect } from '../db/conn'
import { type ReplaysStore, SqliteReplaysStore } from './store'
import { PgReplaysStore } from './store-pg'

export interface ReplaysDomain extends Domain<ReplaysApi> {
  readonly recorder: Recorder
  readonly store: ReplaysStore
  readonly mixer: MixJobs
}

export function createReplays(deps: {
  core: Core
  rooms: RoomsApi
  media: MediaApi
  accounts: AccountsApi
  backchannel: BackchannelApi
}): ReplaysDomain {
  const events = new Emitter<ReplayEvents>('replays', deps.core.log)
  const store = byDialect<ReplaysStore>(
    deps.core.conn,
    (g) => new SqliteReplaysStore(g),
    (c) => new PgReplaysStore(c),
  )
  const recorder = new Recorder({ ...deps, store, pending: (e) => events.emit('pending', e) })
  const { log, config } = deps.core
  const mixer = new MixJobs({
    store,
    log,
    dataDir: config.dataDir,
    changed: (e) => events.emit('mix', e),
    ready: (e) => events.emit('ready', e),
    roomTitle: (roomId) => deps.rooms.room(roomId)?.title ?? '',
    names: (userIds) => new Map([...deps.accounts.byIds(userIds)].map(([id, a]) => [id, a.displayName])),
    stagedQuestions: (roomId) => deps.backchannel.stagedQuestions(roomId),
  })
  events.on('pending', () => mixer.kick())
  return {
    api: {
      on: (event, fn) => events.on(event, fn),
      remix: () => mixer.kick(),
    },
    recorder,
    store,
    mixer,
    start: async () => {
      await recorder.start()
      mixer.start()
    },
    stop: async () => {
      await mixer.stop()
      await recorder.stop()
    },
  }
}
