// Room audio in the browser (owned by the media domain): one RTCPeerConnection per room, offered by the server
// (rtc.connect), answered here. The first m-line is our microphone uplink (sendonly; a track is put on it with
// replaceTrack when we go on stage, so no renegotiation); the other three are the server's downlink slots, each
// played by its own <audio> element. ICE restarts on a network change; the connection is redone after a reconnect.
// The server says who is in each slot (`rtc.slots`, R70); each element plays at the volume this listener chose for
// that speaker (R71, remembered per speaker in localStorage).
import { signal } from '@preact/signals'
import { errorCode } from './api'
import { conn } from './connection'

/** Audio levels (0..1) per participant key, a few times a second. */
export const levels = signal<Record<string, number>>({})
/** True when the browser blocked autoplay: show a "Tap to start audio" button that calls resumeAudio(). */
export const audioBlocked = signal(false)
/**
 * 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'full' (the server refused: `room_full`) |
 * 'busy' (`media_busy`: too many connecting at once; we retry by ourselves, later each time)
 */
export const audioState = signal<'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'full' | 'busy'>(
  'idle',
)

let roomId: number | null = null
let pc: RTCPeerConnection | null = null
let uplink: RTCRtpTransceiver | null = null
/** The <audio> element of each downlink slot (index: the slot, mid - 1). */
let players: (HTMLAudioElement | undefined)[] = []
/** Who is in each slot (participant keys), as the server last said (R70). */
let slotKeys: (string | null)[] = []

const VOLUMES_KEY = 'townhall.room.volumes'
/** The volume (0..1) I chose for each speaker, by participant key; a speaker not listed plays at 1 (R71). */
const volumes = signal<Record<string, number>>(readVolumes())

function readVolumes(): Record<string, number> {
  try {
    const raw = JSON.parse(globalThis.localStorage?.getItem(VOLUMES_KEY) ?? '{}') as Record<string, unknown>
    const out: Record<string, number> = {}
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'number' && v >= 0 && v <= 1) out[k] = v
    return out
  } catch {
    return {}
  }
}

/** The volume I chose for a speaker (1 unless changed). */
export const volumeOf = (key: string): number => volumes.value[key] ?? 1

/**
 * Whether this browser lets a page set an element's volume (iOS Safari does not: only the toggle that silences a
 * speaker is shown there).
 */
export const volumeSettable: boolean = (() => {
  try {
    const el = new Audio()
    el.volume = 0.5
    return el.volume === 0.5
  } catch {
    return false
  }
})()

/** Sets how loud a speaker plays for me (0..1), at once on the element that carries them, and remembers it. */
export function setVolume(key: string, volume: number): void {
  const v = Math.min(1, Math.max(0, Math.round(volume * 100) / 100))
  const next = { ...volumes.value }
  if (v === 1) delete next[key]
  else next[key] = v
  volumes.value = next
  try {
    localStorage.setItem(VOLUMES_KEY, JSON.stringify(next))
  } catch {
    /* private mode: the choice lasts this visit */
  }
  applyVolumes()
}

/** Each slot's element at the volume of the speaker in it. */
function applyVolumes() {
  players.forEach((el, i) => {
    if (!el) return
    const key = slotKeys[i] ?? null
    el.dataset.speaker = key ?? ''
    const v = key ? volumeOf(key) : 1
    if (el.volume !== v) el.volume = v
    el.muted = v === 0 // where volume is read-only (iOS Safari), silencing still works
  })
}
let mic: MediaStream | null = null
let micWanted = false
let busy: Promise<void> | null = null
let restarting = false
let disconnectTimer: ReturnType<typeof setTimeout> | null = null
/** Bumped on every leave, so that work for an old connection stops. */
let generation = 0

const GATHER_WAIT_MS = 2000
const DISCONNECTED_GRACE_MS = 2500
/** After `media_busy`: wait what the server said (or 2 s), doubled on each refusal up to 60 s, ±25 % jitter. */
const BUSY_FIRST_MS = 2000
const BUSY_MAX_MS = 60_000
let busyRefusals = 0
let busyTimer: ReturnType<typeof setTimeout> | null = null

/** When to come back after the n-th `media_busy` (n from 0), given the server's "Retry in N s." */
function busyRetryMs(n: number, message: string, random = Math.random()): number {
  const said = /Retry in (\d+) s/.exec(message)
  const base = said ? Number(said[1]) * 1000 : BUSY_FIRST_MS
  return Math.round(Math.min(BUSY_MAX_MS, base * 2 ** Math.min(n, 5)) * (0.75 + random / 2))
}

/** Connects this tab's audio to a room it has joined (listening). Safe to call again after a re-join; never throws. */
export async function joinAudio(id: number): Promise<void> {
  if (roomId === id && pc) {
    if (busy) return busy
    if (pc.connectionState === 'connected' || pc.connectionState === 'connecting' || pc.connectionState === 'new')
      return
    return restart()
  }
  if (roomId !== null) leaveAudio()
  roomId = id
  audioState.value = 'connecting'
  busy = connect(id, generation).finally(() => {
    busy = null
  })
  return busy
}

/**
 * After the socket came back and the room was re-joined: the server may be a new process (a restart) that has no peer
 * for us, so the peer is renegotiated at once (an ICE restart; restart() connects anew when the server has no peer)
 * rather than when the browser notices the silence.
 */
export async function reconnectAudio(id: number): Promise<void> {
  if (roomId === id && pc && !busy) return restart()
  return joinAudio(id)
}

async function connect(id: number, gen: number) {
  try {
    const offer = await conn.request('rtc.connect', { roomId: id })
    if (gen !== generation) return
    busyRefusals = 0
    pc?.close()
    stopPlayers()
    const peer = new RTCPeerConnection({ iceServers: offer.iceServers, bundlePolicy: 'max-bundle' })
    pc = peer
    peer.ontrack = (e) => play(e.track, Number(e.transceiver?.mid ?? NaN) - 1)
    peer.onconnectionstatechange = () => onState(peer)
    await peer.setRemoteDescription({ type: 'offer', sdp: offer.sdp })
    uplink = peer.getTransceivers()[0] ?? null
    if (uplink) uplink.direction = 'sendonly'
    await answer(peer, id)
    if (micWanted) await applyMicrophone()
  } catch (e) {
    // Audio failing must not fail the room: the state says so, and a restart or re-join tries again.
    if (gen !== generation) return
    // The room's audio takes no more listeners: said in the room; going on stage connects again (never refused).
    if (errorCode(e) === 'room_full') {
      audioState.value = 'full'
      return
    }
    // Too many listeners connecting at once (M59): said as "Busy — retrying…", and tried again later each time.
    if (errorCode(e) === 'media_busy') {
      audioState.value = 'busy'
      const wait = busyRetryMs(busyRefusals++, (e as Error).message)
      busyTimer = setTimeout(() => {
        busyTimer = null
        if (gen !== generation || roomId !== id) return
        audioState.value = 'connecting'
        busy = connect(id, gen).finally(() => {
          busy = null
        })
      }, wait)
      return
    }
    audioState.value = 'failed'
    console.warn('audio: could not connect', e)
  }
}

/** Answers the current offer once our candidates are gathered (non-trickle: the server takes them from the SDP). */
async function answer(peer: RTCPeerConnection, id: number) {
  await peer.setLocalDescription(await peer.createAnswer())
  if (peer.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, GATHER_WAIT_MS)
      peer.addEventListener('icegatheringstatechange', () => {
        if (peer.iceGatheringState === 'complete') {
          clearTimeout(t)
          resolve()
        }
      })
    })
  }
  await conn.request('rtc.answer', { roomId: id, sdp: peer.localDescription!.sdp })
}

function onState(peer: RTCPeerConnection) {
  if (peer !== pc) return
  const s = peer.connectionState
  if (disconnectTimer) {
    clearTimeout(disconnectTimer)
    disconnectTimer = null
  }
  if (s === 'connected') {
    audioState.value = 'connected'
    restarting = false
  } else if (s === 'failed') void restart()
  else if (s === 'disconnected') {
    audioState.value = 'reconnecting'
    disconnectTimer = setTimeout(() => {
      if (peer === pc && peer.connectionState === 'disconnected') void restart()
    }, DISCONNECTED_GRACE_MS)
  }
}

/** A network change: the server sends a new offer with fresh ICE credentials; if the peer is gone, connect anew. */
async function restart(): Promise<void> {
  const id = roomId,
    peer = pc,
    gen = generation
  if (id === null || !peer || restarting) return
  restarting = true
  audioState.value = 'reconnecting'
  try {
    const offer = await conn.request('rtc.restart', { roomId: id })
    if (gen !== generation || peer !== pc) return
    try {
      peer.setConfiguration({ ...peer.getConfiguration(), iceServers: offer.iceServers })
    } catch {
      /* keep the old servers */
    }
    await peer.setRemoteDescription({ type: 'offer', sdp: offer.sdp })
    await answer(peer, id)
  } catch (e) {
    if (gen !== generation) return
    restarting = false
    const code = errorCode(e)
    if (code === 'offline' || code === 'timeout') return // the resume hook tries again
    // The server no longer has our peer: start over.
    pc?.close()
    pc = null
    roomId = null
    await joinAudio(id).catch(() => {
      audioState.value = 'failed'
    })
    return
  }
  setTimeout(() => {
    if (peer === pc && peer.connectionState !== 'connected') restarting = false
  }, 5000)
}

function play(track: MediaStreamTrack, slot: number) {
  const el = new Audio()
  el.autoplay = !roomPaused
  el.srcObject = new MediaStream([track])
  el.dataset.slot = String(slot)
  const i = Number.isInteger(slot) && slot >= 0 ? slot : players.length
  players[i]?.pause()
  players[i] = el
  applyVolumes()
  if (roomPaused) return
  el.play().catch((e) => {
    if (e?.name === 'NotAllowedError') audioBlocked.value = true
  })
}

/** Closes the peer connection and releases the microphone. */
export function leaveAudio(): void {
  generation++
  const id = roomId
  if (id !== null && conn.state.value === 'open') conn.request('rtc.leave', { roomId: id }).catch(() => {})
  roomId = null
  busy = null
  restarting = false
  if (disconnectTimer) clearTimeout(disconnectTimer)
  disconnectTimer = null
  if (busyTimer) clearTimeout(busyTimer)
  busyTimer = null
  busyRefusals = 0
  pc?.close()
  pc = null
  uplink = null
  stopPlayers()
  stopMic()
  micWanted = false
  levels.value = {}
  audioBlocked.value = false
  audioState.value = 'idle'
}

function stopPlayers() {
  for (const el of players) {
    if (!el) continue
    el.pause()
    el.srcObject = null
  }
  players = []
  slotKeys = []
}

function stopMic() {
  for (const t of mic?.getTracks() ?? []) t.stop()
  mic = null
}

/** On stage: asks for the microphone the first time, then sends or stops sending it. */
export async function setMicrophone(on: boolean): Promise<void> {
  micWanted = on
  await applyMicrophone()
}

async function applyMicrophone() {
  if (!micWanted) {
    await uplink?.sender.replaceTrack(null).catch(() => {})
    stopMic() // the browser's recording indicator goes off while muted
    return
  }
  if (!mic) {
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    })
    if (!micWanted) {
      stopMic()
      return
    }
  }
  const track = mic.getAudioTracks()[0] ?? null
  if (uplink && track) await uplink.sender.replaceTrack(track)
}

let roomPaused = false
/**
 * Pauses the room's audio (a voice message is playing, client/app/voiceplayer.ts) or resumes it; the connection
 * stays up, and a voice arriving meanwhile waits paused too. Resuming plays the live audio from now.
 */
export function pauseRoomAudio(paused: boolean): void {
  if (roomPaused === paused) return
  roomPaused = paused
  for (const el of players) {
    if (!el) continue
    if (paused) el.pause()
    else el.play().catch(() => {})
  }
}

/** After a user gesture, starts playback that autoplay blocked. */
export async function resumeAudio(): Promise<void> {
  await Promise.all(players.map((el) => el?.play().catch(() => {})))
  audioBlocked.value = players.some((el) => el?.paused)
}

// Speaking levels for the rings.
conn.on('room.levels', (e) => {
  if (e.roomId === roomId) levels.value = e.levels
})
// Who is in my slots: each element follows the volume of the speaker it now carries.
conn.on('rtc.slots', (e) => {
  if (e.roomId !== roomId) return
  slotKeys = e.slots
  applyVolumes()
})
// My seat's audio is served by another node now (M67: brought on stage from a node that served me as a listener, the
// stage connects to the room's own node): a new connection at once, the microphone on it as before.
conn.on('rtc.moved', (e) => {
  if (e.roomId !== roomId) return
  const gen = generation
  void (busy ?? Promise.resolve()).then(() => {
    if (gen !== generation || roomId !== e.roomId) return
    audioState.value = 'connecting'
    busy = connect(e.roomId, gen).finally(() => {
      busy = null
    })
  })
})
// Network back or socket reconnected: make sure the audio is up (the rooms code re-joins and calls joinAudio too).
const recover = () => {
  if (roomId !== null && pc && pc.connectionState !== 'connected' && !busy) void restart()
}
conn.onResume(() => setTimeout(recover, 500))
if (typeof window !== 'undefined')
  window.addEventListener('online', () => {
    if (roomId !== null && pc) void restart()
  })
