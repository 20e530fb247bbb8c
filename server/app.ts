// The composition: one Bun process serving the API, the WebSocket gateway and the PWA. buildTownhall() builds the
// core, then every domain in dependency order with its dependencies passed in (no side effects: no timer, no
// socket); openTownhall() builds it and brings the database to its schema (Postgres's migrations); createApp() mounts
// their routes; startServer() starts them (timers, ending a previous run's rooms) and listens. The CLI opens the same
// graph and starts nothing.
import { Elysia, type AnyElysia } from 'elysia'
import pkg from '../package.json'
import { publicOrigin, type Config } from './config'
import { DEFAULT_LIMITS, makeLimiter, makeLimits, type Core, type LimitSettings, type PasswordCost } from './core'
import type { Domain } from './domain'
import { byDialect, migrateConn, openConn } from './db/conn'
import { PgConn } from './db/postgres'
import { AppError, errorBody } from './errors'
import { createLogger, type Logger } from './lib/log'
import { Hub, type Handlers } from './realtime/hub'
import { RedisNode } from './realtime/redis'
import { RedisBus } from './realtime/redis-bus'
import { LocalRegistry, RedisRegistry } from './realtime/registry'
import { RoomForwarder } from './realtime/forward'
import type { RequestType } from './protocol'
import { SettingsService, shareSettings, SqliteSettingsStore } from './settings'
import { PgSettingsStore } from './settings/store-pg'
import type { SettingsStore } from './settings/store'
import { createAccounts, type AccountsDomain } from './accounts'
import { redisLink } from './accounts/directory'
import { createInvites, type InvitesDomain } from './invites'
import { createPush, createReminders, type PushDomain, type RemindersDomain } from './push'
import { sharePushDevices } from './push/service'
import { createAdmin, createAudit, type AdminDomain, type AuditDomain } from './admin'
import { createRealtime, WS_IDLE_SECONDS, WS_MAX_MESSAGE, type RealtimeDomain } from './realtime'
import { hostIsSane, needsOriginCheck, originAllowed, rehosted, requestPath, withOurHost } from './http/guard'
import { beginRequest, endRequest, Traffic } from './http/observe'
import { clientAddress } from './http/session'
import { staticRoutes } from './http/static'
import { openapiRoutes } from './http/openapi'
import { createMedia, type MediaDomain } from './media'
import { MediaRelay } from './media/relay'
import { createRooms, type RoomsDomain } from './rooms'
import { roomsLink } from './rooms/directory'
import { handoverLink } from './rooms/handover'
import { createBackchannel, type BackchannelDomain } from './backchannel'
import { type BackchannelStore, SqliteBackchannelStore } from './backchannel/store'
import { PgBackchannelStore } from './backchannel/store-pg'
import { createActivity, type ActivityDomain } from './activity'
import { createMembers, type MembersDomain } from './members'
import { createReplays, type ReplaysDomain } from './replays'
import { createReplayLibrary, type ReplayLibraryDomain } from './replays/domain'

export const VERSION: string = pkg.version

export interface StartOptions {
  log?: Logger
  limits?: Partial<LimitSettings>
  /** The port the server listens on once bound (the origin's port when PUBLIC_URL is empty); PORT by default. */
  boundPort?: () => number
  /** Check every reply and event the hub sends against the protocol's schemas (tests). */
  checkProtocol?: boolean
  /** argon2id's cost for the password hashes it makes (tests: a cheap one); unset, Bun's: 64 MiB, 2 passes. */
  passwordCost?: PasswordCost
}

/** Everything one server is made of, in the order it is built (and started; stopped in reverse). */
export interface Townhall {
  readonly core: Core
  /** The in-process Bus and Sockets (core.bus, core.sockets) and the /ws gateway's connection registry. */
  readonly hub: Hub
  /** With REDIS_URL: this node's link to the cluster and the Bus on Redis (core.bus, core.sockets); else null. */
  readonly cluster: { node: RedisNode; bus: RedisBus; rooms: RoomForwarder } | null
  /** With REDIS_URL and MEDIA_EDGE: the origin → edge media relay (media/relay.ts); else null. */
  readonly relay: MediaRelay | null
  readonly audit: AuditDomain
  readonly accounts: AccountsDomain
  readonly push: PushDomain
  readonly invites: InvitesDomain
  readonly rooms: RoomsDomain
  readonly media: MediaDomain
  /** Recording rooms (the speakers who consent) and their replays. */
  readonly replays: ReplaysDomain
  readonly backchannel: BackchannelDomain
  readonly activity: ActivityDomain
  /** Members' own data: export, account deletion (after every domain holding some of it). */
  readonly members: MembersDomain
  /** Replays, clips and the private podcast feeds (after rooms). */
  readonly replayLibrary: ReplayLibraryDomain
  readonly realtime: RealtimeDomain
  readonly reminders: RemindersDomain
  readonly admin: AdminDomain
}

/** Reading `core.db` or `core.gate` of a server on Postgres: a bug, said as such. */
const sqliteOnly = (what: string): never => {
  throw new Error(`${what} is SQLite's: this server runs on Postgres (DATABASE_URL); use core.conn`)
}

/**
 * The shared, dependency-free parts: the database (SQLite opened and migrated; Postgres's pool, migrated by
 * `openTownhall` before anything reads it), settings, the hub, the rate limiters.
 */
function createCore(config: Config, opts: StartOptions = {}): Pick<Townhall, 'core' | 'hub' | 'cluster'> {
  const log = opts.log ?? createLogger(config.logLevel, undefined, config.logFormat)
  const { conn, db } = openConn(config)
  const hub = new Hub(log, { checkProtocol: opts.checkProtocol })
  const boundPort = opts.boundPort ?? (() => config.port)
  const id = crypto.randomUUID()
  // Several nodes: the bus, presence, the room registry and the rate limits on Redis (connected by startServer).
  const node = config.redisUrl ? new RedisNode(config.redisUrl, id, log) : null
  const bus = node && new RedisBus(hub, node)
  const registry = node ? new RedisRegistry(node) : new LocalRegistry(id)
  // Rooms across nodes: a room's requests run on the node holding it (forward.ts).
  const cluster = node && bus && { node, bus, rooms: new RoomForwarder(node, bus, registry, log) }
  const core: Core = {
    id,
    config,
    conn,
    get db() {
      return db ?? sqliteOnly('core.db')
    },
    get gate() {
      return conn instanceof PgConn ? sqliteOnly('core.gate') : conn
    },
    log,
    settings: new SettingsService(
      byDialect<SettingsStore>(
        conn,
        (g) => new SqliteSettingsStore(g),
        (c) => new PgSettingsStore(c),
      ),
      config,
    ),
    bus: cluster?.bus ?? hub,
    sockets: cluster?.bus ?? hub,
    registry,
    origin: () => publicOrigin(config, boundPort()),
    secure: config.publicUrl.startsWith('https:'),
    limits: makeLimits({ ...DEFAULT_LIMITS, ...opts.limits }, node ?? undefined),
    limiter: (name, burst, perSecond) => makeLimiter(name, burst, perSecond, node ?? undefined),
    traffic: new Traffic(),
    passwordCost: opts.passwordCost,
  }
  return { core, hub, cluster }
}

/**
 * The graph, and its database brought to this Townhall's schema (Postgres: the migrations, under their advisory lock
 * so nodes starting together migrate once; SQLite's ran when it was opened). What startServer and the CLI use.
 */
export async function openTownhall(config: Config, opts: StartOptions = {}): Promise<Townhall> {
  const t = buildTownhall(config, opts)
  try {
    const { dataDir, pgDump } = config
    const applied = await migrateConn(t.core.conn, {
      dataDir,
      pgDump,
      backedUp: (file, from, to) =>
        t.core.log.info(`database: before migrating Postgres from version ${from} to ${to}, backed it up to ${file}`),
    })
    if (applied.length) t.core.log.info(`database: migrated Postgres to version ${applied.at(-1)}`)
  } catch (e) {
    await t.core.conn.close()
    throw e
  }
  return t
}

/** Builds the whole graph: plain constructor calls, each given the contracts of the domains built before it. */
export function buildTownhall(config: Config, opts: StartOptions = {}): Townhall {
  const { core, hub, cluster } = createCore(config, opts)
  const audit = createAudit({ core })
  // Several nodes: each node's directory of members hears of the others' changes on Redis.
  const accounts = createAccounts({
    core,
    audit: audit.api,
    link: cluster && redisLink(cluster.node, core.id, core.log),
  })
  const push = createPush({ core, accounts: accounts.api })
  const invites = createInvites({ core, accounts: accounts.api, audit: audit.api })
  const rooms = createRooms({
    core,
    accounts: accounts.api,
    push: push.api,
    audit: audit.api,
    link: cluster && roomsLink(cluster.node, core.id, core.log),
    handover: cluster && core.config.roomHandover ? handoverLink(cluster.node, core.id, core.log) : null,
  })

  // The SFU and Backchannel follow the rooms' events, so they come after them.
  const media = createMedia({ core, rooms: rooms.api })
  const backchannel = createBackchannel({
    core,
    store: byDialect<BackchannelStore>(
      core.conn,
      (gate) => new SqliteBackchannelStore(gate),
      (pg) => new PgBackchannelStore(pg),
    ),
    accounts: accounts.api,
    rooms: rooms.api,
    push: push.api,
    audit: audit.api,
  })
  // The recorder follows the rooms' events and taps the media plane; the mix names the speakers (accounts) and
  // marks the questions brought to stage (Backchannel's Q&A).
  const replays = createReplays({
    core,
    rooms: rooms.api,
    media: media.api,
    accounts: accounts.api,
    backchannel: backchannel.api,
  })
  // The activity inbox follows the accounts', rooms' and Backchannel's events; admin posts to it.
  const activity = createActivity({
    core,
    accounts: accounts.api,
    push: push.api,
    rooms: rooms.api,
    backchannel: backchannel.api,
    replays: replays.api,
  })
  const replayLibrary = createReplayLibrary({
    core,
    accounts: accounts.api,
    rooms: rooms.api,
    replays: replays.api,
    audit: audit.api,
    store: replays.store,
  })
  const members = createMembers({
    core,
    accounts: accounts.api,
    rooms: rooms.api,
    push: push.api,
    invites: invites.api,
    backchannel: backchannel.api,
    replays: replayLibrary.api,
    audit: audit.api,
  })
  const realtime = createRealtime({ core, hub, accounts: accounts.api })
  // One handler per request type of the protocol: the union of the domains' handlers is typed as complete, so a
  // domain left out (or a request without its handler) does not compile; assertComplete() checks it again at run time.
  const handlers: Handlers<RequestType> = {
    ...rooms.ws,
    ...media.ws,
    ...backchannel.ws,
    ...activity.ws,
    ...realtime.ws,
  }
  // Several nodes: a room held by another node has its requests run there (its sockets' replies come back here);
  // its listeners' audio is served here, from the speakers relayed by the holder (MEDIA_EDGE, media/relay.ts).
  const isLocal = (roomId: number) => rooms.service.session(roomId) !== null
  const forwarded = cluster
    ? cluster.rooms.wrap(handlers, { isLocal, closed: (conn) => rooms.service.connClosed(conn) })
    : handlers
  const relay =
    cluster && core.config.mediaEdge
      ? new MediaRelay({
          node: cluster.node,
          registry: core.registry,
          bus: core.bus,
          rooms: rooms.api,
          media: media.service,
          isLocal,
          log: core.log,
        })
      : null
  hub.handleAll(relay ? relay.wrap(forwarded, handlers) : forwarded)
  hub.assertComplete()

  const reminders = createReminders({
    core,
    accounts: accounts.api,
    push,
    rooms: rooms.api,
  })
  const admin = createAdmin({
    core,
    accounts: accounts.api,
    invites: invites.api,
    push: push.api,
    audit: audit.service,
    rooms: rooms.api,
    media: media.api,
    backchannel: backchannel.api,
    activity: activity.api,
    version: VERSION,
  })
  return {
    core,
    hub,
    cluster,
    relay,
    audit,
    accounts,
    push,
    invites,
    rooms,
    media,
    backchannel,
    replays,
    activity,
    replayLibrary,
    members,
    realtime,
    reminders,
    admin,
  }
}

/** Every domain, in build order: started in this order, stopped in the reverse. */
function parts(t: Townhall): Domain<unknown>[] {
  return [
    t.audit,
    t.accounts,
    t.push,
    t.invites,
    t.rooms,
    t.media,
    t.backchannel,
    t.replays,
    t.activity,
    t.replayLibrary,
    t.members,
    t.realtime,
    t.reminders,
    t.admin,
  ]
}

/** What /healthz reports besides the database: a draining node (W36) answers 503 so a load balancer stops using it. */
interface NodeState {
  draining: boolean
}

function createApp(t: Townhall, node: NodeState = { draining: false }) {
  const { core } = t
  const maxBody = core.config.maxBodyKb * 1024
  // A body must declare its length (browsers always do), so onRequest can answer the catalog's 413 before reading it.
  // Bun's own hard cap sits well above MAX_BODY_KB; past it Bun answers a bare 413 itself.
  // The WebSocket limits are server-wide in Bun; reusePort off so a second server on the same port fails loudly.
  // An empty or malformed Host header: the request is handled again as if sent to our own origin (H31).
  let again: (r: Request) => Promise<Response> = async () => new Response(null, { status: 503 })
  let self: AnyElysia | null = null
  const addresses = new WeakMap<Request, string>()
  const app = new Elysia({
    serve: { maxRequestBodySize: maxBody * 4, reusePort: false },
    // A socket that lets 16 MiB of events pile up unread is closed rather than skipped over (Bun's default drops what
    // does not fit): its tab reconnects and syncs from its last seq, so it misses nothing.
    websocket: {
      maxPayloadLength: WS_MAX_MESSAGE,
      idleTimeout: WS_IDLE_SECONDS,
      sendPings: true,
      backpressureLimit: 16 * 1024 * 1024,
      closeOnBackpressureLimit: true,
    },
  })
    .onRequest(({ request, server }) => {
      if (!hostIsSane(request.headers.get('host')) && !rehosted.has(request) && !request.headers.has('upgrade'))
        return again(withOurHost(core, request, server?.requestIP(request)?.address ?? 'unknown'))
    })
    .onRequest(({ request, set, server }) => {
      set.headers['x-request-id'] = beginRequest(request)
      // Read while the connection is there: after the response, routes without the session plugin (/healthz, the
      // app's files) would have no address for the access log.
      addresses.set(request, clientAddress(core, request, server))
    })
    .onAfterResponse((c) => {
      const { request, set } = c
      // A handler's own Response (static files, the 404 of an unknown path) carries its status; otherwise set's.
      const res = (c as { response?: unknown }).response
      let status = res instanceof Response ? res.status : typeof set.status === 'number' ? set.status : 200
      if (status === 200 && request.headers.get('upgrade')?.toLowerCase() === 'websocket') status = 101
      // The session plugin derived these for routed requests.
      const ctx = c as unknown as { route?: string; viewer?: { user: { id: number } } | null; ip?: string }
      const ip = ctx.ip ?? addresses.get(request) ?? 'unknown'
      endRequest(core.log, core.traffic, {
        request,
        path: requestPath(request),
        route: ctx.route,
        status,
        userId: ctx.viewer?.user.id ?? null,
        ip,
      })
    })
    .onRequest(({ request, set, server }) => {
      // Refused before routing (no after-response hook runs for these): logged and counted here.
      const refuse = (status: number, code: 'payload_too_large' | 'length_required' | 'bad_origin') => {
        set.status = status
        const ip = clientAddress(core, request, server)
        endRequest(core.log, core.traffic, {
          request,
          path: requestPath(request),
          route: undefined,
          status,
          userId: null,
          ip,
        })
        return errorBody(code)
      }
      const len = Number(request.headers.get('content-length') ?? 0)
      if (len > maxBody) return refuse(413, 'payload_too_large')
      if (request.headers.has('transfer-encoding')) return refuse(411, 'length_required')
      if (needsOriginCheck(request.method) && !originAllowed(core, request)) return refuse(403, 'bad_origin')
    })
    .onError(({ code, error, set, request }) => {
      if (error instanceof AppError) {
        set.status = error.status
        if (error.retryAfter) set.headers['retry-after'] = String(error.retryAfter)
        return { error: error.toJSON() }
      }
      switch (code) {
        case 'VALIDATION': {
          set.status = 422
          const first = (error as any).all?.[0]
          const where = first?.path ? first.path.replace(/^\//, '') : (error as any).type
          // A schema's own `error` (server/http/params.ts: "expected an integer from 1 to 50") says it best.
          const why = typeof first?.schema?.error === 'string' ? first.schema.error : (first?.summary ?? first?.message)
          return errorBody('validation', first ? `${where}: ${why}` : undefined)
        }
        case 'PARSE':
          set.status = 400
          return errorBody('bad_json')
        case 'NOT_FOUND':
          set.status = 404
          return errorBody('not_found')
        case 'INVALID_COOKIE_SIGNATURE':
          set.status = 400
          return errorBody('bad_request')
      }
      const status = (error as { status?: number }).status
      if (typeof status === 'number' && status >= 400 && status < 500) {
        set.status = status
        return errorBody(status === 413 ? 'payload_too_large' : 'bad_request')
      }
      core.log.error('http: unhandled error', { method: request.method, url: request.url, error })
      set.status = 500
      return errorBody('internal')
    })
    // /openapi: the reference page, its script (from the binary) and the document of every route mounted below.
    .use(openapiRoutes(() => self!, { title: 'Townhall API', version: VERSION }))
    .get(
      '/healthz',
      async ({ set }) => {
        let database = 'ok'
        try {
          // Postgres may not answer at all: past 3 s it counts as down.
          let late: ReturnType<typeof setTimeout> | undefined
          await Promise.race([
            core.conn.ping(),
            new Promise((_, no) => {
              late = setTimeout(() => no(new Error('no answer')), 3000)
            }),
          ]).finally(() => clearTimeout(late))
        } catch {
          database = 'error'
          set.status = 503
        }
        if (node.draining) set.status = 503
        const status = database !== 'ok' ? 'degraded' : node.draining ? 'draining' : 'ok'
        return { status, version: VERSION, database }
      },
      { detail: { summary: 'Health: status, version and a database check' } },
    )
    .use(t.accounts.routes)
    .use(t.invites.routes)
    .use(t.realtime.routes)
    .use(t.push.routes)
    .use(t.admin.routes)
    .use(t.rooms.routes)
    .use(t.backchannel.routes)
    .use(t.members.routes)
    .use(t.replayLibrary.routes)
    .all('/api/*', () => {
      throw new AppError('not_found')
    })
    // A page opened in the browser carries the app's first data (P16): the first screen waits for no request.
    .use(
      staticRoutes({
        firstData: async (viewer, path) =>
          viewer
            ? {
                user: t.accounts.api.me(viewer.user.id),
                ...(path === '/' ? { rooms: await t.rooms.hallway(viewer.user.id) } : {}),
              }
            : { user: null },
      }),
    )
  again = (r) => app.handle(r)
  self = app
  return app
}

export interface Running {
  ctx: Townhall
  url: string
  port: number
  stop(): Promise<void>
  /**
   * SIGTERM. One node: stop(). Several nodes (W25): the node makes no room live any more, hands its live rooms to
   * another node (W45), tells its sockets to reconnect (to another node), gives the rooms no node took ROOM_DRAIN_MS
   * to wind down (told when they end), ends them, then stops.
   */
  drain(): Promise<void>
}

/**
 * Builds everything, mounts it, starts it and listens.
 * Used by `townhall serve` and by the tests (port 0, a fresh data folder).
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<Running> {
  let port = config.port
  const t = await openTownhall(config, { ...opts, boundPort: () => port })
  const node: NodeState = { draining: false }
  const app = createApp(t, node)
  const started = parts(t)
  // The core's own upkeep: idle rate-limit buckets, the sockets' and the limiters'.
  const sweep = setInterval(() => {
    t.hub.sweep()
    for (const l of Object.values(t.core.limits)) l.sweep()
  }, 60_000)
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    clearInterval(sweep)
    // Sockets first, so the close hooks (rooms' grace timers, presence…) run before the domains stop, not after it
    // against a closed database.
    t.hub.closeAll(1001, 'server stopping')
    for (const part of [...started].reverse()) {
      try {
        await part.stop?.()
      } catch (e) {
        t.core.log.error('stop: a domain failed to stop', { error: e })
      }
    }
    if (app.server) await app.stop(true)
    // This node's presence and room leases go now rather than when its heartbeat expires.
    await t.cluster?.node.stop()
    // Nothing can raise an event any more: what the domains still write for the last ones lands before the pool closes.
    for (const part of started) await part.settle?.()
    await t.core.conn.close()
  }
  try {
    // Several nodes: Redis first (a REDIS_URL that cannot be reached stops the start, before anything listens).
    if (t.cluster) {
      await t.cluster.node.start()
      await t.cluster.bus.start()
      await t.cluster.rooms.start()
      await t.relay?.start()
      // Subscribed before the settings load: a change made meanwhile on another node is not missed.
      await shareSettings(t.core.settings, t.cluster.node, t.core.id, t.core.log)
      await sharePushDevices(t.push.service, t.cluster.node, t.core.log)
    }
    await t.core.settings.load()
    for (const part of started) await part.start?.()
    app.listen({ port: config.port, hostname: config.host })
  } catch (e) {
    // A port in use: what started stops, and the reason goes up (main.ts prints it on one line).
    await stop()
    throw e
  }
  port = app.server!.port!
  // Thread topics go out through Bun's own publish (server/realtime/hub.ts toMembers).
  t.hub.useNative(app.server!)
  const drain = async () => {
    if (!t.cluster || stopped) return stop()
    const ms = t.core.config.roomDrainMs
    // Out of the load balancer's rotation (/healthz 503), and a socket that still opens here is sent on at once.
    node.draining = true
    t.hub.onOpen((c) => t.hub.toConn(c.id, { type: 'node.draining' }))
    // Its live rooms go to another node (W45) before its sockets are sent on, so they rejoin them there at once; the
    // rooms no node took are told they end in `ms`.
    await t.rooms.service.drain(ms)
    t.hub.toAll({ type: 'node.draining' })
    // Nothing to wind down without live rooms: the node stops at once.
    if (t.rooms.service.stats().liveRooms > 0) await new Promise((r) => setTimeout(r, ms))
    await t.rooms.service.endAll()
    await stop()
  }
  return { ctx: t, port, url: `http://127.0.0.1:${port}`, stop, drain }
}
