// Room audio in the browser (owned by the media domain). This is the API the room screen calls; the media
// engineer replaces the bodies with the werift SFU client: one RTCPeerConnection per room, offered by the server.
import { signal } from '@preact/signals'

/** Audio levels (0..1) per participant key, a few times a second. */
export const levels = signal<Record<string, number>>({})
/** True when the browser blocked autoplay: show a "Tap to start audio" button that calls resumeAudio(). */
export const audioBlocked = signal(false)
/** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed' */
export const audioState = signal<'idle' | 'connecting' | 'connected' | 'reconnecting' | 'failed'>('idle')

/** Connects this tab's audio to a room it has joined (listening). */
export async function joinAudio(_roomId: number): Promise<void> {}
/** Closes the peer connection and releases the microphone. */
export function leaveAudio(): void {}
/** On stage: asks for the microphone the first time, then sends or stops sending it. */
export async function setMicrophone(_on: boolean): Promise<void> {}
/** After a user gesture, starts playback that autoplay blocked. */
export async function resumeAudio(): Promise<void> {}
