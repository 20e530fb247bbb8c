// The one shape of a domain: `create<X>(deps)` builds it with its dependencies passed in and returns this. app.ts
// builds every domain in dependency order, mounts their routes and WebSocket handlers, then starts them; stop()
// runs in the reverse order. Construction and mounting have no side effects (no timer, no socket, no write).
import type { AnyElysia } from 'elysia'
import type { WsHandlers } from './realtime/hub'

export interface Domain<Api> {
  /** What other domains may call: an interface from server/contracts.ts. */
  readonly api: Api
  /** Its HTTP routes (one Elysia instance with its prefix and schemas). */
  readonly routes?: AnyElysia
  /**
   * Its WebSocket request handlers, keyed by request type (typed by server/protocol). A domain's own interface narrows
   * this to `Handlers<keyof XRequests>`, so that app.ts's union of every domain's handlers is checked complete.
   */
  readonly ws?: WsHandlers
  /** Timers, background jobs, cleaning up after a previous run: only in the serving process. */
  start?(): void | Promise<void>
  /** Releases everything it owns (timers, peers, files); after the sockets closed, before the database does. */
  stop?(): void | Promise<void>
  /**
   * The writes it still has under way for other domains' events (a room's `left` during the stop): awaited after
   * every domain stopped and the other nodes can no longer reach this one, right before the database closes.
   */
  settle?(): Promise<void>
}
