// Room audio on the wire: the server offers, the browser answers (`rtc.*`, members and guests in the room alike),
// ICE restarts on a network change, and the speaking levels a few times a second.
import { Type as t, type Static } from '@sinclair/typebox'
import { Empty, event, Id, request, type ErrorSpec } from './common'

/** An ICE server handed to the browser (TURN with short-lived credentials). */
const IceServer = t.Object({
  urls: t.Array(t.String()),
  username: t.Optional(t.String()),
  credential: t.Optional(t.String()),
})

/** The server's offer to answer, with the ICE servers for this member or guest. */
export const RtcOffer = t.Object({ sdp: t.String(), iceServers: t.Array(IceServer) })
export type RtcOffer = Static<typeof RtcOffer>

export const MediaRequests = {
  /** A new peer for this socket's seat (replacing any previous one); replies with the offer. */
  'rtc.connect': request({ roomId: Id }, RtcOffer, { guest: true }),
  'rtc.answer': request({ roomId: Id, sdp: t.String({ minLength: 10, maxLength: 32_000 }) }, Empty, { guest: true }),
  /** A new offer with fresh ICE credentials on the same peer. */
  'rtc.restart': request({ roomId: Id }, RtcOffer, { guest: true }),
  'rtc.leave': request({ roomId: Id }, Empty, { guest: true }),
}

export const MediaEvents = {
  /** Speaking levels 0..1 by participant key, on topic `room:<id>`; `{}` when everyone fell silent. */
  'room.levels': event({ roomId: t.Integer(), levels: t.Record(t.String(), t.Number()) }),
  /**
   * Who is in each of this listener's downlink slots (R70), in the order of the offer's downlink m-lines (mid 1..3):
   * the speaker's participant key, null for an empty slot. To the listener's socket only, when it changes (at most
   * four a second), and once after every rtc.connect.
   */
  'rtc.slots': event({ roomId: t.Integer(), slots: t.Array(t.Union([t.String(), t.Null()])) }),
  /**
   * The audio of this socket's seat is served by another node now (M67: a listener served by an edge node was
   * brought on stage, whose audio goes to the room's own node): the client connects again with rtc.connect.
   */
  'rtc.moved': event({ roomId: t.Integer() }),
}

export const MediaErrors = {
  media_unavailable: [503, 'No audio ports are free on the server; try again shortly.'],
  media_room_not_live: [404, 'This room is not live.'],
  media_not_joined: [403, 'Join the room before connecting its audio.'],
  media_no_peer: [409, 'No audio connection in this room; send rtc.connect first.'],
  media_no_offer: [409, 'There is no offer waiting for an answer.'],
  media_peer_closed: [409, 'The audio connection was replaced or closed.'],
  /** The media plane is at its budget (M52): a new listener is refused; those in keep hearing, the stage gets in. */
  room_full: [503, 'This room is full: no more listeners can join its audio right now.'],
  /** Too many peers are connecting at once (M59): the client retries after the time given in the message. */
  media_busy: [503, 'The audio server is busy connecting other listeners.'],
} as const satisfies Record<string, ErrorSpec>
