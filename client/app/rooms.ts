// Room state over the WebSocket (no markup): the hallway, the room I am in (snapshot on join, events after),
// my role, the actions, the microphone and audio hooks, and resuming after a reconnect; and the rooms' HTTP calls
// (server/rooms/routes.ts: the hallway, creating, starting and a room's page), typed by what each returns.
import { computed, effect, signal } from '@preact/signals'
import { del, errorCode, get, patch, post, put as putJson, query, RequestError, type ClientErrorCode } from './api'
import { conn } from './connection'
import { audioState, joinAudio, leaveAudio, reconnectAudio, setMicrophone } from './rtc'
import { path } from './router'
import { notify } from './state'
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
  Rsvp,
  RsvpView,
} from '../../server/protocol'
import type { CreateRoomInput, EditRoomInput } from '../../server/rooms/model'
import type { RoomSearchResults } from '../../server/rooms/search'

export type { HallwayRoom, Participant, Pinned, RoomRole, RoomView, RoomSearchResults, Rsvp, RsvpView }

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
/** R72: the room has no host and ends at this time (ms epoch) unless one returns; null otherwise. */
export const hostlessUntil = signal<number | null>(null)
/** RP16: the room is recorded but its recording is paused (the server's disk is low). */
export const recordingPaused = signal(false)
/** W45: the room's server is stopping and another took the room over; true until I am back in it there. */
export const roomMoving = signal(false)
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
  hostlessUntil.value = null
  recordingPaused.value = false
  roomMoving.value = false
  myKey.value = null
  guestMe.value = null
}

function applySnapshot(s: RoomSnapshot) {
  roomInfo.value = s.room
  participants.value = Object.fromEntries(s.participants.map((p) => [p.key, p]))
  guestCount.value = s.guests
  pinned.value = s.pinned
  hostlessUntil.value = s.hostlessUntil ?? null
  recordingPaused.value = s.recordingPaused
  myKey.value = s.me?.key ?? null
  guestMe.value = s.me?.key.startsWith('g:') ? { role: s.me.role } : null
  roomStatus.value = 'joined'
  roomError.value = null
  roomMoving.value = false
}

async function requestJoin(roomId: number, resumed = false) {
  try {
    applySnapshot(await conn.request('room.join', { roomId }))
    await (resumed ? reconnectAudio(roomId) : joinAudio(roomId))
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
  if (id !== null && (roomStatus.value === 'joined' || roomStatus.value === 'joining'))
    void requestJoin(id, roomStatus.value === 'joined')
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
conn.on(
  'room.recording',
  forRoom((e) => {
    const was = roomInfo.value?.recording
    if (roomInfo.value) roomInfo.value = { ...roomInfo.value, recording: e.recording }
    recordingPaused.value = e.paused
    if (was !== undefined && was !== e.recording)
      notify(e.recording ? 'This room is now recorded' : 'This room is no longer recorded')
  }),
)

/**
 * RP8: the question "Include your voice in the replay?" is due: the room is recorded, I am on its stage, and I have not
 * answered it in this room.
 */
export const consentDue = computed(
  () => !!roomInfo.value?.recording && !!me.value && onStage(me.value.role) && me.value.consent === null,
)
conn.on(
  'room.hostless',
  forRoom((e) => {
    const was = hostlessUntil.value
    hostlessUntil.value = e.endsAt
    if (e.endsAt === null) {
      if (was !== null) notify('A host is back: the room goes on')
    } else if (path.value !== `/rooms/${e.roomId}`)
      // The room screen shows a countdown; any other screen a toast.
      notify(`The host left: the room ends in ${Math.round((e.endsAt - Date.now()) / 1000)} s unless a host returns`)
  }),
)

// The server holding the room is stopping (several nodes): the room ends then.
conn.on(
  'room.closing',
  forRoom((e) =>
    notify(`This room's server is restarting: the room ends in ${Math.round((e.endsAt - Date.now()) / 1000)} s`),
  ),
)

// W45: the room moved to another server without ending: join it again there (the same seat) and connect the audio
// again. A socket on the stopping server is sent on too (`node.draining`): then the rejoin after reconnecting does it.
conn.on(
  'room.moving',
  forRoom((e) => {
    if (roomStatus.value !== 'joined') return
    roomMoving.value = true
    if (conn.state.value === 'open') void requestJoin(e.roomId, true)
  }),
)

/** Emoji reactions floating over the stage for a few seconds. */
export const reactions = signal<{ id: number; emoji: string; key: string; x: number }[]>([])
let reactionSeq = 0
const REACTION_SHOWN_MS = 2600
conn.on(
  'room.reaction',
  forRoom((e) => {
    const r = { id: ++reactionSeq, emoji: e.emoji, key: e.key, x: 10 + Math.round(Math.random() * 80) }
    reactions.value = [...reactions.value.slice(-30), r]
    setTimeout(() => {
      reactions.value = reactions.value.filter((x) => x.id !== r.id)
    }, REACTION_SHOWN_MS)
  }),
)

/** Who else could hold the room if I leave it: people on stage (members), for the last moderator's hand-over. */
export const othersOnStage = computed(() => stage.value.filter((p) => p.key !== myKey.value && !p.away))
/** Whether my leaving leaves the room without a moderator (I am the host or the only moderator on stage). */
export const lastModerator = computed(() => {
  const mine = me.value
  if (!mine || !isMod(mine.role)) return false
  return !stage.value.some((p) => p.key !== mine.key && isMod(p.role) && !p.away)
})
conn.on('room.removed', forRoom(stopped('removed')))

// Refused as a listener (the room was full, or the server busy), then invited to the stage: the stage always gets in,
// connect now.
effect(() => {
  const p = me.value
  const id = currentRoomId.value
  const refused = audioState.value === 'full' || audioState.value === 'busy'
  if (p && onStage(p.role) && id !== null && roomStatus.value === 'joined' && refused) void joinAudio(id)
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
/** Answers an invitation to speak: accept live (unmuted) or muted, or decline. */
export const respond = (accept: boolean, muted = false) => act('room.respond', { accept, muted })
/** The host hands the room to someone on stage. */
export const handOver = (userId: number) => act('room.handover', { userId })
export const react = (emoji: string) => act('room.react', { emoji })
export const inviteToSpeak = (userId: number) => act('room.invite', { userId })
export const moveToAudience = (userId: number) => act('room.move', { userId })
export const setMuted = (muted: boolean, userId?: number) =>
  act('room.mute', userId === undefined ? { muted } : { muted, userId })
export const setModerator = (userId: number, on: boolean) => act('room.mod', { userId, on })
export const removeFromRoom = (userId: number) => act('room.remove', { userId })
export const endRoom = () => act('room.end', {})
/** My answer to "Include your voice in the replay?" (RP8); may change at any time (RP10). */
export const setConsent = (consent: boolean) => act('room.consent', { consent })
/** The host turns the room's recording on or off while it is live (RP5). */
export const setRecording = (on: boolean) => act('room.recording', { on })

// ── the hallway ─────────────────────────────────────────────────────────────────────────────────────────
/** The hallway: live rooms and upcoming ones the viewer may join. */
export interface HallwayList {
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

/** When the list was loaded ahead of the hallway's screen (primeHallway); its watch then does not load it again. */
let primedAt = 0
const PRIMED_FRESH_MS = 5_000

/** Loads the hallway's list before its screen shows: the app's first paint waits for it (client/main.ts). */
export async function primeHallway() {
  await loadHallway()
  primedAt = Date.now()
}

/** The hallway's list as the page brought it (its first data, client/main.ts): its screen shows it at once. */
export function primeHallwayWith(list: HallwayList) {
  hallway.value = list
  hallwayError.value = null
  primedAt = Date.now()
}

/** Keeps the hallway fresh while a hallway screen is shown; returns the function that stops it. */
export function watchHallway() {
  hallwayWatched = true
  const primed = Date.now() - primedAt < PRIMED_FRESH_MS
  primedAt = 0
  if (!primed) void loadHallway()
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
export const startRoom = (id: number, opts: { recording?: boolean } = {}) =>
  post<{ room: RoomView }>(`/rooms/${id}/start`, opts).then((r) => r.room)
export const roomPage = (id: number) => get<RoomPage>(`/rooms/${id}`)

// ── rooms as events: share, RSVP, edit, cancel, calendars, search ────────────────────────────────────────
/** A room's event page: hosts, RSVPs, its link; once it ended, its recap. */
export interface RoomEventPage {
  room: RoomView
  hosts: PublicUser[]
  rsvp: RsvpView
  url: string
  mayEdit: boolean
  mayJoin: boolean
  guests: boolean
  registration: 'invite' | 'open' | 'closed'
  recap: { durationMs: number | null; speakers: PublicUser[]; peakListeners: number } | null
}
export const roomEvent = (id: number) => get<RoomEventPage>(`/rooms/${id}/event`)
/** "Remind me" (yes), "Not going" (no), or take the answer back (null). */
export const answerRoom = (id: number, answer: Rsvp | null) =>
  putJson<{ rsvp: RsvpView }>(`/rooms/${id}/rsvp`, { answer }).then((r) => r.rsvp)
export const editRoom = (id: number, body: EditRoomInput) =>
  patch<{ room: RoomView }>(`/rooms/${id}`, body).then((r) => r.room)
export const cancelRoom = (id: number) => del<{ ok: true }>(`/rooms/${id}`)
export const findRooms = (q: string) => get<RoomSearchResults>('/rooms/search' + query({ q }))
/** My private calendar feed's address (made on first use), or a new one. */
export const calendarFeed = () => get<{ url: string }>('/calendar').then((r) => r.url)
export const newCalendarFeed = () => post<{ url: string }>('/calendar').then((r) => r.url)

/** A room's shareable link (the app is served at PUBLIC_URL). */
export const roomLink = (id: number) => `${location.origin}/rooms/${id}`

/** Shares a link with the platform's share sheet; false where there is none (or it was dismissed). */
export async function shareLink(title: string, url: string) {
  if (typeof navigator.share !== 'function') return false
  try {
    await navigator.share({ title, url })
    return true
  } catch {
    return false
  }
}
/** Copies a text to the clipboard; false where the page may not. */
export async function copyText(text: string) {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    return false
  }
}

/** The last change, cancellation or reminder of a room I said yes to (the screens toast it and refresh). */
export const roomNews = signal<{ roomId: number; text: string; at: number } | null>(null)
const news = (roomId: number, text: string) => {
  roomNews.value = { roomId, text, at: Date.now() }
  notify(text)
  if (hallwayWatched) void loadHallway()
}
conn.on('room.updated', (e) => news(e.room.id, `“${e.room.title}” was updated`))
conn.on('room.cancelled', (e) => news(e.roomId, `“${e.title}” was cancelled`))
conn.on('room.reminder', (e) =>
  news(e.roomId, e.lead === 'soon' ? `“${e.title}” starts in a few minutes` : `“${e.title}” is starting`),
)
