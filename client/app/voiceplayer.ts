// The app's one voice-message player: a single <audio> element that outlives screens, so a voice message keeps
// playing while the member goes elsewhere. It shows on the lock screen (Media Session: who sent it, play/pause/stop),
// plays the next voice message of the thread when one ends (if it follows at once), and pauses a live room's audio
// while it plays (rtc.pauseRoomAudio), resuming it after.
import { signal } from '@preact/signals'
import type { Message } from '../../server/protocol'
import { messages } from './backchannel'
import { nowPlaying } from './nowplaying'
import { markPlayed } from './bcmedia'
import { pauseRoomAudio } from './rtc'

const RATES = [1, 1.5, 2] as const
/** The speed for every voice message, remembered on this device. */
export const rate = signal<number>(readRate())

function readRate() {
  try {
    const r = Number(localStorage.getItem('townhall.voice.rate'))
    return (RATES as readonly number[]).includes(r) ? r : 1
  } catch {
    return 1
  }
}

let el: HTMLAudioElement | null = null
function audio(): HTMLAudioElement {
  if (el) return el
  el = document.createElement('audio')
  el.id = 'voice-player'
  el.preload = 'auto'
  document.body.append(el)
  const update = () => {
    const n = nowPlaying.value
    if (n) nowPlaying.value = { ...n, playing: !el!.paused, at: el!.currentTime }
  }
  el.addEventListener('timeupdate', update)
  el.addEventListener('play', () => {
    update()
    pauseRoomAudio(true)
    session('playing')
  })
  el.addEventListener('pause', () => {
    update()
    if (!el!.ended) pauseRoomAudio(false)
    session('paused')
  })
  el.addEventListener('ended', () => {
    const n = nowPlaying.value
    const next = n && following(n.threadId, n.messageId)
    if (next) void play(next)
    else stop()
  })
  return el
}

/** The voice message right after this one in its thread, if the next message is one. */
function following(threadId: number, messageId: number): Message | null {
  const list = messages.value.get(threadId) ?? []
  const i = list.findIndex((m) => m.id === messageId)
  const next = i >= 0 ? list[i + 1] : undefined
  return next && !next.deleted && next.media?.kind === 'voice' && !next.pending ? next : null
}

/** Plays a voice message from the start (or from `at` seconds), or resumes it if it is the one in the player. */
export async function play(m: Message, at?: number) {
  const a = audio()
  const n = nowPlaying.value
  if (!n || n.messageId !== m.id) {
    a.src = m.media!.url
    nowPlaying.value = {
      messageId: m.id,
      threadId: m.threadId,
      from: m.author?.displayName ?? 'Someone',
      playing: false,
      at: 0,
      durationMs: m.media!.durationMs,
    }
  }
  if (at !== undefined) a.currentTime = at
  a.playbackRate = rate.value
  markPlayed(m.id, m.author?.id ?? null)
  try {
    await a.play()
  } catch {
    /* the browser refused (no gesture yet): the button stays "play" */
  }
}

export function pause() {
  el?.pause()
}

/** Moves within the voice message in the player. */
export function seek(seconds: number) {
  if (el && nowPlaying.value) {
    el.currentTime = seconds
    nowPlaying.value = { ...nowPlaying.value, at: seconds }
  }
}

export function stop() {
  if (el) {
    el.pause()
    el.removeAttribute('src')
    el.load()
  }
  // The lock screen is cleared first: with the player empty, a room I am in takes it back (mediasession.ts).
  session('none')
  nowPlaying.value = null
  pauseRoomAudio(false)
}

/** The next speed (1× → 1.5× → 2× → 1×), for every voice message from now on. */
export function cycleRate() {
  const i = RATES.indexOf(rate.value as (typeof RATES)[number])
  rate.value = RATES[(i + 1) % RATES.length]!
  if (el) el.playbackRate = rate.value
  try {
    localStorage.setItem('townhall.voice.rate', String(rate.value))
  } catch {
    /* not remembered */
  }
}

function session(state: MediaSessionPlaybackState) {
  if (typeof navigator === 'undefined' || !('mediaSession' in navigator)) return
  const ms = navigator.mediaSession
  const n = nowPlaying.value
  try {
    if (state === 'none' || !n) {
      ms.metadata = null
      ms.playbackState = 'none'
      return
    }
    ms.metadata = new MediaMetadata({
      title: 'Voice message',
      artist: n.from,
      album: 'Townhall',
      artwork: [{ src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' }],
    })
    ms.playbackState = state
    ms.setActionHandler('play', () => void el?.play())
    ms.setActionHandler('pause', () => el?.pause())
    ms.setActionHandler('stop', () => stop())
  } catch {
    /* Media Session missing or partial */
  }
}
