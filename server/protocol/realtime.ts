// The gateway's own part of the protocol: the hello, presence, ping, and the errors of the envelope.
import { Type as t, type Static } from '@sinclair/typebox'
import { Empty, event, request, Role, type ErrorSpec } from './common'

/** Who holds a socket, as the hello tells them (null: a guest). */
export const SocketUser = t.Object({ id: t.Integer(), username: t.String(), role: Role })
export type SocketUser = Static<typeof SocketUser>

export const RealtimeRequests = {
  ping: request({}, t.Object({ now: t.Integer() }), { guest: true }),
  /** Which of these members are online now (someone who blocked the asker never is). */
  'presence.query': request(
    { userIds: t.Array(t.Integer({ minimum: 1 }), { maxItems: 200 }) },
    t.Object({ online: t.Array(t.Integer()) }),
  ),
}

export const RealtimeEvents = {
  /** The first frame on every socket. */
  hello: event({ v: t.Integer(), conn: t.Integer(), user: t.Union([SocketUser, t.Null()]) }),
  /** To the followers of a member who came online or went offline. */
  presence: event({ userId: t.Integer(), online: t.Boolean() }),
  'session.revoked': Empty,
  /** Several nodes: this socket's node is stopping; the client reconnects at once (to another node). */
  'node.draining': Empty,
}

export const RealtimeErrors = {
  bad_frame: [400, 'A message must be a JSON object.'],
  unknown_message: [400, 'Unknown message type.'],
  too_many_sockets: [429, 'Too many open connections; close a tab.'],
} as const satisfies Record<string, ErrorSpec>
