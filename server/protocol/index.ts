// The WebSocket protocol shared by the server, the client and the tests. It imports nothing but TypeBox: the
// domains import their views, field schemas and errors from here, never the other way round.
//
// A request: {id, type, ...fields} → exactly one reply {re: id, ok: true, ...reply} or {re: id, ok: false, error}.
// An event: {type, ...fields} from the server, never answered. Every request type is an entry of a domain's table
// ({fields, reply, guest}); every event type an entry of a domain's events table. The types below follow from the
// tables, so a wrong type name, a missing field or a wrong reply shape is a compile error on both sides.
import { Type as t, type Static, type TObject } from '@sinclair/typebox'
import { ActivityEvents, ActivityRequests } from './activity'
import { BackchannelEvents, BackchannelRequests } from './backchannel'
import { MediaEvents, MediaRequests } from './media'
import { RealtimeEvents, RealtimeRequests } from './realtime'
import { RoomEvents, RoomRequests } from './rooms'
import type { RequestSpec } from './common'
import type { ErrorBody } from './errors'

export * from './common'
export * from './realtime'
export * from './rooms'
export * from './media'
export * from './backchannel'
export * from './activity'
export * from './errors'

/** Every request type: `{ fields, reply, guest }`. */
export const Requests = {
  ...RealtimeRequests,
  ...RoomRequests,
  ...MediaRequests,
  ...BackchannelRequests,
  ...ActivityRequests,
} satisfies Record<string, RequestSpec>
export type Requests = typeof Requests
export type RequestType = keyof Requests
/** The fields of a request beside `id` and `type`. */
export type RequestFields<K extends RequestType> = Flat<Static<Requests[K]['fields']>>
/** What a request's successful reply carries beside `re` and `ok`. */
export type Reply<K extends RequestType> = Flat<Static<Requests[K]['reply']>>

/** Every event type: the fields beside `type`. */
export const Events = {
  ...RealtimeEvents,
  ...RoomEvents,
  ...MediaEvents,
  ...BackchannelEvents,
  ...ActivityEvents,
} satisfies Record<string, TObject>
export type Events = typeof Events
export type EventType = keyof Events
export type EventOf<K extends EventType> = Flat<{ type: K } & Static<Events[K]>>
/** Any event the server sends. */
export type ServerEvent = { [K in EventType]: EventOf<K> }[EventType]

// ——— frames ———

export type RequestId = string | number
/** Every client message must at least look like this (before its type's own schema is checked). */
export const Envelope = t.Object({
  id: t.Union([t.String({ maxLength: 64 }), t.Integer()]),
  type: t.String({ minLength: 1, maxLength: 64 }),
})
export interface ErrorFrame {
  re: RequestId | null
  ok: false
  error: ErrorBody
}
type OkFrame<K extends RequestType> = Flat<{ re: RequestId | null; ok: true } & Reply<K>>
export type ReplyFrame<K extends RequestType> = OkFrame<K> | ErrorFrame

/**
 * The full schema of a request message, `{id, type, ...fields}`, the envelope's checks included (the hub compiles it
 * once per type, and checks a request of a known type with it alone).
 */
export function requestMessage<K extends RequestType>(type: K): TObject {
  return t.Object({ id: Envelope.properties.id, type: t.Literal(type), ...Requests[type].fields.properties })
}

/** The full schema of an event, `{type, ...fields}` (for checking what the server sends, in tests). */
export function eventMessage<K extends EventType>(type: K): TObject {
  return t.Object({ type: t.Literal(type), ...Events[type].properties }, { additionalProperties: false })
}

/** The full schema of a successful reply (for checking what the server answers, in tests). */
export function replyMessage<K extends RequestType>(type: K): TObject {
  const reply = Requests[type].reply as TObject
  return t.Object({ re: t.Union([t.String(), t.Integer(), t.Null()]), ok: t.Literal(true), ...reply.properties })
}

type Flat<T> = { [P in keyof T]: T[P] } & {}
