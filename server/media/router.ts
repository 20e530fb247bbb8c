// The forwarding plane of one room, the per-packet path: each participant's uplink (its speaking state and who hears
// it), its listener side (K downlink slots, each one continuous stream, protected with the listener's SRTP keys and
// written to its transport) and the choice of the K loudest speakers. No werift, no sockets, no WebSocket here:
// signalling (signalling.ts) hands a participant in through `Router.add` and then talks to its `Endpoint` (the
// uplink's packets in, the listener's `Downlink` once connected); observers (levels.ts) read the speakers after
// every tick. Nothing on the per-packet path allocates (the SRTP writer's output buffer aside).
import type { ParticipantKey, RoomRole, TapPacket } from '../contracts'
import { K_SLOTS, SlotRewriter, assignSlots, audioLevelOfExtensions, levelFromDbov } from './forwarder'
import type { RelayOut } from './relay-wire'
import { writeRtpHeader, type SrtpWriter } from './srtp'

/** Room tick: levels are smoothed and the K loudest chosen every TICK_MS. */
const TICK_MS = 100
/** A speaker who sent nothing for this long (not even DTX comfort noise) leaves the ranking. */
const SPEAKER_IDLE_MS = 1500
/** An uplink forwards at most this many packets a second (Opus sends 50, at most 100 with 10 ms frames). */
export const UPLINK_MAX_PPS = 150
/** A speaker already in the top K keeps their place unless someone is louder by this much. */
const HOLD_BONUS = 0.05
/** A listener is told who is in its slots (`rtc.slots`, R70) at most once per this interval, only on change. */
const SLOTS_EVERY_MS = 250

const SPEAKING_ROLES: ReadonlySet<RoomRole> = new Set(['host', 'moderator', 'speaker'])

/** An uplink packet, as werift parses it (only what the path reads). */
export interface RtpIn {
  readonly header: {
    readonly sequenceNumber: number
    readonly timestamp: number
    readonly extensions: readonly { readonly id: number; readonly payload: Uint8Array }[]
  }
  readonly payload: Buffer
}

/**
 * How the forwarding side reaches one listener: its SRTP keys and a way to send, given by signalling once the
 * listener is connected (transport.ts has werift's). Both methods run for every forwarded packet: no allocation.
 */
export interface Downlink {
  /**
   * The SRTP writer for the listener's current keys, or null while nothing can be sent (no keys yet, no selected
   * path). A writer readies `send` for the path found.
   */
  open(): SrtpWriter | null
  /**
   * Writes one SRTP packet to the path the last `open()` found. The media socket queues it with the others of this
   * turn of the loop (the whole fan-out of an uplink packet) and sends them in one sendmmsg (M55).
   */
  send(packet: Buffer): void
  /** Benchmarks only (`MediaService.useStockSender`): werift's own RTCRtpSender of slot `slot`, for comparison. */
  sendStock?(slot: number, pt: number, seq: number, ts: number, marker: boolean, ssrc: number, payload: Buffer): void
}

/** What signalling holds of a participant in the router. */
export interface Endpoint {
  /** One packet of the participant's uplink (the hot path: forwarded to whoever hears them). */
  receive(rtp: RtpIn): void
  /** The negotiated id of the RFC 6464 audio-level header extension. */
  setLevelExtension(id: number): void
  /** The listener is connected: sent to through `downlink`; its slots use these payload types. */
  connect(downlink: Downlink, payloadTypes: readonly number[]): void
  /** The listener's connection failed or closed: nothing is sent to it until `connect` again. */
  disconnect(): void
  /**
   * An RTCP receiver report block from the listener about one of its slots (`ssrc`): the fraction lost since its
   * previous report (0..1) and the interarrival jitter in RTP timestamp units (48 kHz). Read by /metrics (M56).
   */
  receiverReport(ssrc: number, fractionLost: number, jitter: number): void
}

/** Who may be heard: the rooms' role and mute of a participant. */
export interface Speaking {
  role?: RoomRole
  muted?: boolean
}

/** Taps on a router (levels, later recording): called after every tick, and once when the router closes. */
export interface RouterObserver {
  tick(router: Router): void
  close(router: Router): void
}

export type TapListener = (packet: TapPacket) => void

/**
 * Who is in a listener's K slots (R70): the speaker's participant key per slot, null for an empty one. Called from
 * the room's tick (never per packet), at most once per SLOTS_EVERY_MS per listener, and only when it changed.
 */
export type SlotsListener = (listener: ParticipantKey, slots: readonly (ParticipantKey | null)[]) => void

/** The listener-side RTCP feedback of a room (M56): means over the slots that reported in the last REPORT_FRESH_MS. */
export interface RoomFeedback {
  /** Slots with a fresh receiver report. */
  reports: number
  /** Mean fraction lost (0..1). */
  lossRatio: number
  /** Mean interarrival jitter, in seconds. */
  jitterSeconds: number
}
/** A receiver report counts in the room's feedback this long (browsers report every few seconds). */
const REPORT_FRESH_MS = 15_000
const OPUS_CLOCK_HZ = 48_000

/** The media plane's packet counters, shared by every router (read by /metrics and the tests). */
export class MediaCounters {
  private packets = 0
  private bytes = 0
  private drops = 0
  /** Forwarded packets per second over the last sampled second (sampled by the routers' ticks). */
  private rate = 0
  private sampledAt = 0
  private sampledPackets = 0
  forwarded(bytes: number) {
    this.packets++
    this.bytes += bytes
  }
  dropped() {
    this.drops++
  }
  get forwardedPackets() {
    return this.packets
  }
  get forwardedBytes() {
    return this.bytes
  }
  get droppedPackets() {
    return this.drops
  }
  get packetsPerSecond() {
    return this.rate
  }
  /** Off the per-packet path (each router's tick): the rate over the last second or more. */
  sample(now: number) {
    const dt = now - this.sampledAt
    if (dt < 1000) return
    if (this.sampledAt > 0) this.rate = Math.round(((this.packets - this.sampledPackets) * 1000) / dt)
    this.sampledAt = now
    this.sampledPackets = this.packets
  }
}

/** A room's taps: packets collected on the hot path are handed to the listeners in a microtask, in a batch. */
class Taps {
  private pending: TapPacket[] = []
  private scheduled = false
  constructor(
    readonly roomId: number,
    private readonly listeners: ReadonlySet<TapListener>,
  ) {}
  get active() {
    return this.listeners.size > 0
  }
  push(p: TapPacket) {
    this.pending.push(p)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => this.flush())
  }
  private flush() {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    for (const p of batch)
      for (const fn of this.listeners) {
        try {
          fn(p)
        } catch {
          // a tap's failure is its own: the room's audio goes on
        }
      }
  }
}

/**
 * A room's forwarding: its participants (in the order they came), the current ranking of its speakers and its
 * tick. Built by the media service with the room's first peer, closed with its last.
 */
export class Router {
  private readonly members = new Map<ParticipantKey, Member>()
  /** Active speakers, loudest first. */
  private ranking: readonly string[] = []
  private readonly ticker: ReturnType<typeof setInterval>
  private closed = false
  private readonly taps: Taps

  constructor(
    readonly id: number,
    private readonly counters: MediaCounters,
    private readonly observers: readonly RouterObserver[],
    private readonly stock = false,
    /** The room's taps (M54), a set its owner adds to and removes from while the router lives. */
    taps: ReadonlySet<TapListener> = new Set(),
    /** Told who is in each listener's slots (R70), coalesced per listener. */
    private readonly onSlots: SlotsListener | null = null,
    /** The room's relays to edge nodes (M64): every packet of a voice that may be heard goes once to each. */
    private readonly relay: RelayOut | null = null,
  ) {
    this.ticker = setInterval(() => this.tick(), TICK_MS)
    this.taps = new Taps(id, taps)
  }

  get size() {
    return this.members.size
  }

  /** The listeners' RTCP feedback (M56): loss and jitter averaged over the slots that reported lately. */
  feedback(now = performance.now()): RoomFeedback {
    let reports = 0,
      loss = 0,
      jitter = 0
    for (const m of this.members.values())
      for (const slot of m.listener.slots) {
        if (slot.reportAt === 0 || now - slot.reportAt > REPORT_FRESH_MS) continue
        reports++
        loss += slot.fractionLost
        jitter += slot.jitter
      }
    if (reports === 0) return { reports, lossRatio: 0, jitterSeconds: 0 }
    return {
      reports,
      lossRatio: Math.round((loss / reports) * 10000) / 10000,
      jitterSeconds: Math.round((jitter / reports / OPUS_CLOCK_HZ) * 1e6) / 1e6,
    }
  }

  /** A participant comes in: heard when `speaking` allows; its listener's K slots have these SSRCs. */
  add(key: ParticipantKey, ssrcs: readonly number[], speaking: Required<Speaking>): Endpoint {
    const member = new Member(
      new Uplink(key, speaking, this.counters, () => this.rank(), this.taps, this.relay),
      new Listener(key, ssrcs, this.counters, this.stock),
    )
    this.members.set(key, member)
    // Its slots from the current ranking; nobody else's slots change.
    if (member.listener.assign(this.ranking)) this.target(member.listener)
    return member
  }

  /** A participant is gone: it stops being a target of the speakers it heard, and leaves the ranking. */
  remove(key: ParticipantKey) {
    const m = this.members.get(key)
    if (!m) return
    this.members.delete(key)
    m.uplink.close()
    m.listener.disconnect()
    for (const source of m.listener.sources) if (source) this.members.get(source)?.uplink.untarget(m.listener)
    if (this.ranking.includes(key)) this.rank()
  }

  /** The rooms changed a participant's role or mute: who is heard follows at once. */
  update(key: ParticipantKey, change: Speaking) {
    const m = this.members.get(key)
    if (m?.uplink.update(change)) this.rank()
  }

  /** Every speaker heard lately, with their smoothed level (0..1), in the order they came (for observers). */
  eachActive(fn: (key: ParticipantKey, level: number) => void) {
    for (const m of this.members.values()) if (m.uplink.active) fn(m.uplink.key, m.uplink.level)
  }

  /** Stops the tick; observers say their last word. */
  close() {
    if (this.closed) return
    this.closed = true
    clearInterval(this.ticker)
    for (const o of this.observers) o.close(this)
  }

  private tick() {
    const now = performance.now()
    this.counters.sample(now)
    for (const m of this.members.values()) m.uplink.tick(now)
    this.rank()
    for (const o of this.observers) o.tick(this)
    if (this.onSlots) for (const m of this.members.values()) m.listener.report(now, this.onSlots)
  }

  /** Orders the active speakers by level (holders of the top K get a small bonus) and reassigns slots if needed. */
  private rank() {
    const top = new Set(this.ranking.slice(0, K_SLOTS + 1))
    const speakers: Uplink[] = []
    for (const m of this.members.values()) if (m.uplink.speaking) speakers.push(m.uplink)
    const score = (u: Uplink) => u.level + (top.has(u.key) ? HOLD_BONUS : 0)
    speakers.sort((a, b) => score(b) - score(a))
    const ranking = speakers.map((u) => u.key)
    const same = ranking.length === this.ranking.length && ranking.every((k, i) => k === this.ranking[i])
    this.ranking = ranking
    if (!same) this.reselect()
  }

  /** Every listener's slots from the ranking; when any changed, who hears whom is rebuilt. */
  private reselect() {
    let changed = false
    for (const m of this.members.values()) if (m.listener.assign(this.ranking)) changed = true
    if (!changed) return
    for (const m of this.members.values()) m.uplink.untargetAll()
    for (const m of this.members.values()) this.target(m.listener)
  }

  /** Makes each of the listener's slots a target of the speaker it carries. */
  private target(l: Listener) {
    for (let i = 0; i < K_SLOTS; i++) {
      const source = l.sources[i]
      const s = source ? this.members.get(source) : undefined
      if (s) s.uplink.addTarget(l.slots[i]!)
    }
  }
}

// ── inside a router (not exported: only the router drives these) ───────────────────────────────────────────

/** A participant: its uplink and its listener side, seen from signalling as one `Endpoint`. */
class Member implements Endpoint {
  constructor(
    readonly uplink: Uplink,
    readonly listener: Listener,
  ) {}
  receive(rtp: RtpIn) {
    this.uplink.receive(rtp)
  }
  setLevelExtension(id: number) {
    this.uplink.setLevelExtension(id)
  }
  connect(downlink: Downlink, payloadTypes: readonly number[]) {
    this.listener.connect(downlink, payloadTypes)
  }
  disconnect() {
    this.listener.disconnect()
  }
  receiverReport(ssrc: number, fractionLost: number, jitter: number) {
    this.listener.receiverReport(ssrc, fractionLost, jitter)
  }
}

/** A participant's voice: whether it may be heard, how loud it is, and the slots it goes to. */
class Uplink {
  private role: RoomRole
  private muted: boolean
  private canSpeak: boolean
  /** The loudest level heard this tick, the smoothed level, whether heard lately, when the last packet came. */
  private acc = 0
  private smoothed = 0
  private heard = false
  private lastPacketAt = 0
  /** Flood guard: packets in the current one-second window. */
  private windowStart = 0
  private windowCount = 0
  private levelExtId = 0
  private closed = false
  /** The slots (of listeners) that carry this voice now, rebuilt on every slot change. */
  private targets: Slot[] = []

  constructor(
    readonly key: ParticipantKey,
    speaking: Required<Speaking>,
    private readonly counters: MediaCounters,
    /** Called when a silent uplink starts sending: the room ranks again. */
    private readonly onActive: () => void,
    private readonly taps: Taps,
    private readonly relay: RelayOut | null,
  ) {
    this.role = speaking.role
    this.muted = speaking.muted
    this.canSpeak = SPEAKING_ROLES.has(this.role) && !this.muted
  }

  get active() {
    return this.heard
  }
  get speaking() {
    return this.heard && this.canSpeak
  }
  get level() {
    return this.smoothed
  }

  setLevelExtension(id: number) {
    this.levelExtId = id
  }

  /** One packet: its level noted, then rewritten and sent into every slot that carries this voice. */
  receive(rtp: RtpIn) {
    if (!this.canSpeak || this.closed) {
      this.counters.dropped()
      return
    }
    const h = rtp.header
    const dbov = this.levelExtId ? audioLevelOfExtensions(h.extensions, this.levelExtId) : -1
    const v = levelFromDbov(dbov)
    if (v > this.acc) this.acc = v
    const now = performance.now()
    if (now - this.windowStart >= 1000) {
      this.windowStart = now
      this.windowCount = 0
    }
    if (++this.windowCount > UPLINK_MAX_PPS) {
      this.counters.dropped()
      return
    }
    this.lastPacketAt = now
    if (!this.heard) {
      this.heard = true
      this.onActive()
    }
    const targets = this.targets // read after ranking: it may have changed them
    const payload = rtp.payload
    const seqIn = h.sequenceNumber,
      tsIn = h.timestamp
    for (let i = 0; i < targets.length; i++) targets[i]!.deliver(seqIn, tsIn, now, payload)
    // Once to each edge node that serves listeners of the room (M64), whatever its ranking here: each edge ranks.
    if (this.relay?.active) this.relay.relay(this.key, seqIn, tsIn, dbov, payload)
    if (this.taps.active) this.tap(seqIn, tsIn, now, payload, v)
  }

  /** Hands a copy of the packet to the room's taps (they run in a microtask, after this packet's fan-out). */
  private tap(seq: number, timestamp: number, now: number, payload: Buffer, level: number) {
    const key = this.key
    this.taps.push({
      roomId: this.taps.roomId,
      key,
      userId: key.startsWith('u:') ? Number(key.slice(2)) : null,
      seq,
      timestamp,
      payload: Buffer.from(payload),
      arrivedAt: performance.timeOrigin + now,
      level,
      smoothedLevel: this.smoothed,
    })
  }

  /** The tick: the level is smoothed; a voice silent for SPEAKER_IDLE_MS (or no longer allowed) stops counting. */
  tick(now: number) {
    if (!this.heard) return
    if (!this.canSpeak || now - this.lastPacketAt > SPEAKER_IDLE_MS) {
      this.silence()
      return
    }
    this.smoothed = Math.round((this.smoothed * 0.5 + this.acc * 0.5) * 1000) / 1000
    this.acc = 0
  }

  /** Applies a role or mute change; true when the participant has just lost the right to be heard. */
  update(change: Speaking): boolean {
    if (change.role !== undefined) this.role = change.role
    if (change.muted !== undefined) this.muted = change.muted
    const can = SPEAKING_ROLES.has(this.role) && !this.muted
    if (can === this.canSpeak) return false
    this.canSpeak = can
    if (can) return false
    this.silence()
    return true
  }

  close() {
    this.closed = true
  }

  addTarget(slot: Slot) {
    this.targets.push(slot)
  }
  untarget(l: Listener) {
    this.targets = this.targets.filter((s) => s.listener !== l)
  }
  untargetAll() {
    this.targets = []
  }

  private silence() {
    this.heard = false
    this.smoothed = 0
    this.acc = 0
  }
}

/** A participant's ears: K slots, sent to through its downlink once connected. */
class Listener {
  readonly slots: readonly Slot[]
  /** The speaker key in each slot (null: none). */
  private assigned: readonly (string | null)[] = Array(K_SLOTS).fill(null)
  /** The slots last told to the listener (R70; null: never), and when. */
  private told: readonly (string | null)[] | null = null
  private toldAt = -Infinity

  constructor(
    readonly key: ParticipantKey,
    ssrcs: readonly number[],
    counters: MediaCounters,
    stock: boolean,
  ) {
    this.slots = ssrcs.map((ssrc, i) => new Slot(this, i, ssrc, counters, stock))
  }

  get sources(): readonly (string | null)[] {
    return this.assigned
  }

  connect(downlink: Downlink, payloadTypes: readonly number[]) {
    for (const s of this.slots) s.connect(downlink, payloadTypes[s.index]!)
    this.told = null // a new connection (a new page, an ICE restart) is told again
  }

  /** The tick: tells who is in the slots when that changed since the listener was last told, SLOTS_EVERY_MS apart. */
  report(now: number, fn: SlotsListener) {
    const a = this.assigned,
      told = this.told
    if (told !== null && (told === a || a.every((k, i) => k === told[i]))) return
    if (now - this.toldAt < SLOTS_EVERY_MS) return
    this.told = a
    this.toldAt = now
    fn(this.key, a as readonly (ParticipantKey | null)[])
  }

  disconnect() {
    for (const s of this.slots) s.disconnect()
  }

  receiverReport(ssrc: number, fractionLost: number, jitter: number) {
    for (const s of this.slots) if (s.ssrc === ssrc >>> 0) s.report(fractionLost, jitter)
  }

  /** Takes its slots from the ranking (a speaker keeps their slot); true when a slot changed speaker. */
  assign(ranking: readonly string[]): boolean {
    const next = assignSlots(this.assigned, ranking, this.key)
    if (next === this.assigned) return false
    for (let i = 0; i < K_SLOTS; i++) this.slots[i]!.rw.setSource(next[i] ?? null)
    this.assigned = next
    return true
  }
}

/**
 * One downlink slot of a listener: its SSRC and payload type, its rewriter (one continuous stream whoever speaks),
 * its header buffer, its SRTP index, and the listener's downlink while connected.
 */
class Slot {
  readonly rw: SlotRewriter
  /** The slot's RTP header, rewritten in place for every packet. */
  private readonly header = Buffer.alloc(12)
  private pt = 0
  /** SRTP rollover counter and the highest sequence number sent (-1: none yet). */
  private roc = 0
  private top = -1
  private downlink: Downlink | null = null
  /** The listener's last RTCP receiver report on this slot: fraction lost (0..1), jitter (RTP units), when. */
  fractionLost = 0
  jitter = 0
  reportAt = 0

  constructor(
    readonly listener: Listener,
    readonly index: number,
    readonly ssrc: number,
    private readonly counters: MediaCounters,
    private readonly stock: boolean,
  ) {
    this.rw = new SlotRewriter(ssrc)
  }

  connect(downlink: Downlink, pt: number) {
    this.downlink = downlink
    this.pt = pt
  }

  disconnect() {
    this.downlink = null
  }

  report(fractionLost: number, jitter: number) {
    this.fractionLost = fractionLost
    this.jitter = jitter
    this.reportAt = performance.now()
  }

  /** One packet of the speaker in the slot: rewritten, protected and sent, if the listener is connected. */
  deliver(seqIn: number, tsIn: number, now: number, payload: Buffer) {
    const d = this.downlink
    if (d === null) return
    const rw = this.rw
    rw.map(seqIn, tsIn, now)
    if (this.stock) {
      d.sendStock?.(this.index, this.pt, rw.seq, rw.ts, rw.marker, this.ssrc, payload)
      this.counters.forwarded(12 + payload.length + 16)
      return
    }
    const writer = d.open()
    if (writer === null) return
    // SRTP index: the rollover counter goes up when the slot's sequence wraps; a late packet from before a wrap is
    // protected with the previous one.
    const seq = rw.seq
    let roc = this.roc
    if (this.top < 0) this.top = seq
    else {
      const dist = (seq - this.top) & 0xffff
      if (dist < 0x8000) {
        if (seq < this.top) roc = ++this.roc
        this.top = seq
      } else if (seq > this.top) roc = this.roc - 1
    }
    writeRtpHeader(this.header, rw.marker, this.pt, seq, rw.ts, this.ssrc)
    const packet = writer.protect(this.header, payload, this.ssrc, seq, roc)
    d.send(packet)
    this.counters.forwarded(packet.length)
  }
}
