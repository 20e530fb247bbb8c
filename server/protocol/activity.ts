// The activity inbox on the wire: an item is something that happened to a member (invited to speak, a new
// follower, a mention…), each naming what it opens. Requests `activity.*`, events to every tab of the member
// (`activity.new` when an item arrives, `activity.read` when any of their devices read some), and the refusals.
import { Type as t, type Static } from '@sinclair/typebox'
import { event, Id, Person, request, type ErrorSpec } from './common'

export const ACTIVITY_PAGE = 50

export const ActivityKind = t.Union([
  t.Literal('speak_invite'),
  t.Literal('room_invite'),
  t.Literal('follower'),
  t.Literal('room_started'),
  t.Literal('room_scheduled'),
  t.Literal('event_reminder'),
  t.Literal('event_changed'),
  t.Literal('event_cancelled'),
  t.Literal('mention'),
  t.Literal('message_request'),
  t.Literal('report_handled'),
  t.Literal('replay_ready'),
])
export type ActivityKind = Static<typeof ActivityKind>

export const ActivityItem = t.Object({
  id: t.Integer(),
  kind: ActivityKind,
  /** Who did it (null: the server, e.g. a reminder). */
  actor: t.Union([Person, t.Null()]),
  /** One line, e.g. "invited you to speak in Friday AMA" (the actor's name is shown before it). */
  text: t.String(),
  /** A quote: the message that mentioned me, a room's title. */
  detail: t.String(),
  /** The app path the item opens: `/rooms/3`, `/backchannel/12`, `/u/ann`, `/settings`. */
  url: t.String(),
  createdAt: t.Integer(),
  read: t.Boolean(),
})
export type ActivityItem = Static<typeof ActivityItem>

const Unread = t.Integer({ minimum: 0 })

export const ActivityRequests = {
  /** The newest items (or those before `before`), and how many are unread. */
  'activity.list': request(
    { before: t.Optional(Id), limit: t.Optional(t.Integer({ minimum: 1, maximum: ACTIVITY_PAGE })) },
    t.Object({ items: t.Array(ActivityItem), unread: Unread }),
  ),
  /** Marks one item (`itemId`) or every item up to `upTo` (inclusive) read; every tab of mine hears `activity.read`. */
  'activity.read': request({ itemId: t.Optional(Id), upTo: t.Optional(Id) }, t.Object({ unread: Unread })),
}

export const ActivityEvents = {
  'activity.new': event({ item: ActivityItem, unread: Unread }),
  /** Some items were read on one of my devices: `itemId` alone, or everything up to `upTo`. */
  'activity.read': event({
    itemId: t.Union([t.Integer(), t.Null()]),
    upTo: t.Union([t.Integer(), t.Null()]),
    unread: Unread,
  }),
}

export const ActivityErrors = {
  activity_not_found: [404, 'No such item in your activity.'],
  activity_read_target: [422, 'Say which item to mark read (itemId) or up to which (upTo).'],
} as const satisfies Record<string, ErrorSpec>
