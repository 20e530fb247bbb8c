// A room's media state: each participant's peer (its uplink, its K downlink slots and who hears its voice) and the
// choice of the K loudest speakers for every listener. No sockets here: the service (service.ts) drives it.
import type { RTCPeerConnection, RTCRtpTransceiver } from 'werift'
import type { ParticipantKey, RoomRole } from '../contracts'
import { K_SLOTS, assignSlots, type SlotRewriter } from './forwarder'
import type { SrtpWriter } from './srtp'

/** A speaker already in the top K keeps their place unless someone is louder by this much. */
const HOLD_BONUS = 0.05

export type UdpSend = { send(b: Buffer, port: number, ip: string): unknown }

export interface Slot {
  rw: SlotRewriter; transceiver: RTCRtpTransceiver; ssrc: number; pt: number
  /** The slot's RTP header, rewritten in place for every packet. */
  header: Buffer
  /** SRTP rollover counter and the highest sequence number sent (-1: none yet). */
  roc: number; top: number
}
export interface Target { peer: Peer; slot: Slot }

/** One participant's connection: its uplink, its K downlink slots, its speaking state and where it sends. */
export class Peer {
  closed = false
  ready = false
  canSpeak = false
  role: RoomRole = 'audience'
  muted = false
  /** Speaking state: the loudest level heard this tick, the smoothed level, when the last packet came. */
  acc = 0
  level = 0
  active = false
  lastPacketAt = 0
  /** Uplink flood guard: packets in the current one-second window. */
  windowStart = 0
  windowCount = 0
  levelExtId = 0
  restarting = false
  /** Who receives this peer's voice now (rebuilt on every slot change). */
  targets: Target[] = []
  /** The speaker key in each of this peer's slots. */
  assigned: (string | null)[] = Array(K_SLOTS).fill(null)
  timer: ReturnType<typeof setTimeout> | null = null
  /** werift's DTLS transport and ICE connection, read once connected. */
  dtls: any = null
  ice: any = null
  /** The SRTP writer for werift's current session keys (rebuilt if the session object changes). */
  srtpRef: unknown = null
  writer: SrtpWriter | null = null
  /** The selected ICE pair and, for UDP, its socket and remote address (sent to directly). */
  pair: any = null
  sock: UdpSend | null = null
  rip = ''
  rport = 0

  constructor(
    readonly room: RoomMedia, readonly key: ParticipantKey, readonly userId: number | null,
    readonly pc: RTCPeerConnection, readonly uplink: RTCRtpTransceiver, readonly slots: Slot[], readonly port: number | null,
  ) {}
}

/** A room's peers, the current ranking of its speakers and its tick timer. */
export class RoomMedia {
  readonly peers = new Map<ParticipantKey, Peer>()
  ranking: string[] = []
  ticks = 0
  levelsShown = false
  ticker: ReturnType<typeof setInterval> | null = null
  constructor(readonly id: number) {}
}

// ── choosing the K loudest ─────────────────────────────────────────────────────────────────────────────────

/** Orders the active speakers by level (holders of the top K get a small bonus) and reassigns slots if needed. */
export function rank(room: RoomMedia) {
  const top = new Set(room.ranking.slice(0, K_SLOTS + 1))
  const speakers: Peer[] = []
  for (const p of room.peers.values()) if (p.active && p.canSpeak) speakers.push(p)
  const score = (p: Peer) => p.level + (top.has(p.key) ? HOLD_BONUS : 0)
  speakers.sort((a, b) => score(b) - score(a))
  const ranking = speakers.map((p) => p.key)
  const same = ranking.length === room.ranking.length && ranking.every((k, i) => k === room.ranking[i])
  room.ranking = ranking
  if (!same) reselect(room)
}

/** A new peer: its slots from the current ranking; nobody else's slots change. */
export function addListener(room: RoomMedia, l: Peer) {
  const next = assignSlots(l.assigned, room.ranking, l.key)
  if (next === l.assigned) return
  l.assigned = next
  for (let i = 0; i < K_SLOTS; i++) {
    l.slots[i]!.rw.setSource(next[i] ?? null)
    const s = next[i] ? room.peers.get(next[i]!) : undefined
    if (s) s.targets.push({ peer: l, slot: l.slots[i]! })
  }
}

/** A peer that is gone stops being a target of the speakers it heard. */
export function removeListener(room: RoomMedia, l: Peer) {
  for (const key of l.assigned) {
    const s = key ? room.peers.get(key) : undefined
    if (s) s.targets = s.targets.filter((t) => t.peer !== l)
  }
}

function reselect(room: RoomMedia) {
  let changed = false
  for (const l of room.peers.values()) {
    const next = assignSlots(l.assigned, room.ranking, l.key)
    if (next === l.assigned) continue
    changed = true
    for (let i = 0; i < K_SLOTS; i++) l.slots[i]!.rw.setSource(next[i] ?? null)
    l.assigned = next
  }
  if (!changed) return
  for (const p of room.peers.values()) p.targets = []
  for (const l of room.peers.values()) {
    for (let i = 0; i < K_SLOTS; i++) {
      const key = l.assigned[i]
      const s = key ? room.peers.get(key) : undefined
      if (s) s.targets.push({ peer: l, slot: l.slots[i]! })
    }
  }
}
