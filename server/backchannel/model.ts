// Backchannel's rows, wire shapes and limits. Request schemas for the WebSocket live in ws.ts and rooms-ws.ts.
import { Type as t } from '@sinclair/typebox'

export const LIMITS = {
  body: 4000,
  question: 500,
  title: 80,
  groupMembers: 50,
  imageBytes: 10 * 1024 * 1024,
  page: 50,
  syncPage: 500,
} as const

export const IMAGE_TYPES: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/gif': 'gif' }

export type ThreadKind = 'dm' | 'group' | 'room_chat' | 'backstage'
/** A room's chat or backstage (read by the room's rules), as opposed to a 1:1 or group conversation (by membership). */
export const isRoomThread = (kind: ThreadKind) => kind === 'room_chat' || kind === 'backstage'
export type MemberState = 'active' | 'request' | 'declined' | 'left'
export type QuestionState = 'open' | 'answered' | 'dismissed'
/** Member states that read a 1:1 or group thread and hear of it live. */
export const LIVE_STATES: MemberState[] = ['active', 'request']

export interface ThreadRow {
  id: number; kind: ThreadKind; title: string; creator_id: number | null; dm_key: string | null; room_id: number | null
  chat_enabled: number; last_message_id: number | null; last_at: number; last_seq: number; meta_seq: number; created_at: number
}
export interface MemberRow { thread_id: number; user_id: number; state: MemberState; muted: number; last_read_id: number; seq: number; joined_at: number }
export interface MyThreadRow extends ThreadRow { my_state: MemberState; muted: number; last_read_id: number; my_seq: number }
export interface MessageRow {
  id: number; thread_id: number; author_id: number | null; client_id: string; body: string; image: string | null
  reply_to: number | null; created_at: number; edited_at: number | null; deleted_at: number | null; seq: number
}
export interface QuestionRow {
  id: number; thread_id: number; room_id: number; author_id: number | null; client_id: string; body: string
  state: QuestionState; votes: number; staged_at: number | null; created_at: number; seq: number
}
export interface UploadRow { name: string; thread_id: number; user_id: number; mime: string; size: number; created_at: number }
export interface MemberUserRow { user_id: number; state: MemberState; last_read_id: number; username: string; display_name: string; avatar: string | null; role: 'member' | 'admin' }

/** A person as messages show them. */
export interface Person { id: number; username: string; displayName: string; avatar: string | null }

export interface Message {
  id: number; threadId: number; seq: number; clientId: string; author: Person | null
  body: string; image: string | null; replyTo: { id: number; author: string | null; body: string; deleted: boolean } | null
  reactions: Record<string, number[]>; createdAt: number; editedAt: number | null; deleted: boolean
}

export interface ThreadMember extends Person { state: MemberState; lastReadId: number }

export interface Thread {
  id: number; kind: ThreadKind; title: string; creatorId: number | null; roomId: number | null; chatEnabled: boolean
  state: MemberState; muted: boolean; lastReadId: number; unread: number; lastMessage: Message | null
  lastAt: number; members: ThreadMember[]; memberCount: number; seq: number
}

export interface Question {
  id: number; roomId: number; threadId: number; seq: number; author: Person | null; body: string; state: QuestionState
  votes: number; voted: boolean; stagedAt: number | null; createdAt: number
}

// Field schemas shared by the WebSocket handlers and the HTTP routes.
export const Id = t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
export const ClientId = t.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' })
export const Body = t.String({ maxLength: LIMITS.body })
export const Title = t.String({ minLength: 1, maxLength: LIMITS.title })
export const UsernameField = t.String({ minLength: 1, maxLength: 20 })
export const Emoji = t.String({ minLength: 1, maxLength: 16 })

const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\u200d|\ufe0f)+$/u
export const isEmoji = (s: string) => EMOJI.test(s) && !/^[0-9#*]+$/.test(s)
