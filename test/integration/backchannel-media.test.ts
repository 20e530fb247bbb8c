// Videos and voice messages in Backchannel (issue 13): upload rules as tables, with real files made by ffmpeg now.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  clientId,
  closeAll,
  dm,
  follow,
  ok,
  outcome,
  person,
  reconnect,
  send,
  type Person,
} from '../helpers/backchannel'
import { TEST_LIMIT } from '../helpers/limits'
import { makeMedia, type MediaFiles } from '../helpers/media'
import { Client, type TestServer, startTestServer } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let f: MediaFiles
let dir: string
const people: Person[] = []
const mk = async (prefix = 'v') => {
  const p = await person(s, prefix)
  people.push(p)
  return p
}
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'townhall-media-'))
  f = await makeMedia(dir)
  s = await startTestServer()
})
afterAll(async () => {
  closeAll(people)
  await s.stop()
  rmSync(dir, { recursive: true, force: true })
})

const PNG = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
)
const WAVE = Array.from({ length: 64 }, (_, i) => (i * 4) % 256).join(',')
const uploads = () => join(s.dataDir, 'uploads', 'backchannel')

async function pair() {
  const a = await mk(),
    b = await mk()
  await follow(b, a)
  return { a, b, t: await dm(a, b) }
}
const video = (p: Person, t: number, bytes: Uint8Array, q = 'durationMs=2000') =>
  p.http.req('POST', `/api/threads/${t}/videos?${q}`, bytes, { 'content-type': 'application/octet-stream' })
const voice = (p: Person, t: number, bytes: Uint8Array, q = `durationMs=3000&waveform=${WAVE}`) =>
  p.http.req('POST', `/api/threads/${t}/voice?${q}`, bytes, { 'content-type': 'application/octet-stream' })

test('[B40] type by content: MP4 H.264/AAC and WebM VP8/Opus are videos; anything else is refused', async () => {
  const { a, t } = await pair()
  const rows: [string, Uint8Array, number, string | null][] = [
    ['MP4 H.264/AAC', f.mp4, 201, 'video/mp4'],
    ['WebM VP8/Opus', f.webm, 201, 'video/webm'],
    ['MP4 in MPEG-4 Part 2 (not H.264)', f.mpeg4, 415, null],
    ['Ogg Opus (no video track)', f.ogg, 415, null],
    ['a text file named .mp4', f.text, 415, null],
    ['a PNG', PNG, 415, null],
    ['an MP4 cut in half', f.mp4.slice(0, 200), 415, null],
  ]
  for (const [what, bytes, status, mime] of rows) {
    const r = await video(a, t, bytes)
    expect({ what, status: r.status }).toEqual({ what, status })
    if (mime) expect(r.json.video).toMatchObject({ kind: 'video', mime, poster: null })
    else expect(r.json.error.code).toBe('unsupported_media')
  }
})

test('[B41] voice messages by content: Opus in Ogg or WebM, ≤ 5 minutes, with a valid waveform', async () => {
  const { a, t } = await pair()
  const rows: [string, Uint8Array, string, number][] = [
    ['Ogg Opus', f.ogg, `durationMs=3000&waveform=${WAVE}`, 201],
    ['WebM Opus', f.voiceWebm, `durationMs=3000&waveform=${WAVE}`, 201],
    ['a video', f.webm, `durationMs=2000&waveform=${WAVE}`, 415],
    ['a text file', f.text, `durationMs=2000&waveform=${WAVE}`, 415],
    ['5 min 10 s of Opus', f.long, `durationMs=3000&waveform=${WAVE}`, 422],
    ['63 levels', f.ogg, `durationMs=3000&waveform=${WAVE.split(',').slice(1).join(',')}`, 422],
    ['a level of 256', f.ogg, `durationMs=3000&waveform=256,${WAVE.split(',').slice(1).join(',')}`, 422],
    ['a negative level', f.ogg, `durationMs=3000&waveform=-1,${WAVE.split(',').slice(1).join(',')}`, 422],
    ['no duration', f.ogg, `waveform=${WAVE}`, 422],
    ['a fractional duration', f.ogg, `durationMs=1.5&waveform=${WAVE}`, 422],
  ]
  for (const [what, bytes, q, status] of rows) {
    const r = await voice(a, t, bytes, q)
    expect({ what, status: r.status }).toEqual({ what, status })
  }
  const r = await voice(a, t, f.ogg)
  // The container's duration wins over the browser's.
  expect(r.json.voice).toMatchObject({ kind: 'voice', mime: 'audio/ogg', durationMs: 3000 })
  expect(r.json.voice.waveform).toEqual(WAVE.split(',').map(Number))
  // Its comments (the title, the encoder) are dropped; the file still decodes whole (ffmpeg checks every page's CRC).
  const stored = join(uploads(), r.json.voice.name)
  expect(new TextDecoder().decode(f.ogg)).toContain('secret-title')
  expect(await Bun.file(stored).text()).not.toContain('secret-title')
  const check = Bun.spawn(['ffmpeg', '-v', 'error', '-xerror', '-i', stored, '-f', 'null', '-'], { stderr: 'pipe' })
  expect({ exit: await check.exited, errors: await new Response(check.stderr).text() }).toEqual({ exit: 0, errors: '' })
})

test('[B42] size: the admin sets the largest video (maxVideoMb); videos count in the daily bytes', async () => {
  const { a, b, t } = await pair()
  await s.ctx.core.settings.update({ maxVideoMb: 1 })
  try {
    const big = new Uint8Array(1024 * 1024 + 1)
    big.set(f.mp4)
    const r = await video(a, t, big)
    expect(r.status).toBe(413)
    expect(r.json.error.message).toContain('1 MB')
  } finally {
    await s.ctx.core.settings.update({ maxVideoMb: 50 })
  }
  // 500 MB of images already today: no video either.
  s.ctx.core.db
    .query('INSERT INTO bc_uploads (name, thread_id, user_id, mime, size, created_at) VALUES (?, ?, ?, ?, ?, ?)')
    .run(`${t}-quotafillervideo.png`, t, a.id, 'image/png', 500 * 1024 * 1024, Date.now())
  expect((await video(a, t, f.webm)).json.error.code).toBe('rate_limited')
  expect((await voice(a, t, f.ogg)).json.error.code).toBe('rate_limited')
  expect((await video(b, t, f.webm)).status).toBe(201)
})

test('[B43] who may read: a video, its poster and a voice message are served only to the members', async () => {
  const { a, b, t } = await pair()
  const stranger = await mk()
  const poster = (await a.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })).json
  const v = (await video(a, t, f.webm, `durationMs=2100&poster=${poster.image.name}`)).json.video
  expect(v.poster).toBe(poster.image.url)
  // Nobody uploads to a thread they may not post in; nobody uses another's poster.
  expect((await video(stranger, t, f.webm)).status).toBe(404)
  expect((await video(b, t, f.webm, `durationMs=2000&poster=${poster.image.name}`)).status).toBe(422)
  const m = await send(a, t, 'our trip', { media: v.name })
  expect(m.media).toMatchObject({ kind: 'video', url: v.url, poster: v.poster, durationMs: 2008, waveform: [] })
  expect(m.image).toBeNull()
  // A video is sent as media, never as an image; an image never as media.
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), image: v.name })).toBe('validation')
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), media: poster.image.name })).toBe(
    'validation',
  )
  for (const url of [m.media!.url, m.media!.poster!]) {
    expect((await b.http.get(url)).status).toBe(200)
    expect((await stranger.http.get(url)).status).toBe(404)
    expect((await new Client(s).get(url)).status).toBe(401)
  }
  const got = await b.http.get(m.media!.url)
  expect(got.headers.get('content-type')).toBe('video/webm')
  expect(got.headers.get('x-content-type-options')).toBe('nosniff')
  // The file is stored under a name of ours, without its title.
  expect(got.text).not.toContain('secret-title')
})

test('[B44] Range requests: 206 with Content-Range for one range, 416 for a bad one, 200 without', async () => {
  const { a, b, t } = await pair()
  const v = (await video(a, t, f.mp4)).json.video
  await send(a, t, '', { media: v.name })
  const size = v.size as number
  const stored = new Uint8Array(await Bun.file(join(uploads(), v.name)).arrayBuffer())
  expect(new TextDecoder().decode(stored)).not.toContain('secret-title')
  const rows: [string | null, number, string | null, [number, number] | null][] = [
    [null, 200, null, [0, size]],
    ['bytes=0-99', 206, `bytes 0-99/${size}`, [0, 100]],
    ['bytes=100-', 206, `bytes 100-${size - 1}/${size}`, [100, size]],
    ['bytes=-50', 206, `bytes ${size - 50}-${size - 1}/${size}`, [size - 50, size]],
    [`bytes=10-${size + 1000}`, 206, `bytes 10-${size - 1}/${size}`, [10, size]],
    [`bytes=${size}-`, 416, `bytes */${size}`, null],
    ['bytes=50-10', 416, `bytes */${size}`, null],
    ['bytes=0-1,5-9', 416, `bytes */${size}`, null],
    ['pages=0-9', 416, `bytes */${size}`, null],
  ]
  for (const [range, status, contentRange, slice] of rows) {
    const res = await fetch(s.url + v.url, { headers: { cookie: b.http.cookie, ...(range ? { range } : {}) } })
    const body = new Uint8Array(await res.arrayBuffer())
    expect({ range, status: res.status }).toEqual({ range, status })
    expect(res.headers.get('accept-ranges')).toBe('bytes')
    expect(res.headers.get('content-range')).toBe(contentRange)
    if (slice) {
      expect(Number(res.headers.get('content-length'))).toBe(slice[1] - slice[0])
      expect(body).toEqual(stored.slice(slice[0], slice[1]))
    }
  }
})

test('[B45] deleting a video or voice message leaves a tombstone and removes its files (and the poster)', async () => {
  const { a, b, t } = await pair()
  const poster = (await a.http.req('POST', `/api/threads/${t}/images`, PNG, { 'content-type': 'image/png' })).json
  const v = (await video(a, t, f.webm, `durationMs=2000&poster=${poster.image.name}`)).json.video
  const mv = await send(a, t, 'clip', { media: v.name })
  const vo = (await voice(a, t, f.ogg)).json.voice
  const mo = await send(a, t, '', { media: vo.name })
  const files = [v.name, poster.image.name, vo.name].map((n) => join(uploads(), n))
  for (const file of files) expect(existsSync(file)).toBe(true)
  for (const m of [mv, mo]) {
    const gone = (await ok(a, 'bc.delete', { messageId: m.id })).message
    expect(gone).toMatchObject({ deleted: true, media: null, image: null, body: '' })
  }
  for (const file of files) expect(existsSync(file)).toBe(false)
  for (const url of [mv.media!.url, mv.media!.poster!, mo.media!.url]) expect((await b.http.get(url)).status).toBe(404)
  expect(await outcome(a, 'bc.send', { threadId: t, clientId: clientId(), media: vo.name })).toBe('validation')
})

test('[B45][B46] a voice message is a message: unread, sync, search by caption; played per listener', async () => {
  const { a, b, t } = await pair()
  const stranger = await mk()
  const before = (await ok(b, 'bc.inbox', {})).seq
  const vo = (await voice(a, t, f.ogg)).json.voice
  const m = await send(a, t, 'minutes of the zanzibar meeting', { media: vo.name })
  expect(m.media).toMatchObject({ kind: 'voice', durationMs: 3000, waveform: WAVE.split(',').map(Number) })
  const inbox = await ok(b, 'bc.inbox', {})
  expect(inbox.threads.find((x) => x.id === t)).toMatchObject({ unread: 1, lastMessage: { id: m.id } })
  const synced = await ok(b, 'bc.sync', { after: before })
  expect(synced.messages.find((x) => x.id === m.id)?.media?.kind).toBe('voice')
  expect((await ok(b, 'bc.search', { q: 'zanzibar' })).results[0]?.message.id).toBe(m.id)
  // Played: the listener's other devices hear of it; the author and others do not; it is kept.
  const bPhone = await reconnect(s, { ...b })
  expect((await ok(b, 'bc.voice.list', { threadId: t })).played).toEqual([])
  expect((await ok(b, 'bc.voice.played', { messageId: m.id })).messageId).toBe(m.id)
  const ev = await bPhone.ws.next((e) => e.type === 'bc.voice.played')
  expect(ev).toMatchObject({ threadId: t, messageId: m.id })
  expect((await ok(bPhone, 'bc.voice.list', { threadId: t })).played).toEqual([m.id])
  expect((await ok(a, 'bc.voice.list', { threadId: t })).played).toEqual([])
  bPhone.ws.close()
  // Only a voice message is played, only by someone who may read it.
  const text = await send(a, t, 'plain')
  expect(await outcome(b, 'bc.voice.played', { messageId: text.id })).toBe('not_a_voice_message')
  expect(await outcome(stranger, 'bc.voice.played', { messageId: m.id })).toBe('thread_not_found')
  expect(await outcome(stranger, 'bc.voice.list', { threadId: t })).toBe('thread_not_found')
  expect(await outcome(b, 'bc.voice.played', { messageId: 1.5 })).toBe('validation')
})
