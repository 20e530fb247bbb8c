// The rooms domain: creating and scheduling rooms, who may join, the live sessions (seats, roles, hands, mutes),
// moderation, the hallway. Built after accounts, push and the audit log; media and backchannel follow its events
// (RoomsApi.on). Its WebSocket handlers are returned as `ws` for app.ts to register on the hub; a closed socket's seat
// is kept for the grace period through core.sockets.onClose. start(): resume the rooms a previous run left live (with
// several nodes: those no live node holds, every 5 s those whose node died, and those a draining node hands over).
// stop(): save the live rooms' seats, release the hallway's and the live rooms' timers.
import { Elysia, type AnyElysia } from 'elysia'
import type { AccountsApi, AuditFn, PushApi, RoomsApi } from '../contracts'
import type { Core } from '../core'
import type { Domain } from '../domain'
import type { RoomsLink } from './directory'
import type { HandoverLink } from './handover'
import { Hallway, HallwayFeed, liveCard } from './hallway'
import { roomPages } from './pages'
import { roomsRoutes } from './routes'
import { byDialect } from '../db/conn'
import { RoomsService } from './service'
import { type RoomsStore, SqliteRoomsStore } from './store'
import { PgRoomsStore } from './store-pg'
import { roomsWs, type RoomsWs } from './ws'

export interface RoomsDomain extends Domain<RoomsApi> {
  /** The service itself (tests reach its sessions and timers). */
  readonly service: RoomsService
  readonly routes: AnyElysia
  readonly ws: RoomsWs
  /** The hallway's list for a viewer, as `GET /api/rooms` answers it (the app's first data: server/http/static.ts). */
  readonly hallway: Hallway['list']
}

/** Several nodes: how often a node looks for live rooms that no node holds any more (their node died). */
const ORPHAN_CHECK_MS = 5000

export function createRooms(deps: {
  core: Core
  accounts: AccountsApi
  push: PushApi
  audit: AuditFn
  /** Several nodes: the directory of rooms' link (directory.ts roomsLink). */
  link?: RoomsLink | null
  /** Several nodes: how a draining node hands its live rooms to another (handover.ts handoverLink). */
  handover?: HandoverLink | null
}): RoomsDomain {
  const { core } = deps
  // Several nodes (REDIS_URL): the hallway lists the rooms of every node, from the cards their holders publish.
  const clustered = core.config.redisUrl !== ''
  let orphans: ReturnType<typeof setInterval> | null = null
  let service: RoomsService
  const feed = new HallwayFeed(
    core.bus,
    clustered
      ? () => service.publishCards(liveCard).catch((e) => core.log.error('rooms: cards', { error: e }))
      : undefined,
  )
  service = new RoomsService({
    ...deps,
    store: byDialect<RoomsStore>(
      core.conn,
      (g) => new SqliteRoomsStore(g),
      (c) => new PgRoomsStore(c),
    ),
    hallwayChanged: () => feed.changed(),
    timing: {
      graceMs: core.config.roomGraceMs,
      resumeMs: core.config.roomResumeMs,
      hostlessMs: core.config.roomHostlessMs,
    },
  })
  const hallway = new Hallway(deps.accounts, service, clustered ? core.registry : null)
  core.sockets.onClose((conn) => service.connClosed(conn))
  return {
    api: service,
    service,
    routes: new Elysia().use(roomsRoutes(deps, service, hallway)).use(roomPages(deps, service)),
    ws: roomsWs(core, service),
    hallway: (viewerId) => hallway.list(viewerId),
    /**
     * Rooms a previous run left live get their sessions back, seats waiting for their participants: only in the
     * serving process (the start phase), never in a CLI command that builds the same graph.
     */
    start: async () => {
      await service.load()
      await service.resume(clustered ? await service.claimLive() : undefined)
      // Rooms a draining node hands over (W45) are taken from now on.
      await deps.handover?.start((roomId) => service.takeOver(roomId))
      if (clustered)
        orphans = setInterval(
          () => void service.adoptOrphans().catch((e) => core.log.error('rooms: adopting rooms', { error: e })),
          ORPHAN_CHECK_MS,
        )
    },
    /** Saves the live rooms' seats for the next start, then releases every timer. */
    stop: async () => {
      if (orphans) clearInterval(orphans)
      feed.close()
      await service.suspend()
      service.close()
    },
  }
}
