// Rooms bigger than one node (issue 11 point 4; M64–M66): origin → edge media. A listener whose socket is on node B,
// in a room held by node A (the origin), has its audio served by B (the edge): B's `rtc.connect` asks A over Redis
// whether the socket's participant is a listener there, and if so answers with its own offer (B's addresses and RTC
// port). A relays each speaker's packets once per edge, whatever the number of the edge's listeners
// (relay-wire.ts: plain RTP fields over UDP, an HMAC per datagram under a key A made for the relay and gave B over
// Redis); B's router forwards them to its listeners as A's does to its own, with each listener's SRTP keys. The stage
// (and anyone whose role may send audio) connects to the origin, as before.
//
// Signalling is pub/sub on each node's channel `<p>rl:<node id>`: `sub` (a listener, with the edge plane's address)
// answered by `r` (the participant, the relay's id and key, or why not); `unsub` (the edge's listener is gone);
// `renew` every beat from the edge (the relay's lease: the origin drops an edge not heard for the Redis TTL); `gone`
// (the origin has no relay for that edge: subscribe again); from the origin: `spk` (a speaker's role or mute),
// `close` (a listener left, or moved to the stage: `moved`, and the edge tells its socket `rtc.moved`), `end`.
// The origin dies: the edge keeps its listeners' peers; at each beat it reads the room's holder again and, once the
// room is adopted elsewhere and its listeners rejoined (W26), subscribes to the new holder and the audio comes back.
import { randomBytes } from 'node:crypto'
import { connKey, type ParticipantKey, type RoomRole, type RoomsApi } from '../contracts'
import { AppError, type ErrorCode, ERRORS, fail } from '../errors'
import type { Logger } from '../lib/log'
import type { RtcOffer } from '../protocol'
import type { Bus, ConnId, ConnInfo, RoomRegistry } from '../realtime/bus'
import type { WsHandlers } from '../realtime/hub'
import type { RedisNode } from '../realtime/redis'
import type { RelayTarget } from './relay-wire'
import type { MediaService } from './service'

/** How long an edge waits for the origin's answer to `sub`. */
const SUB_TIMEOUT_MS = 5000
const STAGE: ReadonlySet<RoomRole> = new Set(['host', 'moderator', 'speaker'])

type Conn = { id: ConnId; userId: number | null }
type Wire =
  | { k: 'sub'; id: number; from: string; roomId: number; conn: Conn; ip: string; port: number }
  | {
      k: 'r'
      id: number
      ok: true
      key: ParticipantKey
      role: RoomRole
      muted: boolean
      relayId: number
      secret: string
    }
  | { k: 'r'; id: number; ok: false; code: ErrorCode; stage?: boolean }
  | { k: 'unsub'; from: string; roomId: number; key: ParticipantKey }
  | { k: 'renew'; from: string; roomId: number; keys: ParticipantKey[]; ip: string; port: number }
  | { k: 'gone'; roomId: number }
  | { k: 'spk'; roomId: number; key: ParticipantKey; role: RoomRole; muted: boolean }
  | { k: 'close'; roomId: number; key: ParticipantKey; moved: boolean }
  | { k: 'end'; roomId: number }

type Reply = Extract<Wire, { k: 'r' }>

/** Origin: one edge's relay of one room. */
interface EdgeOut {
  relayId: number
  secret: string
  ip: string
  port: number
  keys: Set<ParticipantKey>
  seenAt: number
}

/** Edge: one room served here, held by `holder`. */
interface EdgeIn {
  holder: string
  relayId: number | null
  /** The listeners served, with the socket each connected from (to subscribe again for them). */
  keys: Map<ParticipantKey, Conn>
  /** A `sub` round for every listener is under way (after `gone` or a new holder). */
  resubscribing: boolean
}

export interface RelayDeps {
  node: RedisNode
  registry: RoomRegistry
  bus: Bus
  rooms: RoomsApi
  media: MediaService
  /** Whether this node holds the room live (its session is here). */
  isLocal(roomId: number): boolean
  log: Logger
}

export class MediaRelay {
  /** Origin: the edges of each room held here, by edge node id. */
  private readonly out = new Map<number, Map<string, EdgeOut>>()
  /** Edge: the rooms of other nodes whose listeners this node serves. */
  private readonly in = new Map<number, EdgeIn>()
  /** Edge: listeners whose `sub` is under way, by room (named in the renewals, which must not drop them). */
  private readonly pending = new Map<number, Map<ParticipantKey, number>>()
  private nextId = 1
  private readonly waiting = new Map<number, (r: Reply) => void>()
  private readonly onMessage = (m: string) => this.received(m)

  constructor(private readonly d: RelayDeps) {
    const { node, rooms, media } = d
    node.onBeat(async () => this.beat())
    node.onReconnect(() => this.subscribe())
    media.onEdgeClosed((roomId, key) => this.edgeClosed(roomId, key))
    // Origin: what the edges must follow.
    rooms.on('muted', (e) => this.speaking(e.roomId, e.key))
    rooms.on('role', (e) => {
      this.speaking(e.roomId, e.key)
      if (STAGE.has(e.role)) this.dropListener(e.roomId, e.key, true)
    })
    rooms.on('left', (e) => this.dropListener(e.roomId, e.key, false))
    rooms.on('ended', (e) => this.ended(e.roomId))
  }

  async start() {
    await this.subscribe()
  }

  private subscribe() {
    return this.d.node.sub.subscribe(this.channel(this.d.node.id), this.onMessage).then(() => {})
  }

  private channel(nodeId: string) {
    return this.d.node.key(`rl:${nodeId}`)
  }

  private send(nodeId: string, m: Wire) {
    this.d.node.cmd.publish(this.channel(nodeId), JSON.stringify(m)).catch((e) => this.d.node.failed('relay', e))
  }

  /**
   * Wraps the `rtc.*` handlers (those the forwarder wrapped, and the media's own): a listener in a room held by
   * another node is served here; its later `rtc.*` run here while this node serves its audio.
   */
  wrap<H extends WsHandlers>(forwarded: H, local: H): H {
    type Fn = (conn: ConnInfo, msg: { roomId: number }) => unknown
    const fwd = (t: string) => (forwarded as unknown as Record<string, Fn>)[t]!
    const own = (t: string) => (local as unknown as Record<string, Fn>)[t]!
    const out = { ...forwarded } as unknown as Record<string, Fn>
    out['rtc.connect'] = async (conn, msg) => (await this.connect(conn, msg.roomId)) ?? fwd('rtc.connect')(conn, msg)
    for (const t of ['rtc.answer', 'rtc.restart', 'rtc.leave'])
      out[t] = (conn, msg) => (this.d.media.servesEdge(msg.roomId, connKey(conn)) ? own(t) : fwd(t))(conn, msg)
    return out as unknown as H
  }

  // ── edge ────────────────────────────────────────────────────────────────────────────────────────────────────

  /** `rtc.connect` of a room held elsewhere: served here (the offer), or null for the holder to serve (the stage). */
  private async connect(conn: ConnInfo, roomId: number): Promise<RtcOffer | null> {
    if (this.d.isLocal(roomId)) return null
    const holder = await this.d.registry.holder(roomId)
    if (!holder || holder === this.d.node.id) return null
    const reply = await this.asking(roomId, connKey(conn), () =>
      this.ask(holder, roomId, { id: conn.id, userId: conn.userId }),
    )
    if (!reply.ok) {
      this.d.media.dropIfEmpty(roomId)
      if (!reply.stage) fail(reply.code)
      // On stage: the origin serves it; a peer served here before (a listener then) is closed.
      if (this.d.media.servesEdge(roomId, connKey(conn))) this.d.media.closePeer(roomId, connKey(conn))
      return null
    }
    this.taken(roomId, holder, reply, { id: conn.id, userId: conn.userId })
    try {
      return await this.d.media.connectEdge(conn, roomId, { key: reply.key, role: reply.role, muted: reply.muted })
    } catch (e) {
      if (!this.d.media.servesEdge(roomId, reply.key)) this.edgeClosed(roomId, reply.key)
      throw e
    }
  }

  /** Runs a `sub` with the listener counted as pending in the room (the renewals name it meanwhile). */
  private async asking<T>(roomId: number, key: ParticipantKey, fn: () => Promise<T>): Promise<T> {
    let p = this.pending.get(roomId)
    if (!p) this.pending.set(roomId, (p = new Map()))
    p.set(key, (p.get(key) ?? 0) + 1)
    try {
      return await fn()
    } finally {
      const n = (p.get(key) ?? 1) - 1
      if (n > 0) p.set(key, n)
      else p.delete(key)
      if (p.size === 0 && this.pending.get(roomId) === p) this.pending.delete(roomId)
    }
  }

  /** Asks the holder to relay the room to this node for a listener; the reply, or a clear error after the timeout. */
  private async ask(holder: string, roomId: number, conn: Conn): Promise<Reply> {
    const { ip, port } = this.d.media.edgeAddress(roomId)
    const id = this.nextId++
    let timer: ReturnType<typeof setTimeout> | undefined
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, resolve)
      timer = setTimeout(() => reject(new AppError('room_holder_unreachable')), SUB_TIMEOUT_MS)
    })
    try {
      this.send(holder, { k: 'sub', id, from: this.d.node.id, roomId, conn, ip, port })
      return await reply
    } catch (e) {
      this.d.media.dropIfEmpty(roomId)
      throw e
    } finally {
      clearTimeout(timer)
      this.waiting.delete(id)
    }
  }

  /** A listener accepted by the origin: the room's relay is (still) this one. */
  private taken(roomId: number, holder: string, r: Extract<Reply, { ok: true }>, conn: Conn) {
    let e = this.in.get(roomId)
    if (!e || e.holder !== holder)
      this.in.set(roomId, (e = { holder, relayId: null, keys: e?.keys ?? new Map(), resubscribing: false }))
    e.keys.set(r.key, conn)
    if (e.relayId !== r.relayId) {
      e.relayId = r.relayId
      this.d.media.relayFrom(roomId, [{ relayId: r.relayId, secret: r.secret }])
    }
  }

  /** Edge: a listener's peer closed here (left, or its socket went): the origin stops counting it. */
  private edgeClosed(roomId: number, key: ParticipantKey) {
    const e = this.in.get(roomId)
    if (!e?.keys.delete(key)) return
    this.send(e.holder, { k: 'unsub', from: this.d.node.id, roomId, key })
    if (e.keys.size > 0) return
    this.in.delete(roomId)
    this.d.media.relayFrom(roomId, [])
  }

  /** Edge: every listener asks the (new) holder again; those it refuses wait for the next beat. */
  private async resubscribe(roomId: number, e: EdgeIn) {
    if (e.resubscribing) return
    e.resubscribing = true
    try {
      for (const [key, conn] of [...e.keys]) {
        const r = await this.ask(e.holder, roomId, conn).catch(() => null)
        if (this.in.get(roomId) !== e || !e.keys.has(key)) return
        if (r?.ok) this.taken(roomId, e.holder, r, conn)
        else if (r?.stage) this.moved(roomId, key)
      }
    } finally {
      e.resubscribing = false
    }
  }

  /** Edge: the listener's audio is the origin's now (on stage): its peer here closes and its socket is told. */
  private moved(roomId: number, key: ParticipantKey) {
    const conn = this.d.media.edgeConn(roomId, key)
    this.d.media.closePeer(roomId, key)
    if (conn !== undefined) this.d.bus.toConn(conn, { type: 'rtc.moved', roomId })
  }

  // ── origin ──────────────────────────────────────────────────────────────────────────────────────────────────

  private subscribed(m: Extract<Wire, { k: 'sub' }>) {
    const reply = (r: Omit<Extract<Reply, { ok: false }>, 'k' | 'id' | 'ok'>) =>
      this.send(m.from, { k: 'r', id: m.id, ok: false, ...r })
    if (!this.d.isLocal(m.roomId)) return reply({ code: 'media_room_not_live' })
    const p = this.d.rooms.participant(m.roomId, connKey(m.conn))
    if (!p) return reply({ code: 'media_not_joined' })
    if (STAGE.has(p.role)) return reply({ code: 'media_not_joined', stage: true })
    let edges = this.out.get(m.roomId)
    if (!edges) this.out.set(m.roomId, (edges = new Map()))
    let edge = edges.get(m.from)
    if (!edge || edge.ip !== m.ip || edge.port !== m.port) {
      const relayId = randomBytes(4).readUInt32BE(0) || 1
      edge = { relayId, secret: randomBytes(32).toString('hex'), ip: m.ip, port: m.port, keys: new Set(), seenAt: 0 }
      edges.set(m.from, edge)
      this.push(m.roomId)
    }
    edge.keys.add(p.key)
    edge.seenAt = Date.now()
    // Its audio is the edge's now: a peer it had here (its socket was on this node before) is closed.
    this.d.media.closePeer(m.roomId, p.key)
    const { relayId, secret } = edge
    this.send(m.from, { k: 'r', id: m.id, ok: true, key: p.key, role: p.role, muted: p.muted, relayId, secret })
  }

  /** The planes send the room to its edges now. */
  private push(roomId: number) {
    const edges = this.out.get(roomId)
    const targets: RelayTarget[] = [...(edges?.values() ?? [])].map((e) => ({
      relayId: e.relayId,
      ip: e.ip,
      port: e.port,
      secret: e.secret,
    }))
    if (edges && edges.size === 0) this.out.delete(roomId)
    this.d.media.relayTo(roomId, targets)
  }

  private unsubscribed(from: string, roomId: number, key: ParticipantKey) {
    const edge = this.out.get(roomId)?.get(from)
    if (!edge?.keys.delete(key) || edge.keys.size > 0) return
    this.out.get(roomId)!.delete(from)
    this.push(roomId)
  }

  /** The edge's lease: renewed, with the listeners it serves now (one whose `unsub` was lost is dropped here). */
  private renewed(m: Extract<Wire, { k: 'renew' }>) {
    const edges = this.out.get(m.roomId)
    const edge = edges?.get(m.from)
    if (!edges || !edge || edge.ip !== m.ip || edge.port !== m.port)
      return this.send(m.from, { k: 'gone', roomId: m.roomId })
    edge.seenAt = Date.now()
    const serves = new Set(m.keys)
    for (const key of [...edge.keys]) if (!serves.has(key)) edge.keys.delete(key)
    if (edge.keys.size > 0) return
    edges.delete(m.from)
    this.push(m.roomId)
  }

  /** A participant's role or mute changed here: the edges' routers follow at once. */
  private speaking(roomId: number, key: ParticipantKey) {
    const edges = this.out.get(roomId)
    const p = edges && this.d.rooms.participant(roomId, key)
    if (!p) return
    for (const nodeId of edges.keys()) this.send(nodeId, { k: 'spk', roomId, key, role: p.role, muted: p.muted })
  }

  /** A listener served by an edge left the room, or went on stage (its audio comes here then). */
  private dropListener(roomId: number, key: ParticipantKey, moved: boolean) {
    const edges = this.out.get(roomId)
    if (!edges) return
    for (const [nodeId, edge] of edges) {
      if (!edge.keys.delete(key)) continue
      this.send(nodeId, { k: 'close', roomId, key, moved })
      if (edge.keys.size === 0) edges.delete(nodeId)
    }
    this.push(roomId)
  }

  private ended(roomId: number) {
    const edges = this.out.get(roomId)
    if (!edges) return
    for (const nodeId of edges.keys()) this.send(nodeId, { k: 'end', roomId })
    edges.clear()
    this.push(roomId)
  }

  // ── both ────────────────────────────────────────────────────────────────────────────────────────────────────

  private received(message: string) {
    let m: Wire
    try {
      m = JSON.parse(message)
    } catch {
      return
    }
    try {
      this.handle(m)
    } catch (error) {
      this.d.log.error('media: a relay message failed', { kind: m?.k, error })
    }
  }

  private handle(m: Wire) {
    switch (m.k) {
      case 'sub':
        return this.subscribed(m)
      case 'r':
        return this.waiting.get(m.id)?.(m.ok ? m : { ...m, code: ERRORS[m.code] ? m.code : ('internal' as ErrorCode) })
      case 'unsub':
        return this.unsubscribed(m.from, m.roomId, m.key)
      case 'renew':
        return this.renewed(m)
      case 'gone': {
        const e = this.in.get(m.roomId)
        if (e) {
          e.relayId = null
          void this.resubscribe(m.roomId, e)
        }
        return
      }
      case 'spk':
        return this.d.media.relayedSpeaking(m.roomId, m.key, { role: m.role, muted: m.muted })
      case 'close':
        if (m.moved) return this.moved(m.roomId, m.key)
        return this.d.media.closePeer(m.roomId, m.key)
      case 'end':
        return this.d.media.closeRoom(m.roomId)
    }
  }

  /**
   * Every beat. Edge: each room's lease renewed with its holder, or, when another node holds it now (the origin
   * died and the room was adopted), its listeners subscribed there. Origin: edges not heard for the TTL dropped.
   */
  private async beat() {
    for (const [roomId, e] of this.in) {
      const holder = await this.d.registry.holder(roomId).catch(() => null)
      if (!holder || this.in.get(roomId) !== e) continue
      if (holder === this.d.node.id) {
        // Adopted here: its listeners are this node's own; their next rtc.connect runs here as for any room.
        this.in.delete(roomId)
        this.d.media.adopted(roomId)
        continue
      }
      if (holder !== e.holder) {
        e.holder = holder
        e.relayId = null
        void this.resubscribe(roomId, e)
        continue
      }
      const { ip, port } = this.d.media.edgeAddress(roomId)
      const keys = [...new Set([...e.keys.keys(), ...(this.pending.get(roomId)?.keys() ?? [])])]
      this.send(holder, { k: 'renew', from: this.d.node.id, roomId, keys, ip, port })
    }
    const expired = Date.now() - this.d.node.ttlMs
    for (const [roomId, edges] of this.out) {
      let changed = false
      for (const [nodeId, edge] of edges)
        if (edge.seenAt < expired) {
          edges.delete(nodeId)
          changed = true
        }
      if (changed) this.push(roomId)
    }
  }

  /** Tests: the edges each room held here relays to, and the rooms this node serves as an edge. */
  debug() {
    return {
      out: [...this.out].map(([roomId, edges]) => ({
        roomId,
        edges: [...edges].map(([node, e]) => ({ node, relayId: e.relayId, listeners: e.keys.size })),
      })),
      in: [...this.in].map(([roomId, e]) => ({ roomId, holder: e.holder, relayId: e.relayId, listeners: e.keys.size })),
    }
  }
}
