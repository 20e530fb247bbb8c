// Media Session: the room's title and the current speaker on the lock screen and in the notification shade,
// with mute and leave as the controls (hang up / toggle microphone where the platform has them).
import { effect } from '@preact/signals'
import * as rooms from './rooms'
import * as rtc from './rtc'
import * as router from './router'
import { nowPlaying } from './nowplaying'

interface RoomSession {
  title: string
  speaker?: string | null
  onMute?: () => void
  onLeave?: () => void
  muted?: boolean
}

const ms = () => (typeof navigator !== 'undefined' && 'mediaSession' in navigator ? navigator.mediaSession : null)
type Action = MediaSessionAction | 'togglemicrophone' | 'hangup'
const ACTIONS: Action[] = ['play', 'pause', 'stop', 'togglemicrophone', 'hangup']

function setHandler(action: Action, fn: (() => void) | null) {
  try {
    ms()!.setActionHandler(action as MediaSessionAction, fn)
  } catch {
    /* this browser does not know the action */
  }
}

/** Shows the room on the lock screen; call again when the speaker or the mute state changes. */
function setRoomSession(s: RoomSession) {
  const m = ms()
  if (!m) return
  try {
    m.metadata = new MediaMetadata({
      title: s.title,
      artist: s.speaker ? `${s.speaker} is speaking` : 'Townhall',
      album: 'Townhall',
      artwork: [
        { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
        { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
      ],
    })
  } catch {
    /* MediaMetadata missing */
  }
  m.playbackState = 'playing'
  // Play/pause buttons are what most lock screens show: pause mutes (or leaves for listeners), play unmutes.
  setHandler('togglemicrophone', s.onMute ?? null)
  setHandler('hangup', s.onLeave ?? null)
  setHandler('pause', s.onMute ?? s.onLeave ?? null)
  setHandler('play', s.onMute ?? null)
  setHandler('stop', s.onLeave ?? null)
  const setMic = (m as MediaSession & { setMicrophoneActive?: (on: boolean) => unknown }).setMicrophoneActive
  if (setMic && s.muted !== undefined) {
    try {
      void Promise.resolve(setMic.call(m, !s.muted)).catch(() => {})
    } catch {
      /* not supported here */
    }
  }
}

/** Removes the room from the lock screen (after leaving). */
function clearRoomSession() {
  const m = ms()
  if (!m) return
  m.metadata = null
  m.playbackState = 'none'
  for (const a of ACTIONS) setHandler(a, null)
}

/**
 * Keeps the lock screen in step with the room I am in, on whatever screen the app shows: the room's title, who is
 * speaking (the loudest voice on stage; the last one stays while it is quiet), and mute (on stage) or leave.
 * Returns a function that stops watching.
 */
export function bindRoomSession(): () => void {
  let lastSpeaker: string | null = null
  let shown = ''
  return effect(() => {
    // A voice message holds the lock screen while it is in the player (voiceplayer.ts); the room comes back after.
    if (nowPlaying.value) {
      shown = ''
      return
    }
    const info = rooms.roomInfo.value
    const joined = rooms.roomStatus.value === 'joined' && info && rooms.currentRoomId.value === info.id
    if (!joined) {
      lastSpeaker = null
      if (shown) {
        shown = ''
        clearRoomSession()
      }
      return
    }
    const lv = rtc.levels.value
    let loudest: { name: string; level: number } | null = null
    for (const p of rooms.stage.value) {
      const level = p.muted ? 0 : (lv[p.key] ?? 0)
      if (level > 0.04 && (!loudest || level > loudest.level)) loudest = { name: p.user.displayName, level }
    }
    if (loudest) lastSpeaker = loudest.name
    const mine = rooms.me.value
    const muted = mine && rooms.onStage(mine.role) ? mine.muted : undefined
    const key = JSON.stringify([info.id, info.title, lastSpeaker, muted])
    if (key === shown) return
    shown = key
    try {
      setRoomSession({
        title: info.title,
        speaker: lastSpeaker,
        muted,
        onMute:
          muted === undefined
            ? undefined
            : () => {
                void rooms.setMuted(!rooms.me.value?.muted).catch(() => {})
              },
        onLeave: () => {
          void rooms.leaveRoom().then(() => {
            if (location.pathname.startsWith('/rooms/')) router.navigate('/')
          })
        },
      })
    } catch (e) {
      console.warn('media session', e)
    }
  })
}
