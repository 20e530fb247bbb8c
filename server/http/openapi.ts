// The API's OpenAPI document and its reference page, served from the binary (no CDN): /openapi (the page),
// /openapi/json (the document), /openapi/ui.js (Scalar's standalone bundle, vendored from @scalar/api-reference and
// precompressed by `npm run build`). The routes describe their inputs (Elysia reads their TypeBox schemas); this
// file adds what they cannot say: the success body (the protocol's views where they exist), the errors each route can
// answer (from the catalog, server/protocol/errors.ts: `{error: {code, message}}`) and who may call it (the session
// cookie). A route missing from OPERATIONS is still documented with the generic errors; the test lists it.
import { dirname, join } from 'node:path'
import { toOpenAPISchema } from '@elysiajs/openapi'
import { Type as t, type TSchema } from '@sinclair/typebox'
import type { AnyElysia } from 'elysia'
import { Elysia } from 'elysia'
import {
  ERRORS,
  type ErrorCode,
  HallwayRoom,
  Inbox,
  Message,
  ParticipantView,
  PublicUser,
  RoomView,
  SearchResult,
  Thread,
} from '../protocol'
import { pickEncoding } from './static'

/** Who may call a route: anyone, anyone (a session changes the answer), a signed-in member, an admin. */
type Auth = 'public' | 'optional' | 'member' | 'admin'
export interface Operation {
  auth: Auth
  /** The success body (JSON unless `file`). */
  ok: TSchema
  /** The success status (200 unless said). */
  status?: number
  /** The route's own refusals, beside those every route of its kind can give (see genericErrors). */
  errors?: ErrorCode[]
  /** The success body is a file of this type, not JSON. */
  file?: string
}

// ——— the views the HTTP routes answer with (the protocol's where they exist) ———

const Ok = t.Object({ ok: t.Literal(true) })
const Status = t.Union([t.Literal('active'), t.Literal('suspended'), t.Literal('banned')])
/** The signed-in member (GET /api/me, /api/session, sign-in and sign-up). */
const Me = t.Composite([
  PublicUser,
  t.Object({ bio: t.String(), inviteQuota: t.Integer(), status: Status, createdAt: t.Integer() }),
])
const WithUser = t.Object({ user: Me })
const Users = t.Object({ users: t.Array(PublicUser) })
const Profile = t.Composite([
  PublicUser,
  t.Object({
    bio: t.String(),
    createdAt: t.Integer(),
    invitedBy: t.Union([t.String(), t.Null()]),
    followers: t.Integer(),
    following: t.Integer(),
    isFollowing: t.Boolean(),
    followsYou: t.Boolean(),
    blocked: t.Boolean(),
    isSelf: t.Boolean(),
  }),
])
const InviteState = t.Union(['pending', 'used_up', 'expired', 'revoked'].map((s) => t.Literal(s)))
const Invite = t.Object({
  id: t.Integer(),
  createdBy: t.Union([t.String(), t.Null()]),
  uses: t.Integer(),
  usesAllowed: t.Integer(),
  expiresAt: t.Union([t.Integer(), t.Null()]),
  revokedAt: t.Union([t.Integer(), t.Null()]),
  note: t.String(),
  createdAt: t.Integer(),
  state: InviteState,
  usedBy: t.Array(t.String()),
})
/** A shape this document does not spell out field by field (admin views); its top-level keys are listed. */
const Open = (description: string) => t.Object({}, { additionalProperties: true, description })
const Tree = t.Array(Open('A member of the invite tree: id, username, status, invites left, children'))
const Member = Open('A member as the admin console lists them: profile, status, role, counts')
const Report = Open('A report: who, what (member, room or message), why, state and the handling note')
const Backup = t.Object({ name: t.String(), size: t.Integer(), createdAt: t.Integer() }, { additionalProperties: true })
const PushKinds = t.Object({
  dm: t.Boolean(),
  room_started: t.Boolean(),
  room_reminder: t.Boolean(),
  speak_invite: t.Boolean(),
})
const Settings = t.Object(
  {
    registration: t.Union([t.Literal('invite'), t.Literal('open'), t.Literal('closed')]),
    inviteQuota: t.Integer(),
    guests: t.Boolean(),
    turnUrls: t.Array(t.String()),
  },
  { additionalProperties: true },
)
const History = t.Object({ thread: Thread, messages: t.Array(Message), more: t.Boolean() })
const Image = Open('The stored image: its URL (to send in a message), type, width and height')
const RoomPage = t.Object({
  room: RoomView,
  host: t.Union([PublicUser, t.Null()]),
  mayJoin: t.Boolean(),
  mayStart: t.Boolean(),
  participants: t.Array(ParticipantView),
  guests: t.Integer(),
  history: t.Array(Open('Someone who was in the room (after it ended): the person, their role, when')),
})

const ReplayState = t.Union(['pending', 'mixing', 'ready', 'failed'].map((s) => t.Literal(s)))
const ReplaySummary = t.Object({
  id: t.Integer(),
  roomId: t.Integer(),
  title: t.String(),
  state: ReplayState,
  progress: t.Union([t.Number(), t.Null()], { description: 'From 0 to 1 while mixing (for the host only)' }),
  durationMs: t.Integer(),
  createdAt: t.Integer(),
  readyAt: t.Union([t.Integer(), t.Null()]),
  speakers: t.Array(PublicUser),
  leftOut: t.Integer({ description: 'How many speakers chose not to be recorded (or withdrew)' }),
})
const Clip = t.Object({
  slug: t.String(),
  replayId: t.Integer(),
  title: t.String(),
  startMs: t.Integer(),
  durationMs: t.Integer(),
  createdAt: t.Integer(),
  by: t.Union([PublicUser, t.Null()]),
  speakers: t.Array(PublicUser),
  url: t.String(),
})
const ReplayDetail = t.Composite([
  ReplaySummary,
  t.Object({
    kind: t.String(),
    host: t.Union([PublicUser, t.Null()]),
    chapters: t.Array(Open('A chapter: startMs, title, kind (speaker or question), userId')),
    timeline: t.Array(t.Object({ at: t.Integer(), ms: t.Integer(), len: t.Integer() })),
    error: t.Union([t.String(), t.Null()]),
    mayDelete: t.Boolean(),
    mayWithdraw: t.Boolean(),
    withdrawn: t.Boolean(),
    clips: t.Array(Clip),
  }),
])
const JsonChapters = t.Object({
  version: t.Literal('1.2.0'),
  chapters: t.Array(t.Object({ startTime: t.Number(), title: t.String() })),
})
const Usage = t.Object({ n: t.Integer(), bytes: t.Integer() })
const ReplayAdmin = t.Object({
  keepDays: t.Integer(),
  disk: t.Object({ replays: Usage, clips: Usage, recordings: Usage }),
  replays: t.Array(Open('A replay: id, roomId, title, state, bytes, clips (bytes), createdAt')),
})

const LOGIN: ErrorCode[] = ['bad_credentials', 'account_suspended', 'rate_limited']
const MEMBER_ACTION: ErrorCode[] = ['not_found', 'self_target']
const INVITE_USE: ErrorCode[] = ['invite_invalid', 'invite_expired', 'invite_revoked', 'invite_used_up']
const ADMIN_MEMBER: ErrorCode[] = ['not_found', 'admin_self', 'admin_demote_first']
const ROOM_START: ErrorCode[] = ['not_found', 'room_start_forbidden', 'room_ended']

/** Every documented operation, by `METHOD /path` as the document writes it. */
export const OPERATIONS: Record<string, Operation> = {
  'GET /healthz': {
    auth: 'public',
    ok: t.Object({ status: t.String(), version: t.String(), database: t.String() }),
  },
  // accounts
  'POST /api/auth/login': { auth: 'public', ok: WithUser, errors: LOGIN },
  'POST /api/auth/logout': { auth: 'optional', ok: Ok },
  'POST /api/auth/logout-all': { auth: 'member', ok: Ok },
  'POST /api/auth/password': { auth: 'member', ok: Ok, errors: ['wrong_password', 'rate_limited'] },
  'POST /api/auth/register': {
    auth: 'public',
    ok: WithUser,
    status: 201,
    errors: ['username_taken', 'registration_closed', 'invite_required', ...INVITE_USE, 'rate_limited'],
  },
  'GET /api/setup': { auth: 'public', ok: t.Object({ needed: t.Boolean() }) },
  'GET /api/setup/{token}': {
    auth: 'public',
    ok: t.Object({ needed: t.Boolean(), valid: t.Boolean() }),
    errors: ['rate_limited'],
  },
  'POST /api/setup': {
    auth: 'public',
    ok: WithUser,
    status: 201,
    errors: ['setup_done', 'setup_token_invalid', 'username_taken', 'rate_limited'],
  },
  'GET /api/session': { auth: 'optional', ok: t.Object({ user: t.Union([Me, t.Null()]) }) },
  'GET /api/me': { auth: 'member', ok: WithUser },
  'PATCH /api/me': { auth: 'member', ok: WithUser },
  'PUT /api/me/avatar': { auth: 'member', ok: WithUser, errors: ['unsupported_media'] },
  'DELETE /api/me/avatar': { auth: 'member', ok: Ok },
  'GET /api/me/blocks': { auth: 'member', ok: Users },
  'GET /api/me/export': {
    auth: 'member',
    ok: t.String({ format: 'binary' }),
    file: 'application/x-tar',
    errors: ['rate_limited'],
  },
  'POST /api/me/delete': {
    auth: 'member',
    ok: Ok,
    errors: ['wrong_password', 'account_last_admin', 'rate_limited'],
  },
  'GET /api/avatars/{file}': {
    auth: 'public',
    ok: t.String({ format: 'binary' }),
    file: 'image/*',
    errors: ['not_found'],
  },
  'GET /api/users': {
    auth: 'member',
    ok: t.Object({ users: t.Array(t.Composite([PublicUser, t.Object({ isFollowing: t.Boolean() })])) }),
  },
  'GET /api/users/{username}': { auth: 'member', ok: t.Object({ profile: Profile }), errors: ['not_found'] },
  'GET /api/users/{username}/followers': { auth: 'member', ok: Users, errors: ['not_found'] },
  'GET /api/users/{username}/following': { auth: 'member', ok: Users, errors: ['not_found'] },
  'PUT /api/users/{username}/follow': {
    auth: 'member',
    ok: t.Object({ following: t.Literal(true) }),
    errors: [...MEMBER_ACTION, 'unblock_first'],
  },
  'DELETE /api/users/{username}/follow': {
    auth: 'member',
    ok: t.Object({ following: t.Literal(false) }),
    errors: MEMBER_ACTION,
  },
  'PUT /api/users/{username}/block': {
    auth: 'member',
    ok: t.Object({ blocked: t.Literal(true) }),
    errors: MEMBER_ACTION,
  },
  'DELETE /api/users/{username}/block': {
    auth: 'member',
    ok: t.Object({ blocked: t.Literal(false) }),
    errors: MEMBER_ACTION,
  },
  // invites
  'GET /api/registration': {
    auth: 'public',
    ok: t.Object({
      mode: t.Union([t.Literal('invite'), t.Literal('open'), t.Literal('closed')]),
      setupNeeded: t.Boolean(),
    }),
  },
  'GET /api/invites/{token}/check': {
    auth: 'public',
    ok: t.Object({
      invite: t.Object({
        invitedBy: t.Union([t.String(), t.Null()]),
        usesLeft: t.Integer(),
        expiresAt: t.Union([t.Integer(), t.Null()]),
      }),
    }),
    errors: [...INVITE_USE, 'rate_limited'],
  },
  'POST /api/invites': {
    auth: 'member',
    ok: t.Object({ invite: Invite, url: t.String(), token: t.String() }),
    status: 201,
    errors: ['invite_quota', 'not_found'],
  },
  'GET /api/invites': {
    auth: 'member',
    ok: t.Object({ invites: t.Array(Invite), quota: t.Union([t.Integer(), t.Null()]) }),
  },
  'DELETE /api/invites/{id}': { auth: 'member', ok: t.Object({ revoked: t.Boolean() }), errors: ['not_found'] },
  'GET /api/admin/invite-tree': { auth: 'admin', ok: t.Object({ tree: Tree }) },
  // push
  'GET /api/push/key': { auth: 'public', ok: t.Object({ publicKey: t.String() }) },
  'POST /api/push/subscribe': { auth: 'member', ok: Ok, status: 201 },
  'POST /api/push/unsubscribe': { auth: 'member', ok: t.Object({ removed: t.Boolean() }) },
  'GET /api/push/settings': {
    auth: 'member',
    ok: t.Object({ settings: PushKinds, devices: t.Array(Open('A subscribed device: id, browser, when')) }),
  },
  'PATCH /api/push/settings': { auth: 'member', ok: t.Object({ settings: PushKinds }) },
  'POST /api/push/test': { auth: 'member', ok: t.Object({ sent: t.Integer() }), errors: ['rate_limited'] },
  // reports and password resets
  'POST /api/reports': {
    auth: 'member',
    ok: t.Object({ report: Report }),
    status: 201,
    errors: ['not_found', 'report_self', 'report_duplicate', 'rate_limited'],
  },
  'GET /api/reset/{token}': {
    auth: 'public',
    ok: t.Object({ reset: t.Object({ username: t.String(), expiresAt: t.Integer() }) }),
    errors: ['reset_invalid', 'rate_limited'],
  },
  'POST /api/reset/{token}': {
    auth: 'public',
    ok: t.Object({ reset: Open('The member whose password was set') }),
    errors: ['reset_invalid', 'rate_limited'],
  },
  // admin
  'GET /api/admin/stats': {
    auth: 'admin',
    ok: t.Object({ stats: Open('Members, live rooms, people in rooms, messages today') }),
  },
  'GET /api/admin/members': { auth: 'admin', ok: t.Object({ members: t.Array(Member) }) },
  'POST /api/admin/members/{id}/suspend': { auth: 'admin', ok: t.Object({ member: Member }), errors: ADMIN_MEMBER },
  'POST /api/admin/members/{id}/unsuspend': { auth: 'admin', ok: t.Object({ member: Member }), errors: ADMIN_MEMBER },
  'POST /api/admin/members/{id}/ban': { auth: 'admin', ok: t.Object({ member: Member }), errors: ADMIN_MEMBER },
  'POST /api/admin/members/{id}/unban': { auth: 'admin', ok: t.Object({ member: Member }), errors: ADMIN_MEMBER },
  'PUT /api/admin/members/{id}/role': {
    auth: 'admin',
    ok: t.Object({ member: Member }),
    errors: ['not_found', 'admin_self', 'admin_not_active'],
  },
  'POST /api/admin/members/{id}/reset-link': {
    auth: 'admin',
    ok: t.Object({ url: t.String(), expiresAt: t.Integer() }, { additionalProperties: true }),
    status: 201,
    errors: ['not_found'],
  },
  'GET /api/admin/tree': { auth: 'admin', ok: t.Object({ tree: Tree }) },
  'POST /api/admin/tree/{id}/revoke': {
    auth: 'admin',
    ok: Open('How many invites were revoked and members suspended'),
    errors: ['not_found'],
  },
  'GET /api/admin/reports': { auth: 'admin', ok: t.Object({ reports: t.Array(Report) }) },
  'PATCH /api/admin/reports/{id}': { auth: 'admin', ok: t.Object({ report: Report }), errors: ['not_found'] },
  'GET /api/admin/settings': { auth: 'admin', ok: t.Object({ settings: Settings }) },
  'PATCH /api/admin/settings': { auth: 'admin', ok: t.Object({ settings: Settings }) },
  'GET /api/admin/backups': { auth: 'admin', ok: t.Object({ backups: t.Array(Backup) }) },
  'POST /api/admin/backups': { auth: 'admin', ok: t.Object({ backup: Backup }), status: 201 },
  'GET /api/admin/backups/{name}': {
    auth: 'admin',
    ok: t.String({ format: 'binary' }),
    file: 'application/vnd.sqlite3',
    errors: ['not_found'],
  },
  'DELETE /api/admin/backups/{name}': { auth: 'admin', ok: Ok, errors: ['not_found'] },
  'GET /api/admin/audit': {
    auth: 'admin',
    ok: t.Object({ entries: t.Array(Open('An audit entry: who did what to whom, when')) }),
  },
  // rooms
  'GET /api/rooms': {
    auth: 'optional',
    ok: t.Object({ live: t.Array(HallwayRoom), upcoming: t.Array(HallwayRoom) }),
    errors: ['unauthorized'],
  },
  'POST /api/rooms': {
    auth: 'member',
    ok: t.Object({ room: RoomView }),
    status: 201,
    errors: ['room_live_limit', 'room_scheduled_limit'],
  },
  // Signed out: 401 unless the server lets guests listen.
  'GET /api/rooms/{id}': { auth: 'optional', ok: RoomPage, errors: ['unauthorized', 'not_found'] },
  'POST /api/rooms/{id}/start': { auth: 'member', ok: t.Object({ room: RoomView }), errors: ROOM_START },
  'DELETE /api/rooms/{id}': {
    auth: 'member',
    ok: Ok,
    errors: ['not_found', 'room_cancel_not_scheduled', 'room_cancel_forbidden'],
  },
  'PATCH /api/rooms/{id}': {
    auth: 'member',
    ok: t.Object({ room: RoomView }),
    errors: ['not_found', 'room_edit_forbidden', 'room_edit_not_scheduled'],
  },
  'PUT /api/rooms/{id}/rsvp': {
    auth: 'member',
    ok: t.Object({ rsvp: Open('The answers: count, who is coming (up to 8), my answer') }),
    errors: ['not_found', 'room_rsvp_not_scheduled', 'room_rsvp_host'],
  },
  // Signed out: open rooms only.
  'GET /api/rooms/{id}/event': {
    auth: 'optional',
    ok: Open("A room's event page: title, time, hosts, description, RSVP count, what a visitor may do"),
    errors: ['not_found'],
  },
  'GET /api/rooms/search': {
    auth: 'member',
    ok: Open('Rooms matching the query by title, description or host, grouped live, upcoming and past'),
  },
  'GET /api/calendar': { auth: 'member', ok: Open("The address of the member's private calendar feed") },
  'POST /api/calendar': { auth: 'member', ok: Open("A new address for the member's private calendar feed") },
  // replays
  'GET /api/replays': { auth: 'member', ok: t.Object({ replays: t.Array(ReplaySummary) }) },
  'GET /api/replays/{id}': { auth: 'member', ok: t.Object({ replay: ReplayDetail }), errors: ['not_found'] },
  'GET /api/replays/{id}/audio': {
    auth: 'member',
    ok: t.String({ format: 'binary', description: 'The Ogg Opus file; a Range request gets 206 and the range' }),
    file: 'audio/ogg',
    errors: ['not_found', 'range_not_satisfiable'],
  },
  'GET /api/replays/{id}/chapters': { auth: 'member', ok: JsonChapters, errors: ['not_found'] },
  'DELETE /api/replays/{id}': { auth: 'member', ok: Ok, errors: ['not_found'] },
  'POST /api/replays/{id}/withdraw': {
    auth: 'member',
    ok: t.Object({ replay: ReplaySummary }),
    errors: ['not_found', 'replay_not_speaker'],
  },
  'POST /api/replays/{id}/retry': {
    auth: 'member',
    ok: t.Object({ replay: ReplaySummary }),
    errors: ['not_found', 'replay_not_failed'],
  },
  'POST /api/replays/{id}/clips': { auth: 'member', ok: t.Object({ clip: Clip }), status: 201, errors: ['not_found'] },
  'GET /api/rooms/{id}/replay': { auth: 'member', ok: t.Object({ replay: t.Union([ReplaySummary, t.Null()]) }) },
  'GET /api/feed': { auth: 'member', ok: t.Object({ createdAt: t.Union([t.Integer(), t.Null()]) }) },
  'POST /api/feed': { auth: 'member', ok: t.Object({ url: t.String() }), status: 201 },
  'DELETE /api/feed': { auth: 'member', ok: Ok },
  'GET /api/admin/replays': { auth: 'admin', ok: ReplayAdmin },
  'PATCH /api/admin/replays': { auth: 'admin', ok: ReplayAdmin },
  // Backchannel
  'GET /api/threads': { auth: 'member', ok: Inbox },
  'GET /api/threads/search': { auth: 'member', ok: t.Object({ results: t.Array(SearchResult) }) },
  'GET /api/threads/{id}': { auth: 'member', ok: History, errors: ['thread_not_found'] },
  'POST /api/threads/{id}/images': {
    auth: 'member',
    ok: t.Object({ image: Image }),
    status: 201,
    errors: ['thread_not_found', 'blocked', 'followers_only', 'unsupported_media', 'rate_limited'],
  },
  'POST /api/threads/{id}/videos': {
    auth: 'member',
    ok: Open('The stored video: its URL (to send in a message), type, size, duration and poster'),
    status: 201,
    errors: ['thread_not_found', 'blocked', 'followers_only', 'unsupported_media', 'rate_limited'],
  },
  'POST /api/threads/{id}/voice': {
    auth: 'member',
    ok: Open('The stored voice message: its URL (to send in a message), type, size, duration and waveform'),
    status: 201,
    errors: ['thread_not_found', 'blocked', 'followers_only', 'unsupported_media', 'rate_limited'],
  },
  'GET /api/threads/{id}/media/{name}': {
    auth: 'member',
    ok: t.String({ format: 'binary' }),
    file: 'video/*',
    errors: ['thread_not_found', 'not_found'],
  },
  'GET /api/threads/{id}/images/{name}': {
    auth: 'member',
    ok: t.String({ format: 'binary' }),
    file: 'image/*',
    errors: ['thread_not_found', 'not_found'],
  },
}

/** What any route of its kind may answer: its input checks, its session check, the origin check, a server fault. */
function genericErrors(method: string, op: Operation | undefined, hasInput: boolean): ErrorCode[] {
  const codes: ErrorCode[] = []
  const writes = method !== 'get' && method !== 'head'
  if (hasInput) codes.push('validation')
  if (writes) codes.push('bad_json', 'bad_origin', 'payload_too_large', 'length_required')
  if (op?.auth === 'member' || op?.auth === 'admin') codes.push('unauthorized')
  if (op?.auth === 'admin') codes.push('forbidden')
  codes.push('internal')
  return codes
}

const SESSION = [{ session: [] as string[] }]
const ErrorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERRORS), description: 'A stable code from the catalog' },
        message: { type: 'string', description: 'What to show; may add the field, the limit or the wait' },
      },
    },
  },
}

/** The catalog's codes as responses, one entry per HTTP status, each listing its codes with an example. */
function errorResponses(codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const c of new Set(codes)) {
    const status = ERRORS[c][0]
    byStatus.set(status, [...(byStatus.get(status) ?? []), c])
  }
  const out: Record<string, unknown> = {}
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`: ${ERRORS[c][1]}`).join('\n\n'),
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/Error' },
              { properties: { error: { properties: { code: { enum: list } } } } },
            ],
          },
          examples: Object.fromEntries(list.map((c) => [c, { value: { error: { code: c, message: ERRORS[c][1] } } }])),
        },
      },
    }
  }
  return out
}

/** Paths that are not operations of the API: the app's screens and files, the WebSocket, this page. */
const NOT_OPERATIONS = ['/*', '/api/*', '/ws', '/openapi', '/openapi/json', '/openapi/ui.js']

type Doc = {
  paths: Record<string, Record<string, Record<string, any>>>
  components: { schemas?: Record<string, unknown> }
}

/** The OpenAPI document of an app's routes, with responses, errors and security added. */
function document(app: AnyElysia, info: { title: string; version: string; description?: string }) {
  const raw = toOpenAPISchema(app, { paths: NOT_OPERATIONS, staticFile: true }, undefined, undefined, '3.1.0') as Doc
  const paths: Doc['paths'] = {}
  for (const [path, ops] of Object.entries(raw.paths)) {
    // The document is the API's: catch-alls never become entries, nor pages (a room's shared page, feeds): those are
    // for browsers and calendars, outside /api.
    if (path.includes('*') || !(path.startsWith('/api/') || path === '/healthz' || path === '/metrics')) continue
    for (const [method, op] of Object.entries(ops)) {
      const spec = OPERATIONS[`${method.toUpperCase()} ${path}`]
      const hasInput = !!op.requestBody || (op.parameters?.length ?? 0) > 0
      const ok = spec?.ok ?? Open('The result')
      const status = String(spec?.status ?? 200)
      const content = spec?.file ? { [spec.file]: { schema: ok } } : { 'application/json': { schema: ok } }
      const codes = [...genericErrors(method, spec, hasInput), ...(spec?.errors ?? [])]
      const auth = spec?.auth ?? 'optional'
      paths[path] ??= {}
      paths[path]![method] = {
        ...op,
        tags: op.tags?.length ? op.tags : [tagOf(path)],
        responses: {
          [status]: { description: op.description ?? op.summary ?? 'OK', content },
          ...errorResponses(codes),
        },
        // Members' routes need the session cookie; the others work without one (`{}`: no credentials).
        security: auth === 'member' || auth === 'admin' ? SESSION : auth === 'optional' ? [{}, ...SESSION] : [],
        ...(auth === 'admin' ? { 'x-townhall-admin': true } : {}),
      }
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description:
        (info.description ?? '') +
        'Every error is `{"error": {"code", "message"}}` with a stable code from the catalog. Members sign in with ' +
        '`POST /api/auth/login`, which sets the session cookie; state-changing requests must come from the same ' +
        'origin (the Origin header). The live parts (rooms, audio signalling, Backchannel messages) use the ' +
        'WebSocket at `/ws` (see docs/ARCHITECTURE.md).',
    },
    tags: ['accounts', 'invites', 'push', 'admin', 'rooms', 'replays', 'backchannel', 'server'].map((name) => ({
      name,
    })),
    paths,
    components: {
      schemas: { ...raw.components.schemas, Error: ErrorSchema },
      securitySchemes: {
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'th_session',
          description:
            'The session cookie set by sign-in (HttpOnly, SameSite=Lax). Served over https (PUBLIC_URL https://…) it ' +
            'is named `__Host-th_session` and is also Secure.',
        },
      },
    },
  }
}

const tagOf = (path: string) =>
  path.startsWith('/api/admin')
    ? 'admin'
    : path.startsWith('/api/rooms')
      ? 'rooms'
      : path.startsWith('/api/threads')
        ? 'backchannel'
        : path.startsWith('/api/invites') || path === '/api/registration'
          ? 'invites'
          : path.startsWith('/api/push')
            ? 'push'
            : path.startsWith('/api/')
              ? 'accounts'
              : 'server'

// ——— the reference page and its script ———

/** Where Scalar's standalone bundle is embedded (`npm run build`) and where it comes from when run from source. */
export const UI_ASSET = 'openapi/ui.js'
/** The package's browser bundle (not in its exports map: found beside its main module, dist/index.js). */
const uiSource = () =>
  join(dirname(Bun.resolveSync('@scalar/api-reference', import.meta.dir)), 'browser', 'standalone.js')
interface UiFile {
  identity: Uint8Array
  br?: Uint8Array
  gzip?: Uint8Array
  etag: string
}
let ui: Promise<UiFile> | null = null

async function loadUi(): Promise<UiFile> {
  const all = Bun.embeddedFiles as (Blob & { name: string })[]
  const find = (suffix: string) => all.find((f) => f.name.endsWith(`dist/${UI_ASSET}${suffix}`))
  const embedded = find('')
  if (embedded) {
    const bytes = async (b?: Blob) => (b ? new Uint8Array(await b.arrayBuffer()) : undefined)
    const identity = (await bytes(embedded))!
    return { identity, br: await bytes(find('.br')), gzip: await bytes(find('.gz')), etag: etagOf(identity) }
  }
  // From source: the package's file, gzip-compressed once (brotli takes seconds on 4 MB: the build does it).
  const identity = new Uint8Array(await Bun.file(uiSource()).arrayBuffer())
  const { gzipSync } = await import('node:zlib')
  return { identity, gzip: new Uint8Array(gzipSync(identity, { level: 6 })), etag: etagOf(identity) }
}
const etagOf = (b: Uint8Array) => `"${Bun.hash(b).toString(36)}"`

/** The reference page's script: Scalar's standalone bundle, from the binary (or node_modules from source). */
export const uiScriptPath = uiSource

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

function page(title: string) {
  // Scalar's options: nothing fetched from elsewhere (fonts, its proxy, telemetry); the document from this server.
  const config = {
    url: '/openapi/json',
    withDefaultFonts: false,
    hideClientButton: true,
    telemetry: false,
    showDeveloperTools: 'never',
    agent: { disabled: true },
    mcp: { disabled: true },
    theme: 'default',
  }
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <link rel="icon" href="/icons/icon-192.png" type="image/png">
  <style>body { margin: 0; font-family: system-ui, sans-serif }</style>
</head>
<body>
  <script id="api-reference" type="application/json"
    data-configuration="${escapeHtml(JSON.stringify(config))}"></script>
  <script src="/openapi/ui.js"></script>
</body>
</html>`
}

/** Nothing on the page may come from another host. */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** /openapi, /openapi/json and /openapi/ui.js; `app` is the whole server (read when the document is asked for). */
export function openapiRoutes(app: () => AnyElysia, info: { title: string; version: string }) {
  let cached: { routes: number; doc: unknown } | null = null
  return new Elysia({ name: 'townhall.openapi' })
    .get(
      '/openapi',
      () =>
        new Response(page(info.title), {
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': PAGE_CSP,
            'x-content-type-options': 'nosniff',
            'cache-control': 'no-cache',
          },
        }),
      { detail: { hide: true } },
    )
    .get(
      '/openapi/json',
      () => {
        const a = app()
        if (cached?.routes !== a.routes.length) cached = { routes: a.routes.length, doc: document(a, info) }
        return cached.doc
      },
      { detail: { hide: true } },
    )
    .get(
      '/openapi/ui.js',
      async ({ request }) => {
        const f = await (ui ??= loadUi().catch((e) => {
          ui = null
          throw e
        }))
        const encoding = pickEncoding(request.headers.get('accept-encoding'), f)
        const body = (encoding && f[encoding]) || f.identity
        const etag = encoding ? `${f.etag.slice(0, -1)}-${encoding}"` : f.etag
        const headers: Record<string, string> = {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'no-cache',
          vary: 'Accept-Encoding',
          'x-content-type-options': 'nosniff',
          etag,
          ...(encoding ? { 'content-encoding': encoding } : {}),
        }
        if (request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers })
        return new Response(body as BodyInit, { headers })
      },
      { detail: { hide: true } },
    )
}
