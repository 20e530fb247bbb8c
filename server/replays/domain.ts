// The replay library as a domain (replay-app's half of issue 10): the routes for replays, clips and the private feed,
// and the retention sweep. Built after rooms; the mix itself is the mixer's (server/replays/jobs.ts), the recording
// the capture's (server/replays/recorder.ts). start(): the hourly retention sweep. stop(): releases its timer.
import { Elysia, type AnyElysia } from 'elysia'
import type { AccountsApi, AuditFn, ReplaysApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import { cutClip } from './clip'
import { ReplayLibrary } from './library'
import { replayPages } from './pages'
import { replayRoutes } from './routes'
import type { ReplaysStore } from './store'

export interface ReplayLibraryDomain extends Domain<ReplayLibrary> {
  readonly routes: AnyElysia
}

export function createReplayLibrary(deps: {
  core: Core
  accounts: AccountsApi
  rooms: RoomsApi
  replays: ReplaysApi
  audit: AuditFn
  /** The replays domain's store (its rows are the library's too). */
  store: ReplaysStore
}): ReplayLibraryDomain {
  const { store } = deps
  const lib = new ReplayLibrary({ ...deps, store, cutClip })
  return {
    api: lib,
    routes: new Elysia().use(replayRoutes(deps, lib)).use(replayPages(deps, lib)),
    start: () => lib.startSweeping(),
    stop: () => lib.stop(),
  }
}
