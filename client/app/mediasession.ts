// Media Session: the room's title and the current speaker on the lock screen and in the notification shade,
// with mute and leave as the controls (hang up / toggle microphone where the platform has them).
export interface RoomSession { title: string; speaker?: string | null; onMute?: () => void; onLeave?: () => void; muted?: boolean }

const ms = () => (typeof navigator !== 'undefined' && 'mediaSession' in navigator ? navigator.mediaSession : null)
type Action = MediaSessionAction | 'togglemicrophone' | 'hangup'
const ACTIONS: Action[] = ['play', 'pause', 'stop', 'togglemicrophone', 'hangup']

function setHandler(action: Action, fn: (() => void) | null) {
  try { ms()!.setActionHandler(action as MediaSessionAction, fn) } catch { /* this browser does not know the action */ }
}

/** Shows the room on the lock screen; call again when the speaker or the mute state changes. */
export function setRoomSession(s: RoomSession) {
  const m = ms()
  if (!m) return
  try {
    m.metadata = new MediaMetadata({
      title: s.title,
      artist: s.speaker ? `${s.speaker} is speaking` : 'Townhall',
      album: 'Townhall',
      artwork: [{ src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' }, { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' }],
    })
  } catch { /* MediaMetadata missing */ }
  m.playbackState = 'playing'
  // Play/pause buttons are what most lock screens show: pause mutes (or leaves for listeners), play unmutes.
  setHandler('togglemicrophone', s.onMute ?? null)
  setHandler('hangup', s.onLeave ?? null)
  setHandler('pause', s.onMute ?? s.onLeave ?? null)
  setHandler('play', s.onMute ?? null)
  setHandler('stop', s.onLeave ?? null)
  const setMic = (m as MediaSession & { setMicrophoneActive?: (on: boolean) => Promise<void> }).setMicrophoneActive
  if (setMic && s.muted !== undefined) void setMic.call(m, !s.muted).catch(() => {})
}

/** Removes the room from the lock screen (after leaving). */
export function clearRoomSession() {
  const m = ms()
  if (!m) return
  m.metadata = null
  m.playbackState = 'none'
  for (const a of ACTIONS) setHandler(a, null)
}
