// Backchannel on the wire: threads (1:1, groups, a room's chat and backstage), messages, read state, Q&A; the
// requests `bc.*`, the events to every open tab of each member (after commit), and Backchannel's refusals. `seq`
// is the global change counter: a client syncs (`bc.sync {after}`) from the highest seq it has seen.
import { Type as t, type Static } from '@sinclair/typebox'
import { ClientId, Empty, event, Id, Person, request, UsernameField, type ErrorSpec } from './common'
import { RoomRole, RoomState } from './rooms'

export const LIMITS = {
  body: 4000,
  question: 500,
  title: 80,
  groupMembers: 50,
  imageBytes: 10 * 1024 * 1024,
  /** A voice message's length (its container's duration, or the browser's when the container does not say). */
  voiceMs: 5 * 60 * 1000,
  voiceBytes: 10 * 1024 * 1024,
  /** A video's length (the size limit is the admin's setting, maxVideoMb). */
  videoMs: 60 * 60 * 1000,
  waveformMin: 64,
  waveformMax: 128,
  page: 50,
  syncPage: 500,
} as const

// ——— fields ———

const Body = t.String({ maxLength: LIMITS.body })
const Title = t.String({ minLength: 1, maxLength: LIMITS.title })
const Emoji = t.String({ minLength: 1, maxLength: 16 })
const Usernames = t.Array(UsernameField, { minItems: 1, maxItems: LIMITS.groupMembers - 1 })

// ——— views ———

export const ThreadKind = t.Union([t.Literal('dm'), t.Literal('group'), t.Literal('room_chat'), t.Literal('backstage')])
export type ThreadKind = Static<typeof ThreadKind>
export const MemberState = t.Union([
  t.Literal('active'),
  t.Literal('request'),
  t.Literal('declined'),
  t.Literal('left'),
])
export type MemberState = Static<typeof MemberState>
export const QuestionState = t.Union([t.Literal('open'), t.Literal('answered'), t.Literal('dismissed')])
export type QuestionState = Static<typeof QuestionState>

/** A video or voice message attached to a message (an image is `image`). */
export const Media = t.Object({
  kind: t.Union([t.Literal('video'), t.Literal('voice')]),
  /** Served with HTTP Range requests to those who may read the thread. */
  url: t.String(),
  mime: t.String(),
  size: t.Integer(),
  durationMs: t.Integer(),
  /** A video's poster frame (made in the browser, uploaded as an image with it). */
  poster: t.Union([t.String(), t.Null()]),
  /** A voice message's levels (0–255), computed in the browser at record time; empty for a video. */
  waveform: t.Array(t.Integer({ minimum: 0, maximum: 255 })),
})
export type Media = Static<typeof Media>

export const Message = t.Object({
  id: t.Integer(),
  threadId: t.Integer(),
  seq: t.Integer(),
  clientId: t.String(),
  author: t.Union([Person, t.Null()]),
  body: t.String(),
  image: t.Union([t.String(), t.Null()]),
  media: t.Union([Media, t.Null()]),
  replyTo: t.Union([
    t.Object({ id: t.Integer(), author: t.Union([t.String(), t.Null()]), body: t.String(), deleted: t.Boolean() }),
    t.Null(),
  ]),
  /** Emoji → the ids of those who reacted with it. */
  reactions: t.Record(t.String(), t.Array(t.Integer())),
  createdAt: t.Integer(),
  editedAt: t.Union([t.Integer(), t.Null()]),
  deleted: t.Boolean(),
  /** From someone the viewer blocked (in a shared group or room chat): body, image and reply are withheld. */
  hidden: t.Optional(t.Boolean()),
})
export type Message = Static<typeof Message>

const ThreadMember = t.Composite([Person, t.Object({ state: MemberState, lastReadId: t.Integer() })])

/** A thread as one member sees it (their state, unread count and read position). */
export const Thread = t.Object({
  id: t.Integer(),
  kind: ThreadKind,
  title: t.String(),
  creatorId: t.Union([t.Integer(), t.Null()]),
  roomId: t.Union([t.Integer(), t.Null()]),
  chatEnabled: t.Boolean(),
  state: MemberState,
  muted: t.Boolean(),
  lastReadId: t.Integer(),
  unread: t.Integer(),
  lastMessage: t.Union([Message, t.Null()]),
  lastAt: t.Integer(),
  members: t.Array(ThreadMember),
  memberCount: t.Integer(),
  seq: t.Integer(),
})
export type Thread = Static<typeof Thread>

export const Question = t.Object({
  id: t.Integer(),
  roomId: t.Integer(),
  threadId: t.Integer(),
  seq: t.Integer(),
  author: t.Union([Person, t.Null()]),
  body: t.String(),
  state: QuestionState,
  votes: t.Integer(),
  /** Whether the viewer voted for it (not in the `bc.question` event, which every member gets alike). */
  voted: t.Boolean(),
  stagedAt: t.Union([t.Integer(), t.Null()]),
  createdAt: t.Integer(),
})
export type Question = Static<typeof Question>
export const SharedQuestion = t.Omit(Question, ['voted'])
export type SharedQuestion = Static<typeof SharedQuestion>

export const Prefs = t.Object({ followersOnly: t.Boolean() })
export type Prefs = Static<typeof Prefs>

/** The inbox: accepted threads and requests, the threads of rooms one was in, and where to sync from. */
export const Inbox = t.Object({
  seq: t.Integer(),
  threads: t.Array(Thread),
  requests: t.Array(Thread),
  rooms: t.Array(Thread),
  prefs: Prefs,
})
export type Inbox = Static<typeof Inbox>

const SyncPage = t.Object({
  seq: t.Integer(),
  more: t.Boolean(),
  threads: t.Array(Thread),
  messages: t.Array(Message),
  questions: t.Array(Question),
})

const History = t.Object({ messages: t.Array(Message), more: t.Boolean() })

/** A search hit: the message, its snippet (hits between \u0002 and \u0003) and its thread's title and people. */
export const SearchResult = t.Object({
  message: Message,
  snippet: t.String(),
  thread: t.Object({
    id: t.Integer(),
    kind: ThreadKind,
    title: t.String(),
    roomId: t.Union([t.Integer(), t.Null()]),
    members: t.Array(t.Object({ id: t.Integer(), username: t.String(), displayName: t.String() })),
  }),
})
export type SearchResult = Static<typeof SearchResult>
const SearchResults = t.Object({ results: t.Array(SearchResult) })

/** A room's chat, backstage (for the stage) and questions as one member sees them. */
export const RoomBackchannel = t.Object({
  room: t.Object({ id: t.Integer(), title: t.String(), state: RoomState }),
  role: t.Union([RoomRole, t.Null()]),
  canModerate: t.Boolean(),
  chat: Thread,
  backstage: t.Union([Thread, t.Null()]),
  questions: t.Array(Question),
})
export type RoomBackchannel = Static<typeof RoomBackchannel>

const WithThread = t.Object({ thread: Thread })
const WithMessage = t.Object({ message: Message })
/**
 * A send answered short (`ack: "short"`, B64): what the sender lacks of the message it sent; the message itself came
 * as its `bc.message` event, before this reply on the same socket.
 */
export const SentMessage = t.Object({
  id: t.Integer(),
  threadId: t.Integer(),
  seq: t.Integer(),
  clientId: t.String(),
  createdAt: t.Integer(),
})
export type SentMessage = Static<typeof SentMessage>
const WithQuestion = t.Object({ question: Question })

export const BackchannelRequests = {
  'bc.inbox': request({}, Inbox),
  'bc.sync': request(
    { after: t.Integer({ minimum: 0 }), limit: t.Optional(t.Integer({ minimum: 1, maximum: LIMITS.syncPage })) },
    SyncPage,
  ),
  'bc.thread': request({ threadId: Id }, WithThread),
  'bc.history': request(
    { threadId: Id, before: t.Optional(Id), limit: t.Optional(t.Integer({ minimum: 1, maximum: 100 })) },
    History,
  ),
  /**
   * Answered after the commit; a retried clientId is answered with the stored message. `ack: "short"` (B64): a new
   * message is answered `{sent}`, its id, seq and time (the message came as its `bc.message` event just before); a
   * stored one (a retry) still `{message}`.
   */
  'bc.send': request(
    {
      threadId: Id,
      clientId: ClientId,
      body: t.Optional(Body),
      image: t.Optional(t.String({ maxLength: 80 })),
      /** A video or voice message uploaded to the thread (POST /api/threads/:id/videos or /voice). */
      media: t.Optional(t.String({ maxLength: 80 })),
      replyTo: t.Optional(Id),
      ack: t.Optional(t.Literal('short')),
    },
    t.Union([WithMessage, t.Object({ sent: SentMessage })]),
  ),
  'bc.edit': request({ messageId: Id, body: Body }, WithMessage),
  'bc.delete': request({ messageId: Id }, WithMessage),
  'bc.react': request({ messageId: Id, emoji: Emoji, on: t.Boolean() }, WithMessage),
  'bc.read': request({ threadId: Id, messageId: Id }, t.Object({ lastReadId: t.Integer() })),
  /** I played this voice message (my other devices hear of it: `bc.voice.played`). */
  'bc.voice.played': request({ messageId: Id }, t.Object({ messageId: t.Integer() })),
  /** The voice messages of a thread I played. */
  'bc.voice.list': request({ threadId: Id }, t.Object({ played: t.Array(t.Integer()) })),
  'bc.typing': request({ threadId: Id }, Empty),
  'bc.mute': request({ threadId: Id, muted: t.Boolean() }, WithThread),
  'bc.dm': request({ username: UsernameField }, WithThread),
  'bc.group.create': request({ title: Title, usernames: Usernames }, WithThread),
  'bc.group.add': request({ threadId: Id, usernames: Usernames }, WithThread),
  'bc.group.remove': request({ threadId: Id, userId: Id }, WithThread),
  'bc.group.leave': request({ threadId: Id }, Empty),
  'bc.group.rename': request({ threadId: Id, title: Title }, WithThread),
  'bc.request.accept': request({ threadId: Id }, WithThread),
  'bc.request.decline': request({ threadId: Id }, Empty),
  /** Reads the settings, or sets them when a field is given. */
  'bc.prefs': request({ followersOnly: t.Optional(t.Boolean()) }, t.Object({ prefs: Prefs })),
  'bc.search': request({ q: t.String({ minLength: 1, maxLength: 200 }) }, SearchResults),
  // in a room
  'bc.room.open': request({ roomId: Id }, RoomBackchannel),
  'bc.room.chat': request({ roomId: Id, enabled: t.Boolean() }, t.Object({ enabled: t.Boolean() })),
  'bc.q.ask': request(
    { roomId: Id, clientId: ClientId, body: t.String({ minLength: 1, maxLength: LIMITS.question }) },
    WithQuestion,
  ),
  'bc.q.upvote': request({ questionId: Id }, WithQuestion),
  'bc.q.mark': request({ questionId: Id, state: QuestionState }, WithQuestion),
  'bc.q.stage': request({ questionId: Id }, WithQuestion),
}

export const BackchannelEvents = {
  'bc.message': event({ seq: t.Integer(), message: Message }),
  'bc.thread': event({ seq: t.Integer(), thread: Thread }),
  'bc.read': event({ seq: t.Integer(), threadId: t.Integer(), userId: t.Integer(), messageId: t.Integer() }),
  'bc.typing': event({ threadId: t.Integer(), userId: t.Integer(), username: t.String() }),
  /** To the listener's own tabs and devices only. */
  'bc.voice.played': event({ threadId: t.Integer(), messageId: t.Integer() }),
  'bc.question': event({ seq: t.Integer(), question: SharedQuestion }),
  'bc.chat': event({ seq: t.Integer(), roomId: t.Integer(), threadId: t.Integer(), enabled: t.Boolean() }),
}

export const BackchannelErrors = {
  thread_not_found: [404, 'No such thread.'],
  message_not_found: [404, 'No such message.'],
  request_not_found: [404, 'No such request.'],
  question_not_found: [404, 'No such question.'],
  question_asker_gone: [404, 'The asker is gone.'],
  room_chat_unreadable: [404, 'Only people who were in this room can read its chat.'],
  followers_only: [403, 'This member accepts messages only from people they follow.'],
  recipient_closed: [409, 'This account is closed: it receives no more messages.'],
  chat_off: [403, 'The chat of this room is turned off.'],
  chat_toggle_forbidden: [403, 'Only moderators turn the chat on or off.'],
  question_mark_forbidden: [403, 'Only moderators answer, dismiss or bring questions to the stage.'],
  client_id_reused: [409, 'This client id was used for another message.'],
  message_edit_forbidden: [403, 'You may edit only your own messages.'],
  message_delete_forbidden: [403, 'You may delete only your own messages.'],
  message_deleted: [409, 'This message was deleted.'],
  not_a_voice_message: [409, 'This is not a voice message.'],
  reaction_limit: [409, 'At most 10 reactions per message.'],
  group_full: [409, `A group has at most ${LIMITS.groupMembers} members.`],
  not_a_group: [409, 'This is not a group.'],
  group_creator_only: [403, 'Only the creator of the group may do that.'],
  group_member_not_found: [404, 'Not a member of this group.'],
  group_remove_self: [409, 'Leave the group instead.'],
  group_accept_first: [403, 'Accept the invitation first.'],
} as const satisfies Record<string, ErrorSpec>
