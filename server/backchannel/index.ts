// The Backchannel domain: 1:1 and group threads, requests, messages, read state, sync, search, images, and a room's
// chat, backstage and Q&A. Built after the rooms (it follows their events: joining a room adds to its chat, the stage
// to its backstage) and before admin (which reads its stats and reported messages through BackchannelApi).
// Construction reads the seq counter, indexes for search the messages a crash left out of the index (migration 0010)
// and subscribes to the rooms' in-process events; sends schedule the search index's own transaction (a timer, within
// 250 ms). stop(): the sends still queued are committed and indexed before the database closes.
import type { AccountsApi, AuditFn, BackchannelApi, PushApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import type { BackchannelRequests } from '../protocol'
import type { Handlers } from '../realtime/hub'
import { RoomRequests, RoomThreads } from './rooms'
import { backchannelRoutes } from './routes'
import { BackchannelService } from './service'
import { type BackchannelStore, SqliteBackchannelStore } from './store'
import { Uploads } from './uploads'
import { backchannelWs } from './ws'

export interface BackchannelDomain extends Domain<BackchannelApi> {
  readonly routes: ReturnType<typeof backchannelRoutes>
  /** Its WebSocket handlers (app.ts mounts them on the gateway). */
  readonly ws: Handlers<keyof typeof BackchannelRequests>
  /** The service itself, for tests and benchmarks (the send queue's counters). */
  readonly service: BackchannelService
  stop(): Promise<void>
}

export interface BackchannelDeps {
  core: Core
  accounts: AccountsApi
  rooms: RoomsApi
  push: PushApi
  audit: AuditFn
  /** Its store: SQLite through core.gate unless given (PgBackchannelStore, store-pg.ts, on Postgres). */
  store?: BackchannelStore
}

export function createBackchannel(deps: BackchannelDeps): BackchannelDomain {
  const store = deps.store ?? new SqliteBackchannelStore(deps.core.gate)
  const roomThreads = new RoomThreads(store, deps.rooms)
  const service = new BackchannelService({ ...deps, store, rooms: roomThreads })
  const uploads = new Uploads(service, deps.core.config.dataDir, () => deps.core.settings.get().maxVideoMb)
  roomThreads.followRooms(deps.core.log)
  const api: BackchannelApi = {
    stats: () => service.stats(),
    reportedMessage: (messageId, viewerId) => service.reportedMessage(messageId, viewerId),
    exportOf: (userId) => service.exportOf(userId),
    eraseMember: (userId) => service.eraseMember(userId),
    stagedQuestions: (roomId) => store.stagedQuestions(roomId),
    on: (event, fn) => service.events.on(event, fn),
    canRead: async (threadId, userId) => {
      const t = await service.store.thread(threadId)
      return !!t && (await service.canRead(t, userId))
    },
  }
  return {
    api,
    service,
    routes: backchannelRoutes(deps, service, uploads),
    ws: backchannelWs(service, new RoomRequests(service, roomThreads, deps.rooms, deps.audit)),
    // Acknowledged sends are committed; anything still queued is committed now, and indexed for search, before the
    // database closes.
    stop: async () => {
      await roomThreads.settled()
      await service.sends.drain()
      await store.stop()
    },
    // The rooms stop after Backchannel: their last events' membership rows are written before the database closes.
    settle: async () => {
      await roomThreads.settled()
    },
  }
}
