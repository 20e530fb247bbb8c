// The voice message in the app's player (client/app/voiceplayer.ts), kept apart from the player: the shell's voice bar
// and the lock screen (mediasession.ts) watch it from the first screen, while the player itself loads with the first
// voice message shown.
import { signal } from '@preact/signals'

export interface NowPlaying {
  messageId: number
  threadId: number
  from: string
  playing: boolean
  /** Where it is, in seconds. */
  at: number
  durationMs: number
}

/** The voice message in the player (playing or paused), or null. */
export const nowPlaying = signal<NowPlaying | null>(null)
