// One node's link to the cluster's Redis (REDIS_URL): two connections (commands, and subscriptions, which Redis
// keeps apart), the node's slot (a small number from a counter, which makes its connection ids unique in the
// cluster) and the heartbeat that keeps the node, its members' presence and its rooms' leases alive. A node that
// dies without cleaning up stops beating: whatever it held expires within `ttlMs`.
import { RedisClient } from 'bun'
import type { Logger } from '../lib/log'

/** Connection ids of a node are slot × CONN_SPAN + n: a connection's node is read off its id (toConn routing). */
export const CONN_SPAN = 2 ** 32

export interface RedisNodeOptions {
  /** Key and channel prefix (several communities may share one Redis). */
  prefix?: string
  /** How often the node renews its presence and leases. */
  beatMs?: number
  /** How long a node's presence and leases outlive its last beat. */
  ttlMs?: number
  /** Reconnection attempts of Bun's client before it gives up (then the node tries again every beat); Bun's 20. */
  maxRetries?: number
}

export class RedisNode {
  /** Commands (and PUBLISH). */
  readonly cmd: RedisClient
  /** Subscriptions only (a subscribed connection takes no other command). */
  readonly sub: RedisClient
  readonly prefix: string
  readonly beatMs: number
  readonly ttlMs: number
  /** This node's slot, once started (0 before). */
  slot = 0
  private timer: ReturnType<typeof setInterval> | null = null
  private beats: (() => Promise<void>)[] = []
  private stops: (() => Promise<void>)[] = []
  private reconnects: (() => Promise<void>)[] = []
  private started = false
  private errorsLogged = 0
  /** How many times a connection was lost for good (Bun stopped retrying) and the node started trying again. */
  lost = 0

  constructor(
    readonly url: string,
    /** The node's id (core.id): what the room registry records as a room's holder. */
    readonly id: string,
    private readonly log: Logger,
    opts: RedisNodeOptions = {},
  ) {
    this.prefix = opts.prefix ?? 'th:'
    this.beatMs = opts.beatMs ?? 2000
    this.ttlMs = opts.ttlMs ?? 10_000
    const options = {
      connectionTimeout: 5000,
      ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
    }
    this.cmd = new RedisClient(url, options)
    this.sub = new RedisClient(url, options)
  }

  /** A key or channel name under the prefix. */
  key(name: string) {
    return this.prefix + name
  }

  /** Something to renew on every beat (presence, leases); run in order of registration. */
  onBeat(fn: () => Promise<void>) {
    this.beats.push(fn)
  }
  /** Cleanup at a clean stop (before the connections close), in reverse order of registration. */
  onStop(fn: () => Promise<void>) {
    this.stops.unshift(fn)
  }

  /**
   * After the connections come back (Redis restarted, the network dropped): Bun reconnects on its own but neither
   * resubscribes nor knows what a restarted Redis forgot, so the bus subscribes again and rewrites its presence.
   */
  onReconnect(fn: () => Promise<void>) {
    this.reconnects.push(fn)
  }

  /** Connects (failing loudly when Redis cannot be reached), takes a slot, beats once and starts the timer. */
  async start() {
    if (this.started) return
    // One try first, so that an unreachable Redis fails the start at once (the clients would retry for ~30 s).
    const probe = new RedisClient(this.url, { autoReconnect: false, connectionTimeout: 5000 })
    try {
      await probe.send('PING', [])
      await Promise.all([this.cmd.connect(), this.sub.connect()])
    } catch (e) {
      throw new Error(`redis: cannot connect to REDIS_URL (${redact(this.url)}): ${(e as Error).message}`)
    } finally {
      probe.close()
    }
    this.started = true
    this.slot = Number(await this.cmd.send('INCR', [this.key('node-seq')]))
    this.cmd.onclose = (e) => this.closed(this.cmd, 'command', e)
    this.sub.onclose = (e) => this.closed(this.sub, 'subscription', e)
    this.sub.onconnect = () => void this.reconnected()
    await this.beat()
    this.timer = setInterval(() => void this.beat(), this.beatMs)
  }

  /** Bun gave up reconnecting (its onclose): the node tries again every beat until Redis answers. */
  private closed(client: RedisClient, which: string, e: Error | undefined) {
    if (!this.started) return
    this.lost++
    this.log.warn(`redis: the ${which} connection is lost; trying again every ${this.beatMs} ms`, {
      error: e?.message,
    })
    const retry = () => {
      if (!this.started) return
      client.connect().catch(() => setTimeout(retry, this.beatMs))
    }
    setTimeout(retry, this.beatMs)
  }

  private async reconnected() {
    this.log.warn('redis: connected again; subscribing again')
    // A Redis that restarted empty would hand this node's slot to the next node: the counter starts past it.
    const keep = `if (tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1])) then
      redis.call('SET', KEYS[1], ARGV[1]) end`
    await this.cmd
      .send('EVAL', [keep, '1', this.key('node-seq'), String(this.slot)])
      .catch((e) => this.failed('seq', e))
    for (const fn of this.reconnects) await fn().catch((e) => this.failed('reconnect', e))
    await this.beat()
  }

  /** Renews everything once (the timer's work; tests call it to beat at once). */
  async beat() {
    for (const fn of this.beats) await fn().catch((e) => this.failed('beat', e))
  }

  /** Stops beating without cleaning up: what the node held expires as if it had died (tests, and a lost node). */
  halt() {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** A clean stop: cleanup (presence, leases) then the connections close. */
  async stop() {
    this.halt()
    if (!this.started) return
    this.started = false
    for (const fn of this.stops) await fn().catch((e) => this.failed('stop', e))
    this.cmd.onclose = this.sub.onclose = null
    this.cmd.close()
    this.sub.close()
  }

  /** Logs a failed Redis call (the first 20, then every 1000th, so a Redis outage does not flood the log). */
  failed(what: string, e: unknown) {
    const n = this.errorsLogged++
    if (n < 20 || n % 1000 === 0) this.log.error(`redis: ${what} failed`, { error: (e as Error)?.message ?? e })
  }
}

/** The URL without its password, for messages. */
const redact = (url: string) => url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@')
