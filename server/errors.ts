// The error catalog: every error a client can see has a stable code, an HTTP status and a message.
// Services throw `fail('code')`; the HTTP layer and the WebSocket gateway map it to {error: {code, message}}.

export const ERRORS = {
  bad_request: [400, 'The request is malformed.'],
  validation: [422, 'A field is missing or has a wrong value.'],
  bad_json: [400, 'The body is not valid JSON.'],
  payload_too_large: [413, 'The request body is too large.'],
  length_required: [411, 'The request body must declare its length.'],
  unsupported_media: [415, 'This file type is not accepted.'],
  unauthorized: [401, 'Sign in first.'],
  bad_credentials: [401, 'Wrong username or password.'],
  forbidden: [403, 'You may not do that.'],
  bad_origin: [403, 'This request came from another site.'],
  not_found: [404, 'Not found.'],
  conflict: [409, 'That conflicts with the current state.'],
  username_taken: [409, 'That username is taken.'],
  setup_done: [409, 'The server already has an admin.'],
  setup_token_invalid: [403, 'This setup link is not valid.'],
  invite_required: [403, 'Signing up needs an invite.'],
  invite_invalid: [403, 'This invite link is not valid.'],
  invite_expired: [410, 'This invite has expired.'],
  invite_revoked: [410, 'This invite was revoked.'],
  invite_used_up: [410, 'This invite has been used up.'],
  invite_quota: [403, 'You have no invites left.'],
  registration_closed: [403, 'Sign-ups are closed on this server.'],
  account_suspended: [403, 'This account is suspended.'],
  blocked: [403, 'You cannot interact with this person.'],
  reset_invalid: [410, 'This password-reset link is not valid or has expired.'],
  rate_limited: [429, 'Too many requests. Try again shortly.'],
  unknown_message: [400, 'Unknown message type.'],
  room_not_live: [409, 'This room has not started yet.'],
  room_ended: [410, 'This room has ended.'],
  room_invite_only: [403, 'This room is for invited members only.'],
  room_followers_only: [403, 'This room is for people the moderators follow.'],
  removed_from_room: [403, 'You were removed from this room.'],
  not_in_room: [409, 'Join the room first.'],
  on_stage: [409, 'Already on the stage.'],
  not_on_stage: [409, 'Only people on the stage can do that.'],
  no_invitation: [409, 'There is no invitation to speak to answer.'],
  media_unavailable: [503, 'Audio is not available right now.'],
  followers_only: [403, 'This member accepts messages only from people they follow.'],
  group_full: [409, 'A group has at most 50 members.'],
  chat_off: [403, 'The chat of this room is turned off.'],
  internal: [500, 'Something went wrong on the server.'],
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof ERRORS

export class AppError extends Error {
  readonly status: number
  constructor(readonly code: ErrorCode, message?: string, readonly retryAfter?: number) {
    super(message ?? ERRORS[code][1])
    this.status = ERRORS[code][0]
  }
  toJSON() { return { code: this.code, message: this.message } }
}

/** Throws a catalog error. `message` refines the catalog's text (e.g. which field). */
export function fail(code: ErrorCode, message?: string, retryAfter?: number): never {
  throw new AppError(code, message, retryAfter)
}

export const errorBody = (code: ErrorCode, message?: string) => ({ error: { code, message: message ?? ERRORS[code][1] } })
