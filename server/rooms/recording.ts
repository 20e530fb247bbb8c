// Recording in the rooms (RP1–RP19): the host's switch (rooms.recording), the admin's (the `recording` setting), and
// each speaker's consent, every answer kept with its time in recording_consents (written through the rooms store,
// store.ts). The replays domain's recorder follows the events the service emits (`recording`, `consent`) and asks
// `consent` before it writes a packet.
import type { Core } from '../core'
import { fail } from '../errors'
import { onStage, type Seat } from './session'

/** A speaker's current answer and when they gave it. */
export interface Consent {
  consent: boolean
  at: number
}

/**
 * The one permission check of a consent (RP12): a member in the live room (guests are refused by the protocol), on
 * its stage, while the room is recorded. Returns the seat.
 */
export function mayConsent(core: Core, recording: boolean, seat: Seat): Seat {
  if (!recording || !core.settings.get().recording) fail('room_not_recorded')
  if (seat.userId === null || !onStage(seat.role)) fail('not_on_stage')
  return seat
}

/** RP6/RP7: whether a packet that arrived at `arrivedAt` may be written: a yes given before it, not taken back. */
export function consentCovers(c: Consent | null | undefined, arrivedAt: number) {
  return !!c && c.consent && arrivedAt >= c.at
}
