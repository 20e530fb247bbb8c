// Backchannel's rows and the rules on them. The wire shapes, field schemas, limits and WebSocket requests are the
// protocol's (server/protocol/backchannel.ts).
import type { MemberState, QuestionState, ThreadKind } from '../protocol'

export const IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
}

/** A room's chat or backstage (read by the room's rules), as opposed to a 1:1 or group conversation (by membership). */
export const isRoomThread = (kind: ThreadKind) => kind === 'room_chat' || kind === 'backstage'
/** Member states that read a 1:1 or group thread and hear of it live. */
export const LIVE_STATES: MemberState[] = ['active', 'request']

export interface ThreadRow {
  id: number
  kind: ThreadKind
  title: string
  creator_id: number | null
  dm_key: string | null
  room_id: number | null
  chat_enabled: number
  last_message_id: number | null
  last_at: number
  last_seq: number
  meta_seq: number
  created_at: number
}
export interface MemberRow {
  thread_id: number
  user_id: number
  state: MemberState
  muted: number
  last_read_id: number
  seq: number
  joined_at: number
}
/** What the rules read of a member (the store caches it): who, in what state, muted or not. */
export type Membership = Pick<MemberRow, 'user_id' | 'state' | 'muted'>
/** A row of a thread's member list (who they are comes from the accounts). */
export type MemberListRow = Pick<MemberRow, 'user_id' | 'state' | 'last_read_id'>
export interface MyThreadRow extends ThreadRow {
  my_state: MemberState
  muted: number
  last_read_id: number
  my_seq: number
}
export interface MessageRow {
  id: number
  thread_id: number
  author_id: number | null
  client_id: string
  body: string
  image: string | null
  reply_to: number | null
  created_at: number
  edited_at: number | null
  deleted_at: number | null
  seq: number
}
export interface QuestionRow {
  id: number
  thread_id: number
  room_id: number
  author_id: number | null
  client_id: string
  body: string
  state: QuestionState
  votes: number
  staged_at: number | null
  created_at: number
  seq: number
}
type UploadKind = 'image' | 'video' | 'voice'
export interface UploadRow {
  name: string
  thread_id: number
  user_id: number
  mime: string
  size: number
  created_at: number
  kind: UploadKind
  duration_ms: number | null
  /** A video's poster image (another upload's name). */
  poster: string | null
  /** A voice message's waveform: one level (0–255) a byte. */
  waveform: Uint8Array | null
}

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\u200d|\ufe0f)+$/u
export const isEmoji = (s: string) => EMOJI.test(s) && !/^[0-9#*]+$/.test(s)
