// Room state over the WebSocket (no markup): the hallway, the room I am in (snapshot on join, events after),
// my role, the actions, the microphone and audio hooks, and resuming after a reconnect; and the rooms' HTTP calls
// (server/rooms/routes.ts: the hallway, creating, starting and a room's page), typed by what each returns.
import { computed, effect, signal } from '@preact/signals'
import { errorCode, get, post, RequestError, type ClientErrorCode } from './api'
import { conn } from './connection'
import { audioState, joinAudio, leaveAudio, setMicrophone } from './rtc'
// The wire shapes are the protocol's (type-only imports: nothing of the server is bundled).
import type {
  EventOf,
  HallwayRoom,
  ParticipantView as Participant,
  Pinned,
  PublicUser,
  Reply,
  RequestFields,
  RoomRequests,
  RoomRole,
  RoomSnapshot,
  RoomView,
} from '../../server/protocol'
import type { CreateRoomInput } from '../../server/rooms/model'

export type { HallwayRoom, Participant, Pinned, RoomRole, RoomView }

/** What a room screen shows. */
export type RoomStatus = 'idle' | 'joining' | 'joined' | 'left' | 'ended' | 'removed' | 'error'

export const RANK: Record<RoomRole, number> = { host: 3, moderator: 2, speaker: 1, audience: 0 }
export const onStage = (r: RoomRole) => r !== 'audience'
export const isMod = (r: RoomRole | null | undefined) => !!r && RANK[r] >= 2

// ── the room I am in ────────────────────────────────────────────────────────────────────────────────────
/** The room this tab is in (the Backchannel panels read it). */
export const currentRoomId = signal<number | null>(null)
export const roomStatus = signal<RoomStatus>('idle')
export const roomError = signal<{ code: ClientErrorCode | 'error'; message: string } | null>(null)
export const roomInfo = signal<RoomView | null>(null)
export const participants = signal<Record<string, Participant>>({})
export const guestCount = signal(0)
export const pinned = signal<Pinned | null>(null)
/** My participant key (`u:<id>` or `g:<connId>` for a guest). */
const myKey = signal<string | null>(null)
const guestMe = signal<{ role: RoomRole } | null>(null)

export const me = computed(() => (myKey.value ? (participants.value[myKey.value] ?? null) : null))
/** My role in the current room (null when not in one). The Backchannel panels read it. */
export const myRole = computed<RoomRole | null>(() => me.value?.role ?? guestMe.value?.role ?? null)
export const amGuest = computed(() => !!myKey.value?.startsWith('g:'))

const byStage = (a: Participant, b: Participant) => RANK[b.role] - RANK[a.role] || a.since - b.since
export const stage = computed(() =>
  Object.values(participants.value)
    .filter((p) => onStage(p.role))
    .sort(byStage),
)
export const audience = computed(() =>
  Object.values(participants.value)
    .filter((p) => !onStage(p.role))
    .sort((a, b) => a.since - b.since),
)
export const handQueue = computed(() =>
  Object.values(participants.value)
    .filter((p) => p.hand !== null)
    .sort((a, b) => a.hand! - b.hand!),
)

/** Panels other domains mount in the room screen (Backchannel: Chat, Backstage, Q&A). */
export interface RoomPanel {
  id: string
  label: string
  view: (roomId: number) => unknown
  visible?: (role: RoomRole | null) => boolean
}
export const roomPanels = signal<RoomPanel[]>([])
export function registerRoomPanel(panel: RoomPanel) {
  roomPanels.value = [...roomPanels.value.filter((p) => p.id !== panel.id), panel]
}

function reset() {
  participants.value = {}
  guestCount.value = 0
  pinned.value = null
  myKey.value = null
  guestMe.value = null
}

function applySnapshot(s: RoomSnapshot) {
  roomInfo.value = s.room
  participants.value = Object.fromEntries(s.participants.map((p) => [p.key, p]))
  guestCount.value = s.guests
  pinned.value = s.pinned
  myKey.value = s.me?.key ?? null
  guestMe.value = s.me?.key.startsWith('g:') ? { role: s.me.role } : null
  roomStatus.value = 'joined'
  roomError.value = null
}

async function requestJoin(roomId: number) {
  try {
    applySnapshot(await conn.request('room.join', { roomId }))
    await joinAudio(roomId)
  } catch (e) {
    if (currentRoomId.value !== roomId) return
    const code = errorCode(e)
    if (code === 'offline' || code === 'timeout') return // the resume after reconnecting tries again
    roomStatus.value = code === 'room_ended' ? 'ended' : code === 'removed_from_room' ? 'removed' : 'error'
    roomError.value = { code: code ?? 'error', message: e instanceof Error ? e.message : String(e) }
  }
}

/** Enters a room: joins now if the socket is open, else when it opens (the resume hook). */
export function enterRoom(roomId: number, again = false) {
  if (!again && currentRoomId.value === roomId && roomStatus.value !== 'idle' && roomStatus.value !== 'error') return
  if (currentRoomId.value !== null && currentRoomId.value !== roomId) leaveAudio()
  currentRoomId.value = roomId
  roomStatus.value = 'joining'
  roomError.value = null
  roomInfo.value = null
  reset()
  if (conn.state.value === 'open') void requestJoin(roomId)
  else conn.connect()
}

/** Leave quietly: the server hears it, audio stops, the screen forgets the room. */
export async function leaveRoom() {
  const id = currentRoomId.value
  forget()
  if (id !== null) await conn.request('room.leave', { roomId: id }).catch(() => {})
}

/** Stops following the room locally. */
function forget() {
  leaveAudio()
  currentRoomId.value = null
  roomStatus.value = 'idle'
  roomInfo.value = null
  reset()
}

conn.onResume(() => {
  const id = currentRoomId.value
  if (id !== null && (roomStatus.value === 'joined' || roomStatus.value === 'joining')) void requestJoin(id)
  if (hallwayWatched) conn.request('hallway.watch', { on: true }).catch(() => {})
})

// The room stays current (its chat stays readable) but audio stops and nothing rejoins it.
const stopped = (status: RoomStatus) => () => {
  leaveAudio()
  reset()
  roomStatus.value = status
  if (roomInfo.value && status === 'ended') roomInfo.value = { ...roomInfo.value, state: 'ended' }
}
const forRoom =
  <E extends { roomId: number }>(fn: (e: E) => void) =>
  (e: E) => {
    if (e.roomId === currentRoomId.value) fn(e)
  }
const put = (p: Participant) => {
  participants.value = { ...participants.value, [p.key]: p }
}
conn.on(
  'room.joined',
  forRoom((e) => put(e.participant)),
)
conn.on(
  'room.participant',
  forRoom((e) => put(e.participant)),
)
conn.on(
  'room.left',
  forRoom((e: EventOf<'room.left'>) => {
    if (e.key === myKey.value) return stopped('left')() // left from another tab, or the seat timed out
    const { [e.key]: _gone, ...rest } = participants.value
    participants.value = rest
  }),
)
conn.on(
  'room.guests',
  forRoom((e) => {
    guestCount.value = e.count
  }),
)
conn.on(
  'room.pinned',
  forRoom((e) => {
    pinned.value = e.pinned
  }),
)
conn.on('room.ended', forRoom(stopped('ended')))
conn.on('room.removed', forRoom(stopped('removed')))

// Refused as a listener (the room was full), then invited to the stage: the stage always gets in, connect now.
effect(() => {
  const p = me.value
  const id = currentRoomId.value
  if (p && onStage(p.role) && id !== null && roomStatus.value === 'joined' && audioState.value === 'full')
    void joinAudio(id)
})

// The microphone is asked for only when I am on stage, and sends only while I am unmuted.
let micOn = false
effect(() => {
  const p = me.value
  const want = !!p && onStage(p.role) && !p.muted && roomStatus.value === 'joined'
  if (want === micOn) return
  micOn = want
  void setMicrophone(want)
})

// ── actions ─────────────────────────────────────────────────────────────────────────────────────────────
type Action = Exclude<keyof typeof RoomRequests, 'room.join' | 'room.leave' | 'hallway.watch'>
/** A request about the room this tab is in. */
function act<K extends Action>(type: K, fields: Omit<RequestFields<K>, 'roomId'>): Promise<Reply<K>> {
  const roomId = currentRoomId.value
  if (roomId === null) return Promise.reject(new RequestError('not_in_room', 'Join the room first.'))
  return conn.request(type, { ...fields, roomId } as RequestFields<K>)
}
export const raiseHand = (up: boolean) => act('room.hand', { up })
export const respond = (accept: boolean) => act('room.respond', { accept })
export const inviteToSpeak = (userId: number) => act('room.invite', { userId })
export const moveToAudience = (userId: number) => act('room.move', { userId })
export const setMuted = (muted: boolean, userId?: number) =>
  act('room.mute', userId === undefined ? { muted } : { muted, userId })
export const setModerator = (userId: number, on: boolean) => act('room.mod', { userId, on })
export const removeFromRoom = (userId: number) => act('room.remove', { userId })
export const endRoom = () => act('room.end', {})

// ── the hallway ─────────────────────────────────────────────────────────────────────────────────────────
/** The hallway: live rooms and upcoming ones the viewer may join. */
interface HallwayList {
  live: HallwayRoom[]
  upcoming: HallwayRoom[]
}
export const hallway = signal<HallwayList | null>(null)
export const hallwayError = signal<string | null>(null)
let hallwayWatched = false
let reloadTimer: ReturnType<typeof setTimeout> | undefined

export async function loadHallway() {
  try {
    hallway.value = await get<HallwayList>('/rooms')
    hallwayError.value = null
  } catch (e) {
    hallwayError.value = e instanceof Error ? e.message : String(e)
  }
}

/** Keeps the hallway fresh while a hallway screen is shown; returns the function that stops it. */
export function watchHallway() {
  hallwayWatched = true
  void loadHallway()
  if (conn.state.value === 'open') conn.request('hallway.watch', { on: true }).catch(() => {})
  const off = conn.on('hallway.changed', () => {
    clearTimeout(reloadTimer)
    reloadTimer = setTimeout(loadHallway, 150)
  })
  return () => {
    hallwayWatched = false
    off()
    clearTimeout(reloadTimer)
    if (conn.state.value === 'open') conn.request('hallway.watch', { on: false }).catch(() => {})
  }
}

// ── over HTTP ───────────────────────────────────────────────────────────────────────────────────────────
/** A stint on a room's stage or in its audience (after the room ended, for those who were in it). */
interface RoomStint {
  user: PublicUser
  role: RoomRole
  from: number
  to: number | null
  reason: string | null
}
/** A room's page: its details, who is in it, and (after it ended) who was. */
interface RoomPage {
  room: RoomView
  host: PublicUser | null
  mayJoin: boolean
  mayStart: boolean
  participants: Participant[]
  guests: number
  history: RoomStint[]
}
/** Starts a room now, or schedules it (startsAt). */
export const createRoom = (body: CreateRoomInput) => post<{ room: RoomView }>('/rooms', body).then((r) => r.room)
/** Starts a scheduled room (its host or a co-host). */
export const startRoom = (id: number) => post<{ room: RoomView }>(`/rooms/${id}/start`).then((r) => r.room)
export const roomPage = (id: number) => get<RoomPage>(`/rooms/${id}`)
