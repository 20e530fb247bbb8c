// What every part of the protocol shares: ids, field schemas, the people the views carry, and the helpers that
// build the request and event tables. Imports nothing but TypeBox.
import { Type as t, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'

/** Bumped when a change is not backwards compatible; sent in `hello`. */
export const PROTOCOL_VERSION = 1

// ——— fields ———

/** A row id (threads, messages, questions, members…). */
export const Id = t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
/** The id a client gives a send so that a retry is answered with the stored copy. */
export const ClientId = t.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' })
/** A username as typed (lookups ignore case; the accounts' own schema checks the characters on sign-up). */
export const UsernameField = t.String({ minLength: 1, maxLength: 20 })
/** No fields / an empty reply. */
export const Empty = t.Object({})

// ——— people ———

export const Role = t.Union([t.Literal('member'), t.Literal('admin')])
export type Role = Static<typeof Role>

/** What anyone who may see a user sees. */
export const PublicUser = t.Object({
  id: t.Integer(),
  username: t.String(),
  displayName: t.String(),
  avatar: t.Union([t.String(), t.Null()]),
  role: Role,
})
export type PublicUser = Static<typeof PublicUser>

/** A person as messages show them. */
export const Person = t.Object({
  id: t.Integer(),
  username: t.String(),
  displayName: t.String(),
  avatar: t.Union([t.String(), t.Null()]),
})
export type Person = Static<typeof Person>

// ——— building the tables ———

/** One WebSocket request: its fields (beside `id` and `type`), its reply, whether a guest (signed out) may send it. */
export interface RequestSpec {
  fields: TObject
  reply: TSchema
  guest: boolean
}

/** A request entry: `request({ roomId: Id }, RoomView, { guest: true })`. Members only unless `guest` is set. */
export const request = <F extends TProperties, R extends TSchema>(
  fields: F,
  reply: R,
  opts: { guest?: boolean } = {},
) => ({ fields: t.Object(fields), reply, guest: opts.guest ?? false })

/** An event entry: the fields beside `type`. */
export const event = <F extends TProperties>(fields: F): TObject<F> => t.Object(fields)

/** A catalog entry: the HTTP status and the message a client shows. */
export type ErrorSpec = readonly [status: number, message: string]
