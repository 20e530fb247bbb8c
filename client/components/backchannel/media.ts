// Videos and voice messages in a thread: the inline video, the voice bubble (waveform, duration, speed, played dot),
// and what the composer adds: a video button (poster and duration made here, upload with progress, cancel, retry with
// the same client id) and a mic button (hold to record and slide away to cancel, or tap to record and tap to stop;
// preview before sending). Plugged into message.ts with a line each.
import { signal } from '@preact/signals'
import { html } from 'htm/preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import * as bc from '../../app/backchannel'
import {
  isUnplayed,
  type Recording,
  startRecording,
  type UploadedMedia,
  uploadVideo,
  uploadVoice,
  videoFacts,
} from '../../app/bcmedia'
import { path } from '../../app/router'
import { notifyError } from '../../app/state'
import { nowPlaying } from '../../app/nowplaying'
import * as player from '../../app/voiceplayer'
import { LineIcon } from '../icons'

const clock = (ms: number) => {
  const s = Math.max(0, Math.round(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}
const newClientId = () => crypto.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`

// ——— in a message ———

/** A message's video or voice message. */
export function MediaAttachment({ m }: { m: bc.Shown }) {
  if (!m.media) return null
  return m.media.kind === 'video' ? html`<${VideoAttachment} m=${m} />` : html`<${VoiceMessage} m=${m} />`
}

function VideoAttachment({ m }: { m: bc.Shown }) {
  const media = m.media!
  return html`<div class="msg-video-box">
    <video class="msg-video" controls preload="metadata" playsinline src=${media.url}
      poster=${media.poster ?? undefined} aria-label=${`Video from ${m.author?.displayName ?? 'someone'}, ${clock(
        media.durationMs,
      )}`}></video>
  </div>`
}

function VoiceMessage({ m }: { m: bc.Shown }) {
  const media = m.media!
  const now = nowPlaying.value
  const mine = now?.messageId === m.id
  const playing = mine && now!.playing
  const durationS = media.durationMs / 1000
  const progress = mine && durationS > 0 ? Math.min(1, now!.at / durationS) : 0
  const unplayed = !m.pending && isUnplayed(m.id, m.author?.id ?? null)
  const bars = media.waveform.length ? media.waveform : new Array(48).fill(40)
  const from = m.author?.displayName ?? 'someone'
  const toggle = () => (playing ? player.pause() : void player.play(m))
  const seekTo = (e: MouseEvent) => {
    const box = (e.currentTarget as HTMLElement).getBoundingClientRect()
    const at = Math.max(0, Math.min(1, (e.clientX - box.left) / box.width)) * durationS
    if (mine) player.seek(at)
    else void player.play(m, at)
  }
  const onKey = (e: KeyboardEvent) => {
    if (!mine || (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight')) return
    e.preventDefault()
    player.seek(Math.max(0, Math.min(durationS, now!.at + (e.key === 'ArrowLeft' ? -5 : 5))))
  }
  return html`<div class=${'voice' + (unplayed ? ' unplayed' : '')} role="group"
    aria-label=${`Voice message from ${from}, ${clock(media.durationMs)}${unplayed ? ', not played' : ''}`}>
    <button type="button" class="voice-play" aria-label=${playing ? 'Pause voice message' : 'Play voice message'}
      disabled=${m.pending} onClick=${toggle}><${LineIcon} name=${playing ? 'pause' : 'play'} /></button>
    <div class="voice-wave" role="slider" tabindex="0" aria-label="Position in voice message"
      aria-valuemin="0" aria-valuemax=${Math.round(durationS)} aria-valuenow=${Math.round(mine ? now!.at : 0)}
      aria-valuetext=${clock(mine ? now!.at * 1000 : 0)} onClick=${seekTo} onKeyDown=${onKey}>
      ${bars.map(
        (v, i) =>
          html`<span class=${i / bars.length < progress ? 'on' : ''}
            style=${`height:${Math.max(16, Math.round((v / 255) * 100))}%`}></span>`,
      )}
    </div>
    <div class="voice-side">
      <span class="voice-time">${clock(mine && now!.at > 0 ? now!.at * 1000 : media.durationMs)}</span>
      <button type="button" class="voice-rate" aria-label=${`Playback speed ${player.rate.value}×`}
        onClick=${player.cycleRate}>${player.rate.value}×</button>
    </div>
    ${unplayed && html`<span class="voice-dot" aria-hidden="true"></span>`}
  </div>`
}

// ——— in the composer ———

type Tray =
  | {
      kind: 'video'
      phase: 'preparing' | 'uploading' | 'sending' | 'failed'
      progress: number
      error?: string
      file: File
      caption: string
      replyTo: bc.Message | null
      clientId: string
      uploaded?: UploadedMedia
      abort?: AbortController
    }
  | { kind: 'recording'; rec: Recording; holding: boolean; startX: number }
  | {
      kind: 'preview'
      blob: Blob
      url: string
      durationMs: number
      waveform: number[]
      clientId: string
      phase: 'ready' | 'sending' | 'failed'
      error?: string
      uploaded?: UploadedMedia
    }

/** What each thread's composer is doing with a video or a recording. */
const trays = signal<ReadonlyMap<number, Tray>>(new Map())
const setTray = (threadId: number, t: Tray | null) => {
  const m = new Map(trays.value)
  if (t) m.set(threadId, t)
  else m.delete(threadId)
  trays.value = m
}
const trayOf = (threadId: number) => trays.value.get(threadId)

async function runVideo(threadId: number, t: Extract<Tray, { kind: 'video' }>) {
  const abort = new AbortController()
  let cur: Extract<Tray, { kind: 'video' }> = { ...t, abort, error: undefined }
  const put = (patch: Partial<typeof cur>) => {
    // Cancelled meanwhile: the tray is gone (or holds something else), and stays so.
    if (trayOf(threadId) !== cur) return false
    cur = { ...cur, ...patch }
    setTray(threadId, cur)
    return true
  }
  setTray(threadId, cur)
  try {
    let up = cur.uploaded
    if (!up) {
      put({ phase: 'preparing', progress: 0 })
      const facts = await videoFacts(cur.file)
      const poster = facts.poster ? await bc.uploadImage(threadId, facts.poster).catch(() => null) : null
      if (!put({ phase: 'uploading' })) return
      up = await uploadVideo(
        threadId,
        cur.file,
        { durationMs: facts.durationMs, poster: poster?.name },
        (p) => put({ progress: p }),
        abort.signal,
      )
      if (!put({ uploaded: up, phase: 'sending', progress: 1 })) return
    } else put({ phase: 'sending' })
    bc.discardFailed(threadId, cur.clientId)
    // The same client id on every try: a send that reached the server is answered with the stored message.
    const sent = bc.send(threadId, cur.caption, {
      media: up.name,
      mediaView: up,
      replyTo: cur.replyTo,
      clientId: cur.clientId,
    })
    if (trayOf(threadId) === cur) setTray(threadId, null)
    await sent
  } catch (e) {
    if (abort.signal.aborted) return
    if (!put({ phase: 'failed', error: (e as Error).message })) notifyError(e)
  }
}

async function sendVoice(threadId: number, t: Extract<Tray, { kind: 'preview' }>) {
  let cur: typeof t = { ...t, phase: 'sending', error: undefined }
  setTray(threadId, cur)
  try {
    const up = cur.uploaded ?? (await uploadVoice(threadId, cur.blob, cur.durationMs, cur.waveform))
    if (trayOf(threadId) !== cur) return
    cur = { ...cur, uploaded: up }
    setTray(threadId, null)
    URL.revokeObjectURL(cur.url)
    bc.discardFailed(threadId, cur.clientId)
    await bc.send(threadId, '', { media: up.name, mediaView: up, clientId: cur.clientId })
  } catch (e) {
    if (trayOf(threadId) === cur) setTray(threadId, { ...cur, phase: 'failed', error: (e as Error).message })
    else notifyError(e)
  }
}

function cancelTray(threadId: number) {
  const t = trayOf(threadId)
  if (!t) return
  if (t.kind === 'video') t.abort?.abort()
  if (t.kind === 'recording') t.rec.cancel()
  if (t.kind === 'preview') URL.revokeObjectURL(t.url)
  setTray(threadId, null)
}

async function finishRecording(threadId: number) {
  const t = trayOf(threadId)
  if (t?.kind !== 'recording') return
  try {
    const r = await t.rec.stop()
    if (trayOf(threadId) !== t) return
    setTray(threadId, {
      kind: 'preview',
      ...r,
      url: URL.createObjectURL(r.blob),
      clientId: newClientId(),
      phase: 'ready',
    })
  } catch (e) {
    setTray(threadId, null)
    notifyError(e)
  }
}

/** The composer's video and mic buttons. `takeCaption` hands over (and clears) the text typed so far. */
export function MediaButtons({
  threadId,
  takeCaption,
  replyTo,
}: {
  threadId: number
  takeCaption: () => string
  replyTo: bc.Message | null
}) {
  const busy = trays.value.has(threadId)
  const pick = (e: any) => {
    const file = e.target.files?.[0] as File | undefined
    e.target.value = ''
    if (!file) return
    void runVideo(threadId, {
      kind: 'video',
      phase: 'preparing',
      progress: 0,
      file,
      caption: takeCaption(),
      replyTo,
      clientId: newClientId(),
    })
  }
  const begin = async (holding: boolean, startX: number) => {
    if (trays.value.has(threadId)) return
    try {
      const rec = await startRecording(() => void finishRecording(threadId))
      // Let go before the microphone was ready (a quick tap, or a permission prompt): recording goes on until stop.
      setTray(threadId, { kind: 'recording', rec, holding: holding && pressing.current, startX })
    } catch (e) {
      notifyError(e)
    }
  }
  const down = (e: PointerEvent) => {
    if (e.button !== 0) return
    const t = trayOf(threadId)
    if (t?.kind === 'recording') return void finishRecording(threadId)
    ;(e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId)
    pressedAt.current = Date.now()
    pressing.current = true
    void begin(true, e.clientX)
  }
  const move = (e: PointerEvent) => {
    const t = trayOf(threadId)
    if (t?.kind === 'recording' && t.holding && e.clientX - t.startX < -80) cancelTray(threadId)
  }
  const up = () => {
    pressing.current = false
    const t = trayOf(threadId)
    if (t?.kind !== 'recording' || !t.holding) return
    // A short press is a tap: recording goes on until the stop button. A hold ends when the finger lifts.
    if (Date.now() - pressedAt.current < 400) setTray(threadId, { ...t, holding: false })
    else void finishRecording(threadId)
  }
  const pressedAt = useRef(0)
  const pressing = useRef(false)
  const recording = trayOf(threadId)?.kind === 'recording'
  return html`<label class=${'icon-btn attach' + (busy ? ' disabled' : '')} title="Attach video">
      <${LineIcon} name="video" />
      <input class="visually-hidden" type="file" accept="video/mp4,video/webm" aria-label="Attach video"
        disabled=${busy} onChange=${pick} />
    </label>
    <button type="button" class=${'icon-btn attach mic' + (recording ? ' on' : '')}
      aria-label=${recording ? 'Stop recording' : 'Record voice'} title="Hold to record, or tap"
      onPointerDown=${down} onPointerMove=${move} onPointerUp=${up} onPointerCancel=${up}
      onKeyDown=${(e: KeyboardEvent) => {
        if (e.key !== 'Enter' && e.key !== ' ') return
        e.preventDefault()
        if (recording) void finishRecording(threadId)
        else void begin(false, 0)
      }}><${LineIcon} name="mic" /></button>`
}

/** Above the composer: the video on its way, the recording, or the recording to check before sending. */
export function MediaTray({ threadId }: { threadId: number }) {
  const t = trays.value.get(threadId)
  if (!t) return null
  if (t.kind === 'video') {
    const label = {
      preparing: 'Preparing video…',
      uploading: `Uploading video… ${Math.round(t.progress * 100)}%`,
      sending: 'Sending…',
      failed: `Not sent: ${t.error ?? 'upload failed'}`,
    }[t.phase]
    return html`<div class="media-tray" role="status">
      <${LineIcon} name="video" />
      <div class="grow stack-tight">
        <span class="small">${label} <span class="muted">${t.file.name.slice(0, 40)}</span></span>
        ${
          t.phase !== 'failed' &&
          html`<progress class="media-progress" max="1" value=${t.phase === 'preparing' ? undefined : t.progress}
            aria-label="Upload progress"></progress>`
        }
      </div>
      ${
        t.phase === 'failed' &&
        html`<button type="button" class="btn small" onClick=${() => void runVideo(threadId, t)}>Retry</button>`
      }
      <button type="button" class="link-btn" aria-label="Cancel video" onClick=${() => cancelTray(threadId)}>
        <${LineIcon} name="x" /></button>
    </div>`
  }
  if (t.kind === 'recording') return html`<${RecordingTray} threadId=${threadId} t=${t} />`
  return html`<div class="media-tray" aria-label="Voice message to send">
    <audio class="voice-preview" controls src=${t.url} aria-label="Listen before sending"></audio>
    <span class="small muted">${clock(t.durationMs)}</span>
    ${t.phase === 'failed' && html`<span class="small danger-text" role="alert">${t.error}</span>`}
    <button type="button" class="link-btn" aria-label="Discard recording" onClick=${() => cancelTray(threadId)}>
      <${LineIcon} name="x" /></button>
    <button type="button" class="btn primary small" disabled=${t.phase === 'sending'}
      onClick=${() => void sendVoice(threadId, t)}>${t.phase === 'failed' ? 'Retry' : 'Send recording'}</button>
  </div>`
}

function RecordingTray({ threadId, t }: { threadId: number; t: Extract<Tray, { kind: 'recording' }> }) {
  // The recording's own signals change many times a second: this part alone redraws.
  const [, redraw] = useState(0)
  useEffect(() => {
    const id = setInterval(() => redraw((n) => n + 1), 100)
    return () => clearInterval(id)
  }, [])
  const level = t.rec.level.value
  return html`<div class="media-tray recording" role="status" aria-label="Recording voice message">
    <span class="rec-dot" aria-hidden="true"></span>
    <span class="voice-time">${clock(t.rec.elapsedMs.value)}</span>
    <span class="rec-level" aria-hidden="true">
      <span style=${`transform:scaleX(${Math.max(0.04, level)})`}></span>
    </span>
    ${
      t.holding
        ? html`<span class="muted small grow">‹ Slide to cancel</span>`
        : html`<span class="grow"></span>
          <button type="button" class="link-btn" aria-label="Cancel recording" onClick=${() => cancelTray(threadId)}>
            <${LineIcon} name="x" /></button>
          <button type="button" class="btn small" aria-label="Stop recording"
            onClick=${() => void finishRecording(threadId)}><${LineIcon} name="stop" /> Stop</button>`
    }
  </div>`
}

/**
 * The voice message playing while the member is elsewhere in the app (under the top bar): play/pause, speed, the
 * thread it is from, and stop. Hidden on that thread's own screen, where its bubble shows it.
 */
export function VoiceBar() {
  const n = nowPlaying.value
  if (!n || path.value === `/backchannel/${n.threadId}`) return null
  const m = bc.messages.value.get(n.threadId)?.find((x) => x.id === n.messageId)
  return html`<div class="banner info voice-bar" role="region" aria-label="Voice message playing">
    <button type="button" class="voice-play small"
      aria-label=${n.playing ? 'Pause voice message' : 'Play voice message'}
      onClick=${() => (n.playing ? player.pause() : m && void player.play(m))}>
      <${LineIcon} name=${n.playing ? 'pause' : 'play'} /></button>
    <a class="grow voice-bar-text" href=${`/backchannel/${n.threadId}`}>
      ${n.from} · ${clock(n.at * 1000)} / ${clock(n.durationMs)}</a>
    <button type="button" class="voice-rate" aria-label=${`Playback speed ${player.rate.value}×`}
      onClick=${player.cycleRate}>${player.rate.value}×</button>
    <button type="button" class="link-btn" aria-label="Stop voice message" onClick=${player.stop}>
      <${LineIcon} name="x" /></button>
  </div>`
}
