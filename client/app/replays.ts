// Replays in the app: the API calls, wall time ↔ replay time (the mixer's timeline), the room's chat and Q&A read
// through Backchannel (its own permissions), and the Media Session while a replay plays. No markup here.
import type { Message, Question } from '../../server/protocol'
import { del, get, patch, post } from './api'

export { errorCode } from './api'
import { openRoom } from './backchannel'
import { conn } from './connection'

interface Person {
  id: number
  username: string
  displayName: string
  avatar: string | null
}
export interface TimelinePiece {
  at: number
  ms: number
  len: number
}
export interface Chapter {
  startMs: number
  title: string
  kind: 'speaker' | 'question'
  userId?: number
}
export interface Clip {
  slug: string
  replayId: number
  title: string
  startMs: number
  durationMs: number
  createdAt: number
  by: Person | null
  speakers: Person[]
  url: string
}
export interface ReplaySummary {
  id: number
  roomId: number
  title: string
  state: 'pending' | 'mixing' | 'ready' | 'failed'
  progress: number | null
  durationMs: number
  createdAt: number
  readyAt: number | null
  speakers: Person[]
  leftOut: number
}
export interface ReplayDetail extends ReplaySummary {
  kind: string
  host: Person | null
  chapters: Chapter[]
  timeline: TimelinePiece[]
  error: string | null
  mayDelete: boolean
  mayWithdraw: boolean
  withdrawn: boolean
  clips: Clip[]
}

export const listReplays = () => get<{ replays: ReplaySummary[] }>('/replays').then((r) => r.replays)
export const loadReplay = (id: number) => get<{ replay: ReplayDetail }>(`/replays/${id}`).then((r) => r.replay)
export const roomReplay = (roomId: number) =>
  get<{ replay: ReplaySummary | null }>(`/rooms/${roomId}/replay`).then((r) => r.replay)
export const deleteReplay = (id: number) => del<{ ok: true }>(`/replays/${id}`)
export const withdraw = (id: number) => post<{ replay: ReplaySummary }>(`/replays/${id}/withdraw`)
export const retryMix = (id: number) => post<{ replay: ReplaySummary }>(`/replays/${id}/retry`)
export const cutClip = (id: number, startMs: number, durationMs: number, title?: string) =>
  post<{ clip: Clip }>(`/replays/${id}/clips`, { startMs, durationMs, title }).then((r) => r.clip)
export const audioUrl = (id: number) => `/api/replays/${id}/audio`
export const downloadUrl = (id: number) => `/api/replays/${id}/audio?download=1`

// ── the private feed: its address is shown once (only its hash is kept); this device remembers it ──
const FEED_KEY = 'townhall.feedUrl'
export const feedState = () => get<{ createdAt: number | null }>('/feed').then((r) => r.createdAt)
export const rememberedFeed = () => {
  try {
    return localStorage.getItem(FEED_KEY)
  } catch {
    return null
  }
}
export async function newFeed() {
  const { url } = await post<{ url: string }>('/feed')
  try {
    localStorage.setItem(FEED_KEY, url)
  } catch {
    /* private mode: shown this once */
  }
  return url
}
export async function removeFeed() {
  await del<{ ok: true }>('/feed')
  try {
    localStorage.removeItem(FEED_KEY)
  } catch {
    /* nothing kept */
  }
}

// ── the admin's ──
export interface ReplayAdmin {
  keepDays: number
  disk: Record<'replays' | 'clips' | 'recordings', { n: number; bytes: number }>
  replays: {
    id: number
    roomId: number
    title: string
    state: string
    bytes: number
    clips: number
    createdAt: number
  }[]
}
export const adminReplays = () => get<ReplayAdmin>('/admin/replays')
export const setKeepDays = (keepDays: number) => patch<ReplayAdmin>('/admin/replays', { keepDays })

// ── time ──

/** The replay time (ms) of a wall-clock moment: inside a piece, its offset; in a cut silence, the next piece. */
export function replayTimeOf(timeline: TimelinePiece[], wall: number): number | null {
  if (!timeline.length) return null
  for (const p of timeline) {
    if (wall < p.at) return p.ms
    if (wall < p.at + p.len) return p.ms + (wall - p.at)
  }
  const last = timeline[timeline.length - 1]!
  return last.ms + last.len
}

/** The wall-clock moment heard at a replay time. */
export function wallTimeOf(timeline: TimelinePiece[], ms: number): number | null {
  if (!timeline.length) return null
  let piece = timeline[0]!
  for (const p of timeline) if (p.ms <= ms) piece = p
  return piece.at + Math.min(Math.max(0, ms - piece.ms), piece.len)
}

/** The chapter playing at `ms`, its index, or -1 before the first. */
export const chapterAt = (chapters: Chapter[], ms: number) => chapters.findLastIndex((c) => c.startMs <= ms + 1)

/** The next chapter whose speaker differs from the one heard at `ms` ("skip to the next speaker"). */
export function nextSpeaker(chapters: Chapter[], ms: number): Chapter | null {
  const i = chapterAt(chapters, ms)
  const now = chapters[i]
  for (const c of chapters.slice(i + 1)) if (c.kind !== 'speaker' || !now || c.userId !== now.userId) return c
  return null
}

export const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return `${h ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s % 60).padStart(2, '0')}`
}

// ── the room's chat and Q&A (Backchannel's permissions: who was not in the room gets `room_chat_unreadable`) ──

const PAGES_MAX = 20

export async function roomTalk(roomId: number): Promise<{ messages: Message[]; questions: Question[] }> {
  const bc = await openRoom(roomId)
  let messages: Message[] = []
  let before: number | undefined
  for (let i = 0; i < PAGES_MAX; i++) {
    const h = await conn.request('bc.history', { threadId: bc.chat.id, ...(before ? { before } : {}) })
    messages = [...h.messages, ...messages]
    if (!h.more || !h.messages.length) break
    before = h.messages[0]!.id
  }
  return { messages, questions: bc.questions }
}

// ── Media Session while a replay plays ──

export function mediaSession(r: { title: string; speaker: string | null }, audio: HTMLAudioElement, skip: () => void) {
  const m = typeof navigator !== 'undefined' && 'mediaSession' in navigator ? navigator.mediaSession : null
  if (!m) return () => {}
  const set = (a: MediaSessionAction, fn: MediaSessionActionHandler | null) => {
    try {
      m.setActionHandler(a, fn)
    } catch {
      /* this browser does not know the action */
    }
  }
  try {
    m.metadata = new MediaMetadata({
      title: r.title,
      artist: r.speaker ?? 'Townhall replay',
      album: 'Townhall replays',
      artwork: [{ src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' }],
    })
  } catch {
    /* MediaMetadata missing */
  }
  m.playbackState = audio.paused ? 'paused' : 'playing'
  set('play', () => void audio.play())
  set('pause', () => audio.pause())
  set('seekbackward', (d) => {
    audio.currentTime = Math.max(0, audio.currentTime - (d.seekOffset ?? 15))
  })
  set('seekforward', (d) => {
    audio.currentTime = Math.min(audio.duration || Infinity, audio.currentTime + (d.seekOffset ?? 15))
  })
  set('seekto', (d) => {
    if (d.seekTime !== undefined) audio.currentTime = d.seekTime
  })
  set('nexttrack', skip)
  try {
    if (Number.isFinite(audio.duration))
      m.setPositionState({ duration: audio.duration, playbackRate: audio.playbackRate, position: audio.currentTime })
  } catch {
    /* position out of range while loading */
  }
  return () => {
    for (const a of ['play', 'pause', 'seekbackward', 'seekforward', 'seekto', 'nexttrack'] as MediaSessionAction[])
      set(a, null)
    m.metadata = null
    m.playbackState = 'none'
  }
}
