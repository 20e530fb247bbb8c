// Rooms across nodes (issue 11): a room lives on the node that holds it in the registry, and its requests run there.
// A socket on another node has its room requests (`room.*` but the hallway's, and `rtc.*`) forwarded to the holder
// on Redis pub/sub, on the holder's channel `<p>fw:<node id>`, and the reply comes back on the asker's channel. The
// holder runs the request as if the socket were its own, against a *remote connection*: a ConnInfo with the user, the
// session and the connection id of the socket on the other node (ids are unique in the cluster), whose state (the
// room it is in) the holder keeps. Events to it go through the bus, which reaches connections on any node (toConn by
// the id's slot; subscribe/unsubscribe by telling the connection's node, redis-bus.ts). The audio connects to the
// holder directly: its offer carries its own addresses and RTC port.
//
// A forwarded request gets its reply or `room_holder_unreachable` after FORWARD_TIMEOUT_MS (the holder died: its
// lease expires within the heartbeat's time to live, and the room may then be claimed elsewhere). A socket that
// closes tells the holders it sent requests to (their rooms keep its seat for the grace period, as for their own
// sockets); a node that stops beating has its remote connections closed by the holders at their next beat.
import { AppError, type ErrorCode, ERRORS, fail } from '../errors'
import type { Logger } from '../lib/log'
import type { RequestType, SocketUser } from '../protocol'
import type { ConnId, ConnInfo, RoomRegistry } from './bus'
import type { WsHandlers } from './hub'
import { CONN_SPAN, type RedisNode } from './redis'
import type { RedisBus } from './redis-bus'

/** How long a forwarded request waits for the holder's reply. */
const FORWARD_TIMEOUT_MS = 5000

/** The request types that act on one room (their fields have its `roomId`): they run on the room's holder. */
const roomScoped = (type: string) => type.startsWith('room.') || type.startsWith('rtc.')

type Wire =
  | {
      k: 'q'
      id: number
      from: string
      conn: { id: ConnId; user: SocketUser | null; sessionId: number | null }
      type: RequestType
      msg: { roomId: number }
    }
  | { k: 'r'; id: number; ok: true; result: unknown }
  | { k: 'r'; id: number; ok: false; code: ErrorCode; message: string; retryAfter?: number }
  | { k: 'c'; conn: ConnId }

/** A socket of another node, as the holder of a room sees it. */
class RemoteConn implements ConnInfo {
  readonly state = new Map<string, unknown>()
  constructor(
    readonly id: ConnId,
    readonly user: SocketUser | null,
    readonly sessionId: number | null,
  ) {}
  get userId() {
    return this.user?.id ?? null
  }
  /** The slot of the node the socket is on. */
  get slot() {
    return Math.floor(this.id / CONN_SPAN)
  }
}

export interface ForwardTarget {
  /** The handlers to run (every room-scoped one). */
  handlers: WsHandlers
  /** Whether this node has the room live (no Redis round trip then). */
  isLocal(roomId: number): boolean
  /** A remote connection is gone (its socket closed, or its node died): as a local socket's close hooks. */
  closed(conn: ConnInfo): void
}

export class RoomForwarder {
  private target: ForwardTarget | null = null
  private nextId = 1
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>()
  /** Holder side: the remote connections that sent this node requests, by id. */
  private remote = new Map<ConnId, RemoteConn>()
  /** Asker side: the holders each local socket sent requests to (told when it closes). */
  private sentTo = new Map<ConnId, Set<string>>()
  private readonly onMessage = (m: string) => this.received(m)

  constructor(
    private readonly node: RedisNode,
    private readonly bus: RedisBus,
    private readonly registry: RoomRegistry,
    private readonly log: Logger,
  ) {
    bus.onClose((c) => this.localClosed(c.id))
    // After the bus's beat (registered before): the live nodes are current.
    node.onBeat(async () => this.sweep())
    node.onReconnect(() => this.subscribe())
  }

  /** Subscribes this node's channel (once connected to Redis). */
  async start() {
    await this.subscribe()
  }

  private async subscribe() {
    await this.node.sub.subscribe(this.channel(this.node.id), this.onMessage)
  }

  private channel(nodeId: string) {
    return this.node.key(`fw:${nodeId}`)
  }

  /** Wraps the room-scoped handlers: a room held by another node has the request run there. */
  wrap<H extends WsHandlers>(handlers: H, target: Omit<ForwardTarget, 'handlers'>): H {
    this.target = { ...target, handlers }
    const out: WsHandlers = { ...handlers }
    for (const type of Object.keys(handlers) as RequestType[]) {
      const local = handlers[type] as (conn: ConnInfo, msg: unknown) => unknown
      if (!roomScoped(type) || !local) continue
      const wrapped = async (conn: ConnInfo, msg: { roomId: number }) => {
        if (target.isLocal(msg.roomId)) return local(conn, msg)
        const holder = await this.registry.holder(msg.roomId)
        if (!holder || holder === this.registry.node) return local(conn, msg)
        return this.forward(holder, conn, type, msg)
      }
      ;(out as Record<string, unknown>)[type] = wrapped
    }
    return out as H
  }

  /** Sends a request to the room's holder and waits for its reply (or a clear error after the timeout). */
  private async forward(holder: string, conn: ConnInfo, type: RequestType, msg: { roomId: number }) {
    const id = this.nextId++
    let to = this.sentTo.get(conn.id)
    if (!to) this.sentTo.set(conn.id, (to = new Set()))
    to.add(holder)
    const wire: Wire = {
      k: 'q',
      id,
      from: this.node.id,
      conn: { id: conn.id, user: conn.user, sessionId: conn.sessionId },
      type,
      msg,
    }
    let timer: ReturnType<typeof setTimeout> | undefined
    const reply = new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      timer = setTimeout(() => reject(new AppError('room_holder_unreachable')), FORWARD_TIMEOUT_MS)
    })
    try {
      await this.node.cmd.publish(this.channel(holder), JSON.stringify(wire))
      const result = await reply
      // The holder's subscriptions for this socket (told before its reply) are in Redis before the reply goes out.
      await this.bus.settled()
      return result
    } catch (e) {
      if (e instanceof AppError) throw e
      this.node.failed('forward', e)
      fail('room_holder_unreachable')
    } finally {
      clearTimeout(timer)
      this.waiting.delete(id)
    }
  }

  private received(message: string) {
    let m: Wire
    try {
      m = JSON.parse(message)
    } catch {
      return
    }
    if (m.k === 'q') void this.run(m)
    else if (m.k === 'r') {
      const w = this.waiting.get(m.id)
      if (!w) return
      if (m.ok) w.resolve(m.result)
      else w.reject(new AppError(ERRORS[m.code] ? m.code : 'internal', m.message, m.retryAfter))
    } else if (m.k === 'c') this.remoteClosed(m.conn)
  }

  /** Holder side: runs a forwarded request against the socket's remote connection and sends the reply back. */
  private async run(q: Extract<Wire, { k: 'q' }>) {
    let reply: Wire
    try {
      const handler = this.target?.handlers[q.type] as ((c: ConnInfo, m: unknown) => unknown) | undefined
      if (!handler || !roomScoped(q.type)) fail('unknown_message')
      let conn = this.remote.get(q.conn.id)
      if (!conn) this.remote.set(q.conn.id, (conn = new RemoteConn(q.conn.id, q.conn.user, q.conn.sessionId)))
      reply = { k: 'r', id: q.id, ok: true, result: await handler(conn, q.msg) }
    } catch (e) {
      if (!(e instanceof AppError)) this.log.error('rooms: a forwarded request failed', { type: q.type, error: e })
      const err = e instanceof AppError ? e : new AppError('internal')
      reply = { k: 'r', id: q.id, ok: false, code: err.code, message: err.message, retryAfter: err.retryAfter }
    }
    await this.node.cmd.publish(this.channel(q.from), JSON.stringify(reply)).catch((e) => this.node.failed('reply', e))
  }

  /** Asker side: a local socket closed; the holders it used are told. */
  private localClosed(connId: ConnId) {
    const holders = this.sentTo.get(connId)
    if (!holders) return
    this.sentTo.delete(connId)
    const wire: Wire = { k: 'c', conn: connId }
    for (const h of holders)
      this.node.cmd.publish(this.channel(h), JSON.stringify(wire)).catch((e) => this.node.failed('forward', e))
  }

  /** Holder side: a remote socket closed (or its node died). */
  private remoteClosed(connId: ConnId) {
    const conn = this.remote.get(connId)
    if (!conn) return
    this.remote.delete(connId)
    try {
      this.target?.closed(conn)
    } catch (e) {
      this.log.error('rooms: closing a remote connection failed', { conn: connId, error: e })
    }
  }

  /** Holder side: the remote connections of nodes that stopped beating are closed. */
  private sweep() {
    for (const conn of [...this.remote.values()]) if (!this.bus.slotLive(conn.slot)) this.remoteClosed(conn.id)
  }

  /** Remote connections held now (tests). */
  remoteCount() {
    return this.remote.size
  }
}
