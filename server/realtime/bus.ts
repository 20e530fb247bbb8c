// The one way out: every event to a socket, a user or a topic leaves through a Bus. The hub (hub.ts) is the
// in-process implementation; a Redis one (issue 11) fans the same calls out to the other nodes. Nothing else writes
// to a socket: request handlers return their reply, everything else is an event published here after the commit it
// describes.
import type { ServerEvent } from '../protocol'

export type ConnId = number
/**
 * `room:<id>` (everyone in a room), `user:<id>` (every tab of a member), `hallway` (watchers of the hallway),
 * `thread:<id>` (the members who hear live about a Backchannel thread: a member topic, see toMembers).
 */
export type Topic = `room:${number}` | `user:${number}` | `thread:${number}` | 'hallway'
export const roomTopic = (roomId: number): Topic => `room:${roomId}`
export const threadTopic = (threadId: number): Topic => `thread:${threadId}`
export const HALLWAY_TOPIC: Topic = 'hallway'

export interface Bus {
  /** To every connection subscribed to the topic, but `except`; the event is serialised once. */
  publish(topic: Topic, event: ServerEvent, except?: ConnId): void
  /** To every open tab of each member; the event is serialised once. */
  toUsers(userIds: Iterable<number>, event: ServerEvent): void
  /**
   * To every open tab of each member of `userIds`, like toUsers, through a member topic (issue 11): the bus first
   * makes the topic hold exactly these members (a member added is subscribed with every tab, on any node, and their
   * later tabs too; one removed is unsubscribed before this event goes out), then publishes the event once to the
   * topic. Callers pass the same array while the members are unchanged: it is compared by identity, then by content.
   * The topic's members are the caller's rule (who may hear), never widened by the bus. A bus may implement it as
   * toUsers(userIds, event).
   */
  toMembers(topic: Topic, userIds: readonly number[], event: ServerEvent): void
  /** To one connection (a reply-less event such as a server-initiated renegotiation). */
  toConn(connId: ConnId, event: ServerEvent): void
  subscribe(connId: ConnId, topic: Topic): void
  unsubscribe(connId: ConnId, topic: Topic): void
  /** Whether the member has at least one open connection. */
  isOnline(userId: number): boolean
}

/** Who holds a connection, as domains see it (never the socket itself). */
export interface ConnInfo {
  readonly id: ConnId
  readonly user: { readonly id: number; readonly username: string; readonly role: 'member' | 'admin' } | null
  readonly userId: number | null
  readonly sessionId: number | null
  /** Per-domain state of this connection (e.g. the room this tab is in). */
  readonly state: Map<string, unknown>
}

/** The connections' lifecycle, for the domains that keep per-connection state, and the admin's levers. */
export interface Sockets {
  onOpen(fn: (conn: ConnInfo) => void): void
  onClose(fn: (conn: ConnInfo) => void): void
  /** Open connections and members with at least one. */
  stats(): { connections: number; onlineMembers: number; messagesIn: number; messagesOut: number }
  /** Closes every socket of a member (sign-out everywhere, suspension, ban), except those of one session if given. */
  disconnectUser(userId: number, code?: number, reason?: string, exceptSession?: number): void
  disconnectSession(sessionId: number, code?: number, reason?: string): void
  /** Closes every signed-out visitor's socket (the admin turned guest listening off). */
  disconnectGuests(code?: number, reason?: string): void
}

/**
 * Which node holds each live room, and the hallway's cards from every node (issue 11). A room is held with a lease
 * that the holder renews on its heartbeat: a node that dies loses its rooms within the lease, and another node may
 * then claim them. One node without Redis holds every room (registry.ts).
 */
export interface RoomRegistry {
  /** This node's id (core.id). */
  readonly node: string
  /** Takes the room for this node unless another live node holds it; true when this node holds it now. */
  claim(roomId: number): Promise<boolean>
  /** The node holding the room, or null when none does (never claimed, released, or its holder died). */
  holder(roomId: number): Promise<string | null>
  /** Lets go of a room this node holds (it ended or moved); its hallway card goes with it. */
  release(roomId: number): Promise<void>
  /** Publishes a held room's hallway card (any JSON value), for every node's hallway. */
  setCard(roomId: number, card: unknown): Promise<void>
  /** The cards of the live rooms of every node (rooms whose holder still holds their lease), by room id. */
  hallway(): Promise<{ roomId: number; node: string; card: unknown }[]>
}
