// The realtime hub: the connections of the /ws gateway, their topics, and the typed request handlers that the
// domains register. Every request gets exactly one reply; events are published on topics after commit. It is the
// in-process Bus and Sockets (bus.ts) that the core hands to every domain.
import type { TObject } from '@sinclair/typebox'
import { AppError, errorBody } from '../errors'
import type { Logger } from '../lib/log'
import { TokenBucket } from '../lib/ratelimit'
import { check } from '../lib/validate'
import {
  Envelope,
  PROTOCOL_VERSION,
  requestMessage,
  Requests,
  type ErrorFrame,
  type Reply,
  type RequestFields,
  type RequestId,
  type RequestType,
  type ServerEvent,
  type SocketUser,
} from '../protocol'
import type { Bus, ConnId, ConnInfo, Sockets, Topic } from './bus'
import { ProtocolCheck } from './conformance'

/** What the gateway needs of a socket (Bun's ServerWebSocket fits). Only the hub writes to it. */
export interface RawSocket {
  send(data: string): number | undefined
  close(code?: number, reason?: string): void
  /** Bun's native topics (ServerWebSocket has them): a member's tabs join the topics of their threads. */
  subscribe?(topic: string): void
  unsubscribe?(topic: string): void
  /** Bun's cork: the sends inside the callback leave in one write. */
  cork?(fn: () => void): unknown
}

/** What the hub needs of Bun's server for native fan-out (Server fits). */
export interface NativePublisher {
  publish(topic: string, data: string): number
  subscriberCount(topic: string): number
}

/** Who holds a socket (null on a guest's). */
export type Viewer = SocketUser

/** Where events are published: a room's participants, one member's sockets, the hallway watchers. */
export type { Topic }

/** What goes down a socket: an event, or the one reply to a request. */
type Frame = ServerEvent | ErrorFrame | { re: RequestId | null; ok: true; [k: string]: unknown }

export class Conn {
  readonly topics = new Set<Topic>()
  /** Per-domain state (e.g. the room this tab is in). */
  readonly state = new Map<string, unknown>()
  closed = false
  /** Its rate limit (SOCKET_RATE): a bucket of its own, not a key in a shared map. */
  readonly bucket = new TokenBucket(SOCKET_RATE.burst, SOCKET_RATE.perSecond)
  /** Its member's rate limit (USER_RATE): the one bucket every socket of the member holds (null on a guest's). */
  userBucket: TokenBucket | null = null
  /** Frames held until the end of this turn's microtasks, to leave in one write (null: none held). */
  private held: string[] | null = null
  constructor(
    readonly id: number,
    readonly raw: RawSocket,
    readonly user: Viewer | null,
    readonly sessionId: number | null,
    /** Counts a frame sent (the hub's messagesOut, for /metrics). */
    private readonly sent: () => void = () => {},
    /** Called when this connection starts holding frames: the hub writes them out (release) in a microtask. */
    private readonly holding: (c: Conn) => void = () => {},
  ) {}
  get userId() {
    return this.user?.id ?? null
  }
  /**
   * A reply or an event for this connection alone. On a socket that corks (Bun's), it is held with the others of
   * this turn (the acknowledgements of a batch of sends come one microtask after another): they leave together,
   * corked with what Bun's topics hold for the socket, in one write.
   */
  send(msg: Frame) {
    if (this.closed) return
    this.sent()
    const text = JSON.stringify(msg)
    if (!this.raw.cork) return void this.raw.send(text)
    if (this.held) this.held.push(text)
    else {
      this.held = [text]
      this.holding(this)
    }
  }
  /** A frame already serialised (the hub's fan-out): after the frames held, if any, so the order stays. */
  write(text: string) {
    if (this.held) this.held.push(text)
    else this.raw.send(text)
  }
  /** Writes the frames held, in order, corked: one write with what Bun's topics hold for the socket. */
  release() {
    const held = this.held
    if (!held) return
    this.held = null
    if (this.closed) return
    const raw = this.raw
    raw.cork!(() => {
      for (const text of held) raw.send(text)
    })
  }
}

/** A request handler: the validated message in, its reply (or a thrown catalog error) out. */
export type Handler<K extends RequestType> = (conn: ConnInfo, msg: RequestFields<K>) => Reply<K> | Promise<Reply<K>>
/** The handlers a domain registers, one per request type of its protocol table. */
export type Handlers<K extends RequestType> = { [P in K]: Handler<P> }
/** Some of the protocol's handlers (what one domain brings). */
export type WsHandlers = { [P in RequestType]?: Handler<P> }
interface Registered {
  schema: TObject
  guest: boolean
  run: (conn: Conn, msg: unknown) => unknown
}
type Hook = (conn: ConnInfo) => void

/** Messages per second a socket may send, with a burst. */
const SOCKET_RATE = { burst: 60, perSecond: 20 } as const
/**
 * Messages per second a member may send over all their sockets: many tabs at full speed fit, but opening fresh
 * sockets (each with a full per-socket bucket) does not refill the member's budget without end.
 */
const USER_RATE = { burst: 2000, perSecond: 400 } as const
/** Member topics kept at once (toMembers); past it they are all dropped and made again as they are used. */
const MAX_MEMBER_TOPICS = 20_000

export class Hub implements Bus, Sockets {
  private handlers = new Map<string, Registered>()
  private byId = new Map<ConnId, Conn>()
  private topics = new Map<Topic, Set<Conn>>()
  private byUser = new Map<number, Set<Conn>>()
  /** Member topics (toMembers): the members a topic holds, as last given (compared by identity), and as a set. */
  private memberTopics = new Map<Topic, { users: readonly number[]; set: Set<number> }>()
  /** The member topics each member is in (their tabs opened later join them too). */
  private topicsOfUser = new Map<number, Set<Topic>>()
  /** Bun's server, once listening: member topics are published natively (one serialisation, Bun's loop). */
  private native: NativePublisher | null = null
  private nextId = 1
  /** Each member's bucket (USER_RATE), held by their sockets; dropped by sweep() once refilled and unheld. */
  private userBuckets = new Map<number, TokenBucket>()
  /** Connections holding frames (Conn.send), released together once this turn's microtasks have run. */
  private holding: Conn[] = []
  private releasing = false
  private openHooks: Hook[] = []
  private closeHooks: Hook[] = []
  messagesIn = 0
  /** Frames sent (replies and events), for /metrics. */
  messagesOut = 0

  /** Set when the hub checks what it sends against the protocol (tests). */
  readonly protocolCheck: ProtocolCheck | null

  constructor(
    private log: Logger,
    opts: { checkProtocol?: boolean } = {},
  ) {
    this.protocolCheck = opts.checkProtocol ? new ProtocolCheck() : null
  }

  /** Checks an event against the protocol when the hub checks (tests). */
  private checkEvent(event: ServerEvent) {
    this.protocolCheck?.event(event)
  }

  /**
   * Registers the handler of a request type of the protocol. Its fields' schema and whether guests may send it come
   * from the protocol's table; `run` returns the reply (the protocol's reply type) or throws a catalog error.
   */
  handle<K extends RequestType>(type: K, run: Handler<K>) {
    const spec = Requests[type]
    if (!spec) throw new Error(`hub: "${type}" is not a request type of the protocol`)
    if (this.handlers.has(type)) throw new Error(`hub: handler for "${type}" registered twice`)
    this.handlers.set(type, { schema: requestMessage(type), guest: spec.guest, run: run as Registered['run'] })
  }

  /** Registers a domain's handlers (an object with one handler per request type). */
  handleAll<K extends RequestType>(handlers: Handlers<K>) {
    for (const type of Object.keys(handlers) as K[]) this.handle(type, handlers[type])
  }

  /** The request types of the protocol that have no handler (empty once every domain is built). */
  missingHandlers(): RequestType[] {
    return (Object.keys(Requests) as RequestType[]).filter((type) => !this.handlers.has(type))
  }

  /** Throws unless every request type of the protocol has its handler (checked once the context is built). */
  assertComplete() {
    const missing = this.missingHandlers()
    if (missing.length) throw new Error(`hub: no handler for ${missing.join(', ')}`)
  }

  /**
   * Publishes member topics through Bun's server (its sockets must be the RawSockets given to open(), with their
   * subscribe/unsubscribe). Until then, and without it (unit tests), toMembers writes to each tab itself.
   */
  useNative(server: NativePublisher) {
    this.native = server
  }

  onOpen(h: Hook) {
    this.openHooks.push(h)
  }
  onClose(h: Hook) {
    this.closeHooks.push(h)
  }

  /** Numbers the next connections from `first` (a node of a cluster: ids unique across nodes, redis.ts). */
  numberConnsFrom(first: number) {
    this.nextId = first
  }

  open(raw: RawSocket, user: Viewer | null, sessionId: number | null): Conn {
    const conn = new Conn(
      this.nextId++,
      raw,
      user,
      sessionId,
      () => this.messagesOut++,
      (c) => this.hold(c),
    )
    this.byId.set(conn.id, conn)
    if (user) {
      let bucket = this.userBuckets.get(user.id)
      if (!bucket) this.userBuckets.set(user.id, (bucket = new TokenBucket(USER_RATE.burst, USER_RATE.perSecond)))
      conn.userBucket = bucket
      let set = this.byUser.get(user.id)
      if (!set) this.byUser.set(user.id, (set = new Set()))
      set.add(conn)
      this.subscribe(conn, `user:${user.id}`)
      for (const t of this.topicsOfUser.get(user.id) ?? []) raw.subscribe?.(t)
    }
    const hello: ServerEvent = { type: 'hello', v: PROTOCOL_VERSION, conn: conn.id, user }
    this.checkEvent(hello)
    conn.send(hello)
    for (const h of this.openHooks) this.safe(() => h(conn), 'open hook')
    return conn
  }

  close(conn: Conn) {
    if (conn.closed) return
    conn.closed = true
    this.byId.delete(conn.id)
    for (const t of [...conn.topics]) this.unsubscribe(conn, t)
    if (conn.user) {
      for (const t of this.topicsOfUser.get(conn.user.id) ?? []) this.rawUnsubscribe(conn, t)
      const set = this.byUser.get(conn.user.id)
      set?.delete(conn)
      if (set?.size === 0) this.byUser.delete(conn.user.id)
    }
    for (const h of this.closeHooks) this.safe(() => h(conn), 'close hook')
  }

  /** Dispatches one arrived message; always answers a request exactly once. */
  async message(conn: Conn, data: unknown) {
    this.messagesIn++
    const reqId = typeof data === 'object' && data !== null && 'id' in data ? (data as { id: unknown }).id : null
    const re = typeof reqId === 'string' || typeof reqId === 'number' ? reqId : null
    const now = Date.now()
    const wait = conn.bucket.take(1, now) || (conn.userBucket?.take(1, now) ?? 0)
    if (wait) return conn.send({ re, ok: false, ...errorBody('rate_limited', `Too many messages; wait ${wait}s.`) })
    try {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new AppError('bad_frame')
      const type = (data as { type?: unknown }).type
      const h = typeof type === 'string' ? this.handlers.get(type) : undefined
      // A known type the socket may send: one compiled check, of the envelope and the fields together. Otherwise the
      // envelope's check says what is wrong first, then the type is unknown or not for guests.
      if (!h || (!h.guest && !conn.user)) {
        const env = check(Envelope, data)
        if (!h) throw new AppError('unknown_message', `Unknown message type "${env.type.slice(0, 64)}".`)
        throw new AppError('unauthorized')
      }
      const result = await h.run(conn, check(h.schema, data))
      const reply = { re, ok: true as const, ...(result && typeof result === 'object' ? result : {}) }
      this.protocolCheck?.reply(type as string, reply)
      conn.send(reply)
    } catch (e) {
      if (e instanceof AppError) {
        this.protocolCheck?.reply(String((data as { type?: unknown })?.type), { ok: false, error: e.toJSON() })
        conn.send({ re, ok: false, error: e.toJSON() })
      } else {
        this.log.error('ws: handler failed', { conn: conn.id, type: (data as { type?: unknown })?.type, error: e })
        conn.send({ re, ok: false, ...errorBody('internal') })
      }
    }
  }

  private hold(c: Conn) {
    this.holding.push(c)
    if (this.releasing) return
    this.releasing = true
    queueMicrotask(this.releaseAll)
  }

  /** Writes every connection's held frames (before a native publish too: what was held first goes first). */
  private releaseAll = () => {
    this.releasing = false
    const conns = this.holding
    if (!conns.length) return
    this.holding = []
    for (const c of conns) c.release()
  }

  subscribe(c: Conn | ConnId, topic: Topic) {
    const conn = typeof c === 'number' ? this.byId.get(c) : c
    if (!conn || conn.closed) return
    let set = this.topics.get(topic)
    if (!set) this.topics.set(topic, (set = new Set()))
    set.add(conn)
    conn.topics.add(topic)
  }

  unsubscribe(c: Conn | ConnId, topic: Topic) {
    const conn = typeof c === 'number' ? this.byId.get(c) : c
    if (!conn) return
    conn.topics.delete(topic)
    const set = this.topics.get(topic)
    set?.delete(conn)
    if (set?.size === 0) this.topics.delete(topic)
  }

  /** Sends an event to every connection on a topic (call only after the write it describes has committed). */
  publish(topic: Topic, event: ServerEvent, except?: Conn | ConnId) {
    this.checkEvent(event)
    const set = this.topics.get(topic)
    if (!set) return 0
    const text = JSON.stringify(event)
    for (const c of set)
      if (c !== except && c.id !== except && !c.closed) {
        this.messagesOut++
        c.write(text)
      }
    return set.size
  }

  /** Bus: to every open tab of each member, serialised once. */
  toUsers(userIds: Iterable<number>, event: ServerEvent) {
    this.checkEvent(event)
    let text: string | null = null
    for (const id of userIds) {
      for (const c of this.byUser.get(id) ?? [])
        if (!c.closed) {
          this.messagesOut++
          c.write((text ??= JSON.stringify(event)))
        }
    }
  }

  /**
   * Bus: to every open tab of each member, through a member topic whose members are made `userIds` first (compared
   * by identity, then by content: a member added is subscribed with all their tabs, one removed unsubscribed before
   * the event goes out). Serialised once; published by Bun's server with its backpressure handling when attached.
   */
  toMembers(topic: Topic, userIds: readonly number[], event: ServerEvent) {
    this.checkEvent(event)
    let t = this.memberTopics.get(topic)
    if (t?.users !== userIds) t = this.setMembers(topic, userIds, t)
    if (!t.set.size) return
    if (this.native) {
      const n = this.native.subscriberCount(topic)
      if (!n) return
      this.messagesOut += n
      this.releaseAll()
      this.native.publish(topic, JSON.stringify(event))
      return
    }
    this.toUsers(userIds, event)
  }

  /** Brings a member topic's members (and their tabs' subscriptions) in line with `userIds`. */
  private setMembers(topic: Topic, userIds: readonly number[], prev?: { set: Set<number> }) {
    if (!prev && this.memberTopics.size >= MAX_MEMBER_TOPICS) this.forgetMemberTopics()
    const set = new Set(userIds)
    if (prev)
      for (const u of prev.set)
        if (!set.has(u)) {
          this.topicsOfUser.get(u)?.delete(topic)
          for (const c of this.byUser.get(u) ?? []) this.rawUnsubscribe(c, topic)
        }
    for (const u of set)
      if (!prev?.set.has(u)) {
        let mine = this.topicsOfUser.get(u)
        if (!mine) this.topicsOfUser.set(u, (mine = new Set()))
        mine.add(topic)
        for (const c of this.byUser.get(u) ?? []) if (!c.closed) c.raw.subscribe?.(topic)
      }
    const t = { users: userIds, set }
    if (set.size) this.memberTopics.set(topic, t)
    else this.memberTopics.delete(topic)
    return t
  }

  /**
   * Drops every member topic (their tabs unsubscribed): topics of threads nobody writes to any more (an ended room's
   * chat) do not pile up. Each is made again, from its members, by its next toMembers.
   */
  private forgetMemberTopics() {
    for (const [topic, t] of this.memberTopics)
      for (const u of t.set) for (const c of this.byUser.get(u) ?? []) this.rawUnsubscribe(c, topic)
    this.memberTopics.clear()
    this.topicsOfUser.clear()
  }

  private rawUnsubscribe(c: Conn, topic: Topic) {
    try {
      c.raw.unsubscribe?.(topic)
    } catch {
      /* the socket is gone, and its subscriptions with it */
    }
  }

  /** Bus: to one connection. */
  toConn(connId: ConnId, event: ServerEvent) {
    this.checkEvent(event)
    this.byId.get(connId)?.send(event)
  }

  /** To every socket of this node (the node is stopping: `node.draining`). */
  toAll(event: ServerEvent) {
    this.checkEvent(event)
    for (const c of this.byId.values()) c.send(event)
  }

  connectionsOf(userId: number): Conn[] {
    return [...(this.byUser.get(userId) ?? [])]
  }
  isOnline(userId: number) {
    return this.byUser.has(userId)
  }
  stats() {
    return {
      connections: this.byId.size,
      onlineMembers: this.byUser.size,
      messagesIn: this.messagesIn,
      messagesOut: this.messagesOut,
    }
  }

  /** Closes every socket of a user (logout everywhere, suspension, ban), except those of one session if given. */
  disconnectUser(userId: number, code = 4001, reason = 'signed out', exceptSession?: number) {
    const conns = this.connectionsOf(userId)
    this.drop(exceptSession === undefined ? conns : conns.filter((c) => c.sessionId !== exceptSession), code, reason)
  }

  disconnectSession(sessionId: number, code = 4001, reason = 'signed out') {
    this.drop(
      [...this.byId.values()].filter((c) => c.sessionId === sessionId),
      code,
      reason,
    )
  }

  /** Closes every signed-out visitor's socket (guest listening turned off); their close hooks free their seats. */
  disconnectGuests(code = 4003, reason = 'guests not allowed') {
    this.drop(
      [...this.byId.values()].filter((c) => !c.user),
      code,
      reason,
    )
  }

  /** Closes every socket (server shutdown), running the close hooks for each. */
  closeAll(code = 1001, reason = 'server stopping') {
    this.drop([...this.byId.values()], code, reason)
  }

  /** Closes the sockets and runs their close hooks; a socket already gone leaves only the hub's state to clear. */
  private drop(conns: Conn[], code: number, reason: string) {
    for (const c of conns) {
      // What was said to it this turn (a reply, the reason) before it closes.
      c.release()
      try {
        c.raw.close(code, reason)
      } catch {
        /* already gone */
      }
      this.close(c)
    }
  }

  /** Forgets the members' buckets that have refilled and that no socket holds (a fresh one is the same). */
  sweep(now = Date.now()) {
    for (const [userId, bucket] of this.userBuckets)
      if (!this.byUser.has(userId) && bucket.full(now)) this.userBuckets.delete(userId)
  }

  private safe(fn: () => void, what: string) {
    try {
      fn()
    } catch (e) {
      this.log.error(`ws: ${what} failed`, { error: e })
    }
  }
}
