// The WebSocket protocol shared by server and client (the client imports these types).
// A request: {id, type, ...fields} → exactly one reply {re: id, ok: true, ...} or {re: id, ok: false, error}.
// An event: {type, ...} from the server, never answered. Domains declare their request schemas beside their
// handlers (server/<domain>/ws.ts) and list their event types here.
import { Type as t } from '@sinclair/typebox'

export const PROTOCOL_VERSION = 1

/** Every client message must at least look like this. */
export const Envelope = t.Object({
  id: t.Union([t.String({ maxLength: 64 }), t.Integer()]),
  type: t.String({ minLength: 1, maxLength: 64 }),
})

export interface ErrorBody { code: string; message: string }
export type Reply = { re: string | number | null; ok: true; [k: string]: unknown } | { re: string | number | null; ok: false; error: ErrorBody }

export type ServerEvent =
  | { type: 'hello'; v: number; conn: number; user: { id: number; username: string; role: string } | null }
  | { type: 'presence'; userId: number; online: boolean }
  | { type: 'session.revoked' }
  // rooms (server/rooms): on topic `room:<id>` after join; `room.removed` to the removed member's sockets;
  // `hallway.changed` on the hallway topic (refetch GET /api/rooms).
  | { type: 'room.joined'; roomId: number; participant: import('./rooms/model').ParticipantView }
  | { type: 'room.participant'; roomId: number; participant: import('./rooms/model').ParticipantView }
  | { type: 'room.left'; roomId: number; key: string; userId: number; reason: 'left' | 'removed' | 'timeout' | 'ended' }
  | { type: 'room.guests'; roomId: number; count: number }
  | { type: 'room.pinned'; roomId: number; pinned: { kind: 'question'; id: number; text: string; by: string } | null }
  | { type: 'room.ended'; roomId: number }
  | { type: 'room.removed'; roomId: number }
  | { type: 'hallway.changed' }
  // media (server/media): speaking levels 0..1 by participant key, on topic `room:<id>` a few times a second
  | { type: 'room.levels'; roomId: number; levels: Record<string, number> }
  // backchannel (server/backchannel): to every open tab of each member of the thread, after commit. `seq` is the
  // global change counter: a client syncs (`bc.sync {after}`) from the highest seq it has seen.
  | { type: 'bc.message'; seq: number; message: import('./backchannel/model').Message }
  | { type: 'bc.thread'; seq: number; thread: import('./backchannel/model').Thread }
  | { type: 'bc.read'; seq: number; threadId: number; userId: number; messageId: number }
  | { type: 'bc.typing'; threadId: number; userId: number; username: string }
  | { type: 'bc.question'; seq: number; question: Omit<import('./backchannel/model').Question, 'voted'> }
  | { type: 'bc.chat'; seq: number; roomId: number; threadId: number; enabled: boolean }
