// The composition: one Bun process serving the API, the WebSocket gateway and the PWA. Domains plug in here.
import { Elysia } from 'elysia'
import { openapi } from '@elysiajs/openapi'
import pkg from '../package.json'
import { publicOrigin, type Config } from './config'
import { DEFAULT_LIMITS, makeLimits, type Ctx, type LimitSettings } from './context'
import { openDatabase } from './db/open'
import { AppError, ERRORS, errorBody } from './errors'
import { createLogger, type Logger } from './lib/log'
import { Hub } from './realtime/hub'
import { SettingsService } from './settings'
import { AccountsService } from './accounts/service'
import { InvitesService } from './invites/service'
import { accountsRoutes } from './accounts/routes'
import { invitesRoutes } from './invites/routes'
import { realtimeRoutes, WS_IDLE_SECONDS, WS_MAX_MESSAGE } from './realtime/routes'
import { registerPresence } from './realtime/presence'
import { needsOriginCheck, originAllowed } from './http/guard'
import { staticRoutes } from './http/static'
import { MediaService } from './media/service'
import { adminPlugin, installAdmin } from './admin'
import { installRooms, roomsPlugin } from './rooms'
import { backchannelPlugin, installBackchannel } from './backchannel'

export const VERSION: string = pkg.version

export interface StartOptions {
  log?: Logger
  limits?: Partial<LimitSettings>
  /** Check every reply and event the hub sends against the protocol's schemas (tests). */
  checkProtocol?: boolean
}

export function createContext(config: Config, opts: StartOptions = {}): Ctx {
  const log = opts.log ?? createLogger(config.logLevel)
  const db = openDatabase(config.dataDir)
  const settings = new SettingsService(db, config)
  let boundPort = config.port
  const origin = () => publicOrigin(config, boundPort)
  const accounts = new AccountsService(db, settings, { dataDir: config.dataDir, sessionDays: config.sessionDays })
  const invites = new InvitesService(accounts.store, settings, origin)
  accounts.invites = invites
  const hub = new Hub(log, { checkProtocol: opts.checkProtocol })
  const ctx: Ctx = {
    id: crypto.randomUUID(), config, db, log, hub, settings, accounts, invites, origin,
    secure: config.publicUrl.startsWith('https:'),
    limits: makeLimits({ ...DEFAULT_LIMITS, ...opts.limits }),
    cleanup: [],
    setPort: (p: number) => { boundPort = p },
  }
  accounts.onSessionsEnded = ({ userId, sessionId, exceptSession }) =>
    sessionId ? hub.disconnectSession(sessionId) : hub.disconnectUser(userId, 4001, 'signed out', exceptSession)
  installAdmin(ctx)
  installRooms(ctx)
  // The SFU and Backchannel follow the rooms' events, so they come after them. The SFU opens no socket until a
  // participant connects.
  ctx.media = new MediaService(ctx)
  installBackchannel(ctx)
  registerPresence(ctx)
  // Every request type of the protocol has its handler now (a domain left out fails here, not at the first request).
  hub.assertComplete()
  return ctx
}

export function createApp(ctx: Ctx) {
  const maxBody = ctx.config.maxBodyKb * 1024
  // A body must declare its length (browsers always do), so onRequest can answer the catalog's 413 before reading it.
  // Bun's own hard cap sits well above MAX_BODY_KB; past it Bun answers a bare 413 itself.
  // The WebSocket limits are server-wide in Bun; reusePort off so a second server on the same port fails loudly.
  return new Elysia({
    serve: { maxRequestBodySize: maxBody * 4, reusePort: false },
    websocket: { maxPayloadLength: WS_MAX_MESSAGE, idleTimeout: WS_IDLE_SECONDS, sendPings: true },
  })
    .onRequest(({ request, set }) => {
      const len = Number(request.headers.get('content-length') ?? 0)
      if (len > maxBody) { set.status = 413; return errorBody('payload_too_large') }
      if (request.headers.has('transfer-encoding')) { set.status = 411; return errorBody('length_required') }
      if (needsOriginCheck(request.method) && !originAllowed(ctx, request)) { set.status = 403; return errorBody('bad_origin') }
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
          return errorBody('validation', first ? `${where}: ${first.summary ?? first.message}` : undefined)
        }
        case 'PARSE': set.status = 400; return errorBody('bad_json')
        case 'NOT_FOUND': set.status = 404; return errorBody('not_found')
        case 'INVALID_COOKIE_SIGNATURE': set.status = 400; return errorBody('bad_request')
      }
      const status = (error as { status?: number }).status
      if (typeof status === 'number' && status >= 400 && status < 500) {
        set.status = status
        return errorBody(status === 413 ? 'payload_too_large' : 'bad_request')
      }
      ctx.log.error('http: unhandled error', { method: request.method, url: request.url, error })
      set.status = 500
      return errorBody('internal')
    })
    .use(openapi({ path: '/openapi', documentation: { info: { title: 'Townhall API', version: VERSION } }, exclude: { paths: ['/*', '/ws'] } }))
    .get('/healthz', ({ set }) => {
      let database = 'ok'
      try { ctx.db.query('SELECT 1').get() } catch { database = 'error'; set.status = 503 }
      return { status: database === 'ok' ? 'ok' : 'degraded', version: VERSION, database }
    }, { detail: { summary: 'Health: status, version and a database check' } })
    .use(accountsRoutes(ctx))
    .use(invitesRoutes(ctx))
    .use(realtimeRoutes(ctx))
    .use(adminPlugin(ctx, VERSION))
    .use(roomsPlugin(ctx))
    .use(backchannelPlugin(ctx))
    .all('/api/*', () => { throw new AppError('not_found') })
    .use(staticRoutes())
}

export interface Running { ctx: Ctx; url: string; port: number; stop(): Promise<void> }

/** Builds everything and listens. Used by `townhall serve` and by the tests (port 0, a fresh data folder). */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<Running> {
  const ctx = createContext(config, opts)
  const app = createApp(ctx)
  app.listen({ port: config.port, hostname: config.host })
  const port = app.server!.port!
  ctx.setPort(port)
  const sweep = setInterval(() => { ctx.hub.sweep(); ctx.accounts.store.deleteExpiredSessions(); for (const l of Object.values(ctx.limits)) l.sweep() }, 60_000)
  let stopped = false
  return {
    ctx, port, url: `http://127.0.0.1:${port}`,
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(sweep)
      // Sockets first, so the close hooks (rooms' grace timers, presence…) run before the domains' cleanup, not
      // after it against a closed database.
      ctx.hub.closeAll(1001, 'server stopping')
      for (const fn of ctx.cleanup.reverse()) {
        try { await fn() } catch (e) { ctx.log.error('stop: cleanup failed', { error: e }) }
      }
      await app.stop(true)
      ctx.db.close()
    },
  }
}

export { ERRORS }
