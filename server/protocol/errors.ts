// The error catalog: every error a client can see has a stable code, an HTTP status and a message. Each reason for
// a refusal has its own code (the client may branch on it). A thrown error may only add data to its message (which
// field, the limit, how long to wait, whose name), never state another reason: that is another code. The domains'
// parts hold their own tables; the HTTP-only domains (accounts, invites, admin, push) have theirs here.
import type { ErrorSpec } from './common'
import { ActivityErrors } from './activity'
import { BackchannelErrors } from './backchannel'
import { MediaErrors } from './media'
import { RealtimeErrors } from './realtime'
import { RoomErrors } from './rooms'

export const CommonErrors = {
  bad_request: [400, 'The request is malformed.'],
  /** The message names the field: "title: must not be blank". */
  validation: [422, 'A field is missing or has a wrong value.'],
  bad_json: [400, 'The body is not valid JSON.'],
  /** The message may give the limit: "An image may be at most 10 MB." */
  payload_too_large: [413, 'The request body is too large.'],
  length_required: [411, 'The request body must declare its length.'],
  /** The message may list the accepted types. */
  unsupported_media: [415, 'This file type is not accepted.'],
  unauthorized: [401, 'Sign in first.'],
  forbidden: [403, 'You may not do that.'],
  bad_origin: [403, 'This request came from another site.'],
  not_found: [404, 'Not found.'],
  conflict: [409, 'That conflicts with the current state.'],
  self_target: [409, 'That is you.'],
  /** The message may say what and how long to wait: "Too many images; try again in 3 s." */
  rate_limited: [429, 'Too many requests. Try again shortly.'],
  internal: [500, 'Something went wrong on the server.'],
} as const satisfies Record<string, ErrorSpec>

export const AccountErrors = {
  bad_credentials: [401, 'Wrong username or password.'],
  wrong_password: [401, 'The current password is wrong.'],
  username_taken: [409, 'That username is taken.'],
  setup_done: [409, 'The server already has an admin.'],
  setup_token_invalid: [403, 'This setup link is not valid.'],
  registration_closed: [403, 'Sign-ups are closed on this server.'],
  account_suspended: [403, 'This account is suspended.'],
  account_last_admin: [409, 'You are the only admin: make someone else admin before deleting your account.'],
  account_banned: [403, 'This account is banned.'],
  reset_invalid: [410, 'This password-reset link is not valid or has expired.'],
  /** The message may name the person: "You cannot message @ann." */
  blocked: [403, 'You cannot interact with this person.'],
  unblock_first: [403, 'Unblock them first.'],
} as const satisfies Record<string, ErrorSpec>

export const InviteErrors = {
  invite_required: [403, 'Signing up needs an invite.'],
  invite_invalid: [403, 'This invite link is not valid.'],
  invite_expired: [410, 'This invite has expired.'],
  invite_revoked: [410, 'This invite was revoked.'],
  invite_used_up: [410, 'This invite has been used up.'],
  /** The message says how many are left. */
  invite_quota: [403, 'You have no invites left.'],
} as const satisfies Record<string, ErrorSpec>

export const AdminErrors = {
  admin_self: [409, 'You cannot do that to yourself.'],
  admin_demote_first: [403, 'Remove the admin role first.'],
  admin_not_active: [409, 'Only an active member can be an admin.'],
  report_self: [409, 'You cannot report yourself.'],
  backup_running: [409, 'A backup is already being written; try again when it is done.'],
  report_duplicate: [409, 'You already reported this; an admin will look at it.'],
  metrics_token: [401, 'A valid metrics token is required.'],
} as const satisfies Record<string, ErrorSpec>

export const PushErrors = {
  push_endpoint_taken: [409, 'This push subscription belongs to another member.'],
} as const satisfies Record<string, ErrorSpec>

export const ReplayLibraryErrors = {
  replay_not_speaker: [409, 'You are not heard in this replay.'],
  replay_not_failed: [409, 'Only a replay whose mix failed can be mixed again.'],
  range_not_satisfiable: [416, 'The range asked for starts past the end of the file.'],
} as const satisfies Record<string, ErrorSpec>

export const ERRORS = {
  ...CommonErrors,
  ...RealtimeErrors,
  ...AccountErrors,
  ...InviteErrors,
  ...AdminErrors,
  ...PushErrors,
  ...RoomErrors,
  ...MediaErrors,
  ...BackchannelErrors,
  ...ActivityErrors,
  ...ReplayLibraryErrors,
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

/** The error of a refused request or HTTP call: `{error: {code, message}}`. */
export interface ErrorBody {
  code: ErrorCode
  message: string
}
