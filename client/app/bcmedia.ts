// Videos and voice messages in Backchannel: uploading them (with progress and cancel), making a video's poster and
// duration and a recording's waveform in the browser, and which voice messages I played (kept in step with my other
// devices by `bc.voice.played`).
import { type Signal, signal } from '@preact/signals'
import type { Media } from '../../server/protocol'
import { ApiError, type ClientErrorCode } from './api'
import { conn } from './connection'
import { me } from './state'

/** A video or voice message uploaded to a thread, to send in a message by its name. */
export type UploadedMedia = Media & { name: string }

/** The voice messages I played, by id (those of the threads I opened, and any I played since). */
const played = signal<ReadonlySet<number>>(new Set())

let listening = false
function listen() {
  if (listening) return
  listening = true
  conn.on('bc.voice.played', (e) => add(e.messageId))
}
const add = (id: number) => {
  if (played.value.has(id)) return
  played.value = new Set([...played.value, id])
}

/** Loads which voice messages of a thread I played. */
export async function loadPlayed(threadId: number) {
  listen()
  try {
    const r = await conn.request('bc.voice.list', { threadId })
    played.value = new Set([...played.value, ...r.played])
  } catch {
    /* offline: the dots catch up on the next open */
  }
}

/** Marks a voice message played (not mine: my own are never unplayed for me). */
export function markPlayed(messageId: number, authorId: number | null) {
  listen()
  if (played.value.has(messageId) || authorId === me.value?.id) return
  add(messageId)
  conn.request('bc.voice.played', { messageId }).catch(() => {})
}

export const isUnplayed = (messageId: number, authorId: number | null) =>
  authorId !== me.value?.id && !played.value.has(messageId)

/**
 * Sends a file with XMLHttpRequest, reporting progress (0..1); `signal` aborts it (an `aborted` ApiError). The reply's
 * JSON, or an ApiError with the server's code and message.
 */
function upload<T>(path: string, body: Blob, onProgress: (p: number) => void, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api${path}`)
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total)
    const fail = (status: number, code: ClientErrorCode, message: string) => reject(new ApiError(status, code, message))
    xhr.onload = () => {
      let data: any = null
      try {
        data = JSON.parse(xhr.responseText)
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data as T)
      else fail(xhr.status, data?.error?.code ?? 'internal', data?.error?.message ?? `Upload failed (${xhr.status}).`)
    }
    xhr.onerror = () => fail(0, 'offline', 'You are offline. Check your connection.')
    xhr.onabort = () => fail(0, 'offline', 'Upload cancelled.')
    signal?.addEventListener('abort', () => xhr.abort())
    xhr.send(body)
  })
}

/** Uploads a video with its poster (an image uploaded first) and the duration the browser measured. */
export const uploadVideo = (
  threadId: number,
  file: Blob,
  meta: { durationMs: number; poster?: string },
  onProgress: (p: number) => void,
  signal?: AbortSignal,
) => {
  const q = `durationMs=${Math.max(1, Math.round(meta.durationMs))}${meta.poster ? `&poster=${meta.poster}` : ''}`
  return upload<{ video: UploadedMedia }>(`/threads/${threadId}/videos?${q}`, file, onProgress, signal).then(
    (r) => r.video,
  )
}

/** Uploads a recorded voice message with its waveform. */
export const uploadVoice = (threadId: number, blob: Blob, durationMs: number, waveform: number[]) =>
  upload<{ voice: UploadedMedia }>(
    `/threads/${threadId}/voice?durationMs=${Math.max(1, Math.round(durationMs))}&waveform=${waveform.join(',')}`,
    blob,
    () => {},
  ).then((r) => r.voice)

/**
 * A video's duration and a poster frame (JPEG, from a moment into it), made here with a video element and a canvas.
 * A video this browser cannot play still goes: without a poster, its duration read by the server.
 */
export async function videoFacts(file: Blob): Promise<{ durationMs: number; poster: Blob | null }> {
  const url = URL.createObjectURL(file)
  const v = document.createElement('video')
  v.muted = true
  v.preload = 'auto'
  v.playsInline = true
  try {
    v.src = url
    await once(v, 'loadeddata')
    const durationMs = Number.isFinite(v.duration) ? v.duration * 1000 : 1
    v.currentTime = Math.min(1, (Number.isFinite(v.duration) ? v.duration : 0) / 3)
    await once(v, 'seeked')
    const scale = Math.min(1, 640 / Math.max(v.videoWidth, v.videoHeight, 1))
    const c = document.createElement('canvas')
    c.width = Math.max(1, Math.round(v.videoWidth * scale))
    c.height = Math.max(1, Math.round(v.videoHeight * scale))
    c.getContext('2d')!.drawImage(v, 0, 0, c.width, c.height)
    const poster = await new Promise<Blob | null>((r) => c.toBlob(r, 'image/jpeg', 0.8))
    return { durationMs, poster }
  } catch {
    return { durationMs: 1, poster: null }
  } finally {
    URL.revokeObjectURL(url)
    v.removeAttribute('src')
  }
}

function once(el: HTMLMediaElement, event: string, timeout = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), timeout)
    el.addEventListener(
      event,
      () => {
        clearTimeout(t)
        resolve()
      },
      { once: true },
    )
    el.addEventListener(
      'error',
      () => {
        clearTimeout(t)
        reject(new Error('media error'))
      },
      { once: true },
    )
  })
}

/** Squeezes a recording's levels (0..1, many a second) into `n` bars of 0–255, loudest bar 255. */
function waveformOf(levels: number[], n = 64): number[] {
  const bars: number[] = []
  for (let i = 0; i < n; i++) {
    const from = Math.floor((i * levels.length) / n)
    const to = Math.max(from + 1, Math.floor(((i + 1) * levels.length) / n))
    let peak = 0
    for (let j = from; j < to && j < levels.length; j++) peak = Math.max(peak, levels[j]!)
    bars.push(peak)
  }
  const top = Math.max(...bars, 1e-6)
  return bars.map((b) => Math.round((b / top) * 255))
}

/** A voice message in the making: its live level (0..1) and elapsed time, and how to end it. */
export interface Recording {
  level: Signal<number>
  elapsedMs: Signal<number>
  /** Ends the recording: the file (Opus in WebM or Ogg), its duration and waveform. */
  stop(): Promise<{ blob: Blob; durationMs: number; waveform: number[] }>
  cancel(): void
}

/** The longest voice message (the server refuses longer). */
const VOICE_MAX_MS = 5 * 60 * 1000
const VOICE_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm']

/**
 * Starts recording from the microphone (MediaRecorder, Opus), sampling the level for the waveform as it goes; stops
 * by itself at 5 minutes (`onLimit`).
 */
export async function startRecording(onLimit: () => void): Promise<Recording> {
  if (typeof MediaRecorder === 'undefined') throw new Error('This browser cannot record audio.')
  const mimeType = VOICE_TYPES.find((t) => MediaRecorder.isTypeSupported(t))
  if (!mimeType) throw new Error('This browser cannot record Opus audio.')
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  })
  const ctx = new AudioContext()
  const analyser = ctx.createAnalyser()
  analyser.fftSize = 1024
  ctx.createMediaStreamSource(stream).connect(analyser)
  const buf = new Float32Array(analyser.fftSize)
  const levels: number[] = []
  const level = signal(0)
  const elapsedMs = signal(0)
  const rec = new MediaRecorder(stream, { mimeType, audioBitsPerSecond: 32_000 })
  const chunks: Blob[] = []
  rec.ondataavailable = (e) => e.data.size && chunks.push(e.data)
  const started = performance.now()
  const tick = setInterval(() => {
    analyser.getFloatTimeDomainData(buf)
    let sum = 0
    for (const x of buf) sum += x * x
    const rms = Math.min(1, Math.sqrt(sum / buf.length) * 4)
    levels.push(rms)
    level.value = rms
    elapsedMs.value = performance.now() - started
    if (elapsedMs.value >= VOICE_MAX_MS) onLimit()
  }, 50)
  rec.start(1000)
  const release = () => {
    clearInterval(tick)
    for (const t of stream.getTracks()) t.stop()
    void ctx.close().catch(() => {})
  }
  return {
    level,
    elapsedMs,
    stop: () =>
      new Promise((resolve, reject) => {
        const durationMs = Math.min(VOICE_MAX_MS, performance.now() - started)
        rec.onstop = () => {
          release()
          if (!chunks.length) reject(new Error('Nothing was recorded.'))
          else resolve({ blob: new Blob(chunks, { type: mimeType }), durationMs, waveform: waveformOf(levels) })
        }
        rec.stop()
      }),
    cancel: () => {
      rec.onstop = null
      if (rec.state !== 'inactive') rec.stop()
      release()
    },
  }
}
