// [RP40–RP65] The replay library over real HTTP: who may see a replay (a table of roles over the page, the file, the
// chapters, a clip and the feed), Range requests, the private podcast feed parsed by a podcast library, clips,
// deleting, withdrawing and the retention sweep. A replay's file is made with ffmpeg (a 6 s tone, Ogg Opus) and its
// row set through the store, as the mix job would (the real recording and mix: test/e2e/replay-recorded.test.ts).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseFeed } from 'podcast-partytime'
import { Client, PASSWORD, type TestServer, startTestServer } from '../helpers/server'
import { bringUp, closeAll, createRoom, member, ok, type Member } from '../helpers/members'
import { TEST_LIMIT, until, WAIT } from '../helpers/limits'
import { blocksWithTone, decodeWithFfmpeg, seedReplay } from '../helpers/replays'
import { leftOutOf, type ReplaysStore, speakersOf } from '../../server/replays/store'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
let H: Member, SP: Member, L: Member, X: Member, O: Member, BAN: Member, ADM: Member
let tone: string
let social: number // a social room's replay: H hosted, SP spoke, L listened, BAN listened (then banned)
let open: number // an open room's replay: only H was in it
const store = (): ReplaysStore => s.ctx.replayLibrary.api.store
const DURATION_MS = 6000

/** A recorded room that ended, and its replay "mixed": the tone as its file, two speaker chapters. */
async function replayOf(host: Member, kind: 'open' | 'social', speaker?: Member, listeners: Member[] = []) {
  const room = await createRoom(host, { kind, title: `Recorded ${kind} room` })
  await ok(host, 'room.join', { roomId: room.id })
  for (const m of [...(speaker ? [speaker] : []), ...listeners]) await ok(m, 'room.join', { roomId: room.id })
  if (speaker) await bringUp(host, speaker, room.id)
  await ok(host, 'room.end', { roomId: room.id })
  const id = (await store().insertPending(room.id, [X.id]))!
  const rel = `replays/${id}.opus`
  mkdirSync(join(s.dataDir, 'replays'), { recursive: true })
  copyFileSync(tone, join(s.dataDir, rel))
  const t0 = Date.now() - 60_000
  await store().setMixed(id, {
    path: rel,
    bytes: statSync(join(s.dataDir, rel)).size,
    durationMs: DURATION_MS,
    chapters: [
      { startMs: 0, title: host.name, kind: 'speaker', userId: host.id },
      ...(speaker ? [{ startMs: 3000, title: speaker.name, kind: 'speaker' as const, userId: speaker.id }] : []),
    ],
    timeline: [{ at: t0, ms: 0, len: DURATION_MS }],
    speakers: speaker ? [host.id, speaker.id] : [host.id],
  })
  return id
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tone-'))
  tone = join(dir, 'tone.opus')
  const ff = Bun.spawnSync(
    ['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', `sine=f=440:d=${DURATION_MS / 1000}`].concat([
      '-c:a',
      'libopus',
      '-b:a',
      '32k',
      tone,
    ]),
  )
  if (ff.exitCode !== 0) throw new Error(`ffmpeg: ${ff.stderr.toString()}`)
  s = await startTestServer()
  await s.ctx.core.settings.update({ guests: true })
  ;[H, SP, L, X, O, BAN] = await Promise.all(['host', 'spk', 'lis', 'never', 'openm', 'ban'].map((p) => member(s, p)))
  ADM = await member(s, 'adm')
  await s.ctx.accounts.service.createAdmin('root', 'correct horse battery')
  // A social room: the host follows who may join it.
  for (const m of [SP, L, BAN]) await H.http.put(`/api/users/${m.name}/follow`)
  social = await replayOf(H, 'social', SP, [L, BAN])
  open = await replayOf(H, 'open')
})
afterAll(async () => {
  closeAll([H, SP, L, X, O, BAN, ADM])
  await s?.stop()
})

const anon = () => new Client(s)
async function feedUrl(m: Member) {
  const r = await m.http.post('/api/feed')
  expect(r.status).toBe(201)
  expect(r.json.url).toMatch(/^http.*\/feed\/[A-Za-z0-9_-]{32}\.rss$/)
  return new URL(r.json.url).pathname
}
async function feedItems(path: string) {
  const r = await fetch(s.url + path)
  if (r.status !== 200) return { status: r.status, items: [] as any[] }
  const feed = parseFeed(await r.text())
  return { status: r.status, items: feed?.items ?? [], feed }
}

describe('[RP40] who may see a replay: roles × page, file, chapters, list, feed', () => {
  const who = () => ({ host: H, speaker: SP, listener: L, never: X, openMember: O }) as Record<string, Member | null>
  // Expected status of page/file/chapters, and whether the list and the feed show it.
  const table: [string, 'social' | 'open', number][] = [
    ['host', 'social', 200],
    ['speaker', 'social', 200],
    ['listener', 'social', 200],
    ['never', 'social', 404],
    ['openMember', 'social', 404],
    ['host', 'open', 200],
    ['never', 'open', 200],
    ['openMember', 'open', 200],
  ]
  for (const [role, kind, status] of table) {
    test(`${role} × ${kind} room → ${status}`, async () => {
      const m = who()[role]!
      const id = kind === 'social' ? social : open
      const page = await m.http.get(`/api/replays/${id}`)
      const file = await m.http.req('GET', `/api/replays/${id}/audio`, undefined, { range: 'bytes=0-9' })
      const chapters = await m.http.get(`/api/replays/${id}/chapters`)
      expect([page.status, file.status === 206 ? 200 : file.status, chapters.status]).toEqual([status, status, status])
      if (status === 404) expect(page.json.error.code).toBe('not_found')
      const listed = (await m.http.get('/api/replays')).json.replays.map((r: { id: number }) => r.id)
      expect(listed.includes(id)).toBe(status === 200)
      const feed = await feedItems(await feedUrl(m))
      expect(feed.status).toBe(200)
      const ids = feed.items.map((i: any) => i.guid)
      expect(ids.some((g: string) => g.startsWith(`townhall-replay-${id}@`))).toBe(status === 200)
    })
  }

  test('signed out: 401 on the API, nothing in the list', async () => {
    for (const path of [`/api/replays/${open}`, `/api/replays/${open}/audio`, `/api/replays/${social}/chapters`])
      expect((await anon().get(path)).status).toBe(401)
  })

  test('[RP51] a banned member: sessions gone (401), their feed 404, its files 404', async () => {
    const path = await feedUrl(BAN)
    const before = await feedItems(path)
    expect(before.items.length).toBe(2)
    const enclosure = new URL(before.items[0].enclosure.url).pathname
    expect((await fetch(s.url + enclosure)).status).toBe(200)
    const admin = await (await import('../helpers/server')).signIn(s, 'root')
    expect((await admin.post(`/api/admin/members/${BAN.id}/ban`, {})).status).toBe(200)
    expect((await BAN.http.get(`/api/replays/${social}`)).status).toBe(401)
    expect((await fetch(s.url + path)).status).toBe(404)
    expect((await fetch(s.url + enclosure)).status).toBe(404)
  })

  test('[RP41] the replay page: title, speakers, left-out count, chapters, timeline', async () => {
    const r = (await L.http.get(`/api/replays/${social}`)).json.replay
    expect(r.title).toBe('Recorded social room')
    expect(r.state).toBe('ready')
    expect(r.speakers.map((u: { id: number }) => u.id)).toEqual([H.id, SP.id])
    expect(r.leftOut).toBe(1)
    expect(r.chapters.map((c: { startMs: number }) => c.startMs)).toEqual([0, 3000])
    expect(r.timeline).toHaveLength(1)
    expect(r.mayDelete).toBe(false)
    expect(r.progress).toBeNull()
    const mine = (await H.http.get(`/api/replays/${social}`)).json.replay
    expect([mine.mayDelete, mine.progress]).toEqual([true, 1])
    expect((await SP.http.get(`/api/replays/${social}`)).json.replay.mayWithdraw).toBe(true)
    expect((await L.http.get(`/api/rooms/${r.roomId}/replay`)).json.replay.id).toBe(social)
    expect((await X.http.get(`/api/rooms/${r.roomId}/replay`)).json.replay).toBeNull()
  })

  test('[RP43] JSON chapters (Podcasting 2.0) in seconds', async () => {
    const c = (await SP.http.get(`/api/replays/${social}/chapters`)).json
    expect(c).toEqual({
      version: '1.2.0',
      chapters: [
        { startTime: 0, title: H.name },
        { startTime: 3, title: SP.name },
      ],
    })
  })
})

describe('[RP44] the file with Range requests', () => {
  const size = () => statSync(tone).size
  test('no Range → 200, the whole file, audio/ogg, Accept-Ranges', async () => {
    const r = await fetch(`${s.url}/api/replays/${open}/audio`, { headers: { cookie: O.http.cookie } })
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('audio/ogg')
    expect(r.headers.get('accept-ranges')).toBe('bytes')
    expect(Number(r.headers.get('content-length'))).toBe(size())
    const body = new Uint8Array(await r.arrayBuffer())
    expect(body.length).toBe(size())
    expect(new TextDecoder().decode(body.slice(0, 4))).toBe('OggS')
  })
  test('ranges → 206 with the right bytes and Content-Range; past the end → 416', async () => {
    const whole = new Uint8Array(await Bun.file(tone).arrayBuffer())
    const n = size()
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=100-199', 100, 199],
      [`bytes=${n - 10}-`, n - 10, n - 1],
      ['bytes=-20', n - 20, n - 1],
      [`bytes=5-${n + 1000}`, 5, n - 1],
    ]
    for (const [range, a, b] of cases) {
      const r = await fetch(`${s.url}/api/replays/${open}/audio`, { headers: { cookie: O.http.cookie, range } })
      expect([range, r.status]).toEqual([range, 206])
      expect(r.headers.get('content-range')).toBe(`bytes ${a}-${b}/${n}`)
      expect(Number(r.headers.get('content-length'))).toBe(b - a + 1)
      expect(new Uint8Array(await r.arrayBuffer())).toEqual(whole.slice(a, b + 1))
    }
    for (const range of [`bytes=${n}-`, `bytes=${n + 5}-${n + 9}`, 'bytes=-0']) {
      const r = await fetch(`${s.url}/api/replays/${open}/audio`, { headers: { cookie: O.http.cookie, range } })
      expect([range, r.status, r.headers.get('content-range')]).toEqual([range, 416, `bytes */${n}`])
      expect((await r.json()).error.code).toBe('range_not_satisfiable')
    }
    // Not one byte range (several, another unit, nonsense): ignored, the whole file.
    for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=9-3', 'bytes=x-']) {
      const r = await fetch(`${s.url}/api/replays/${open}/audio`, { headers: { cookie: O.http.cookie, range } })
      expect([range, r.status]).toEqual([range, 200])
      await r.arrayBuffer()
    }
  })
  test('download=1 → an attachment named after the room', async () => {
    const r = await O.http.get(`/api/replays/${open}/audio?download=1`)
    expect(r.headers.get('content-disposition')).toContain('filename="Recorded open room (')
    expect((await O.http.get(`/api/replays/${open}/audio?download=yes`)).status).toBe(422)
  })
})

describe('[RP50–RP54] the private podcast feed', () => {
  test('parses as a podcast: items, enclosure length and type, chapters URL, guid, duration', async () => {
    const path = await feedUrl(SP)
    const { feed, items } = await feedItems(path)
    expect(feed?.title).toContain('Townhall replays')
    expect(items.length).toBe(2)
    const item = items.find((i: any) => i.guid.startsWith(`townhall-replay-${social}@`))!
    expect(item.title).toBe('Recorded social room')
    expect(item.enclosure.type).toBe('audio/ogg')
    expect(item.enclosure.length).toBe(statSync(tone).size)
    expect(item.duration).toBe(6)
    expect(item.pubDate instanceof Date).toBe(true)
    expect(item.description).toContain('1 speaker chose not to be recorded')
    expect(item.podcastChapters.url).toMatch(/\/feed\/[A-Za-z0-9_-]+\/\d+\.json$/)
    expect(item.podcastChapters.type).toBe('application/json+chapters')
    // The enclosure answers Range with 206 and the item's length; the chapters are the JSON chapters.
    const enc = await fetch(item.enclosure.url.replace(s.origin, s.url), { headers: { range: 'bytes=0-99' } })
    expect(enc.status).toBe(206)
    expect(enc.headers.get('content-range')).toBe(`bytes 0-99/${item.enclosure.length}`)
    expect(enc.headers.get('content-type')).toBe('audio/ogg')
    // Podcast apps ask HEAD first: the same headers, no body.
    const head = await fetch(item.enclosure.url.replace(s.origin, s.url), { method: 'HEAD' })
    expect([head.status, head.headers.get('content-length'), head.headers.get('accept-ranges')]).toEqual([
      200,
      String(item.enclosure.length),
      'bytes',
    ])
    const ch = await fetch(item.podcastChapters.url.replace(s.origin, s.url))
    expect((await ch.json()).chapters).toHaveLength(2)
  })

  test('[RP53] a member who may not see a room gets no item, and 404 for its file with a guessed URL', async () => {
    const path = await feedUrl(X)
    const { items } = await feedItems(path)
    expect(items.map((i: any) => i.guid.split('@')[0])).toEqual([`townhall-replay-${open}`])
    const secret = path.slice('/feed/'.length, -'.rss'.length)
    expect((await fetch(`${s.url}/feed/${secret}/${social}.opus`)).status).toBe(404)
    expect((await fetch(`${s.url}/feed/${secret}/${social}.json`)).status).toBe(404)
    expect((await fetch(`${s.url}/feed/${secret}/${open}.opus`)).status).toBe(200)
  })

  test('[RP50] a new secret: the old URL and files 404; removing the feed: 404; only the hash stored', async () => {
    const old = await feedUrl(L)
    const oldSecret = old.slice('/feed/'.length, -'.rss'.length)
    const now = await feedUrl(L)
    expect(now).not.toBe(old)
    expect((await fetch(s.url + old)).status).toBe(404)
    expect((await fetch(`${s.url}/feed/${oldSecret}/${open}.opus`)).status).toBe(404)
    expect((await fetch(s.url + now)).status).toBe(200)
    const stored = s.ctx.core.db.query('SELECT secret_hash FROM feed_secrets WHERE user_id = ?').get(L.id) as any
    expect(stored.secret_hash).toMatch(/^[0-9a-f]{64}$/)
    expect(stored.secret_hash).not.toContain(now.slice(6, -4))
    expect((await L.http.get('/api/feed')).json.createdAt).toBeGreaterThan(0)
    expect((await L.http.del('/api/feed')).status).toBe(200)
    expect((await fetch(s.url + now)).status).toBe(404)
    expect((await L.http.get('/api/feed')).json.createdAt).toBeNull()
    for (const bad of ['/feed/short.rss', '/feed/..%2F..%2Fetc.rss', `/feed/${'a'.repeat(32)}.rss`])
      expect((await fetch(s.url + bad)).status).toBe(404)
  })
})

describe('[RP55–RP57] clips', () => {
  let slug = ''
  test('a listener cuts 2 s: its page names the speakers in it, with Open Graph tags and a player', async () => {
    const r = await L.http.post(`/api/replays/${social}/clips`, { startMs: 2500, durationMs: 2000, title: 'Best bit' })
    expect(r.status).toBe(201)
    slug = r.json.clip.slug
    expect(r.json.clip.speakers.map((u: { id: number }) => u.id).sort()).toEqual([H.id, SP.id].sort())
    const page = await L.http.get(`/clips/${slug}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('<meta property="og:title" content="Best bit">')
    expect(page.text).toContain(`<meta property="og:audio" content="${s.origin}/clips/${slug}.opus">`)
    expect(page.text).toMatch(/og:description" content="With [^"]*\band\b[^"]*"/)
    expect(page.text).toContain('<audio controls')
    const audio = await L.http.req('GET', `/clips/${slug}.opus`, undefined, { range: 'bytes=0-3' })
    expect([audio.status, audio.headers.get('content-type')]).toEqual([206, 'audio/ogg'])
    const probe = Bun.spawnSync(
      ['ffprobe', '-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0'].concat([
        join(s.dataDir, 'replays', 'clips', `${slug}.opus`),
      ]),
    )
    expect(Math.abs(Number(probe.stdout.toString()) - 2)).toBeLessThan(0.04)
  })
  test('[RP56] a social room clip: 404 for who may not see the replay, signed out; user text escaped', async () => {
    expect((await X.http.get(`/clips/${slug}`)).status).toBe(404)
    expect((await anon().get(`/clips/${slug}`)).status).toBe(404)
    expect((await anon().get(`/clips/${slug}.opus`)).status).toBe(404)
    const r = await O.http.post(`/api/replays/${open}/clips`, { startMs: 0, durationMs: 1000, title: '<b>"x"</b>' })
    expect(r.status).toBe(201)
    const page = await anon().get(`/clips/${r.json.clip.slug}`)
    expect(page.status).toBe(200) // an open room's clip, guests allowed: its link unfurls
    expect(page.text).not.toContain('<b>"x"</b>')
    expect(page.text).toContain('&lt;b&gt;&quot;x&quot;&lt;/b&gt;')
    await s.ctx.core.settings.update({ guests: false })
    expect((await anon().get(`/clips/${r.json.clip.slug}`)).status).toBe(404)
    await s.ctx.core.settings.update({ guests: true })
  })
  test('[RP55] input: integers only, 1–60 s, inside the replay; not for who may not see it', async () => {
    const bad = [
      { startMs: 0.5, durationMs: 1000 },
      { startMs: 0, durationMs: 1500.5 },
      { startMs: 0, durationMs: 60_001 },
      { startMs: 0, durationMs: 999 },
      { startMs: -1, durationMs: 1000 },
      { startMs: 5500, durationMs: 1000 },
    ]
    for (const b of bad) expect([b, (await L.http.post(`/api/replays/${social}/clips`, b)).status]).toEqual([b, 422])
    expect((await X.http.post(`/api/replays/${social}/clips`, { startMs: 0, durationMs: 1000 })).status).toBe(404)
  })
})

describe('[RP60–RP65] withdrawing, deleting, keeping', () => {
  test('[RP62] a speaker withdraws: pending again without them, the file and their clips gone', async () => {
    const id = await replayOf(H, 'social', SP, [L])
    const clip = (await L.http.post(`/api/replays/${id}/clips`, { startMs: 3500, durationMs: 1000 })).json.clip
    const file = join(s.dataDir, (await store().byId(id))!.path!)
    expect((await L.http.post(`/api/replays/${id}/withdraw`)).json.error.code).toBe('replay_not_speaker')
    const r = await SP.http.post(`/api/replays/${id}/withdraw`)
    expect(r.status).toBe(200)
    expect(r.json.replay.state).toBe('pending')
    const row = (await store().byId(id))!
    // Pending, or already taken by the mix job (told to mix it again).
    expect(['pending', 'mixing']).toContain(row.state)
    expect(row.path).toBeNull()
    expect(leftOutOf(row)).toContain(SP.id)
    expect(await store().withdrawn(id)).toEqual([SP.id])
    expect(existsSync(file)).toBe(false)
    expect((await L.http.get(`/clips/${clip.slug}`)).status).toBe(404)
    // Not ready: not listed for a listener, no file; the host sees it with its state.
    expect((await L.http.get(`/api/replays/${id}/audio`)).status).toBe(404)
    expect((await L.http.get('/api/replays')).json.replays.some((x: any) => x.id === id)).toBe(false)
    // (This replay has no capture files, so the mix job told to mix it again cannot make it ready.)
    const mine = (await H.http.get('/api/replays')).json.replays.find((x: any) => x.id === id)
    expect(['pending', 'mixing', 'failed']).toContain(mine.state)
  })

  test('[RP62] on a real mix: withdrawn, the replay is mixed again without the speaker (their tone gone)', async () => {
    const seeded = seedReplay(s.ctx.core.db, s.dataDir, [
      { username: H.name, tones: [{ startMs: 0, durationMs: 3000, freq: 440 }] },
      { username: SP.name, tones: [{ startMs: 3000, durationMs: 3000, freq: 880 }] },
    ])
    // The room was written straight into the database: the running server's directory reads it.
    await s.ctx.rooms.service.directory.reload(seeded.roomId)
    s.ctx.replays.api.remix()
    const ready = async () => (await store().byId(seeded.replayId))?.state === 'ready'
    await until(ready, 'the first mix')
    const first = (await store().byId(seeded.replayId))!
    expect(speakersOf(first).sort()).toEqual([H.id, SP.id].sort())
    const pcm1 = await decodeWithFfmpeg(join(s.dataDir, first.path!))
    expect(blocksWithTone(pcm1, 880)).toBeGreaterThan(20)
    expect((await SP.http.post(`/api/replays/${seeded.replayId}/withdraw`)).status).toBe(200)
    await until(ready, 'the mix without the speaker')
    const again = (await store().byId(seeded.replayId))!
    expect(speakersOf(again)).toEqual([H.id])
    expect(leftOutOf(again)).toContain(SP.id)
    const pcm2 = await decodeWithFfmpeg(join(s.dataDir, again.path!))
    expect(blocksWithTone(pcm2, 880)).toBe(0)
    expect(blocksWithTone(pcm2, 440)).toBeGreaterThan(20)
    expect((await SP.http.get(`/api/replays/${seeded.replayId}`)).json.replay.withdrawn).toBe(true)
  })

  test('[RP66] [RP67] a deleted account: mixed out of the replay, its capture file, clips and feed gone', async () => {
    const D = await member(s, 'gone')
    const seeded = seedReplay(s.ctx.core.db, s.dataDir, [
      { username: H.name, tones: [{ startMs: 0, durationMs: 3000, freq: 440 }] },
      { username: D.name, tones: [{ startMs: 3000, durationMs: 3000, freq: 880 }] },
    ])
    // The room was written straight into the database: the running server's directory reads it.
    await s.ctx.rooms.service.directory.reload(seeded.roomId)
    s.ctx.replays.api.remix()
    const ready = async () => (await store().byId(seeded.replayId))?.state === 'ready'
    await until(ready, 'the first mix')
    // [RP67] the host and each speaker heard are told in their inbox.
    const told = async (m: Member) =>
      (await ok(m, 'activity.list', {})).items.some(
        (i: any) => i.kind === 'replay_ready' && i.url === `/replays/${seeded.replayId}`,
      )
    await until(async () => (await told(H)) && (await told(D)), 'replay_ready in the inbox of the host and speaker')
    expect(await told(L)).toBe(false)
    const clip = (await D.http.post(`/api/replays/${seeded.replayId}/clips`, { startMs: 0, durationMs: 1000 })).json
      .clip
    const feed = await feedUrl(D)
    const track = join(s.dataDir, 'recordings', String((await store().byId(seeded.replayId))!.room_id), `${D.id}.cap`)
    expect(existsSync(track)).toBe(true)
    expect((await D.http.post('/api/me/delete', { password: PASSWORD })).status).toBe(200)
    expect(existsSync(track)).toBe(false)
    expect((await H.http.get(`/clips/${clip.slug}`)).status).toBe(404)
    expect((await fetch(s.url + feed)).status).toBe(404)
    await until(ready, 'the mix without the deleted member')
    const again = (await store().byId(seeded.replayId))!
    expect(speakersOf(again)).toEqual([H.id])
    const pcm = await decodeWithFfmpeg(join(s.dataDir, again.path!))
    expect(blocksWithTone(pcm, 880)).toBe(0)
    expect(blocksWithTone(pcm, 440)).toBeGreaterThan(20)
    D.ws.close()
  })

  test('[RP68] a failed mix: its host has it mixed again; others 404; not failed 409', async () => {
    const room = await createRoom(H, { kind: 'open', title: 'Nothing was said' })
    await ok(H, 'room.join', { roomId: room.id })
    await ok(H, 'room.end', { roomId: room.id })
    const id = (await store().insertPending(room.id, []))!
    // Written here, not by the recorder: tell the job as the recorder's 'pending' does (else it waits for its poll).
    s.ctx.replays.api.remix()
    const state = async () => (await store().byId(id))?.state
    // No capture file: the mix job fails it, and says why to the host.
    await until(async () => (await state()) === 'failed', 'the mix to fail', WAIT * 2)
    const page = await H.http.get(`/api/replays/${id}`)
    expect(page.json.replay.state).toBe('failed')
    expect(page.json.replay.error).toBeTruthy()
    expect((await O.http.post(`/api/replays/${id}/retry`)).status).toBe(404)
    const mixes: string[] = []
    let listening = true
    s.ctx.replays.api.on('mix', (e) => {
      if (listening && e.replayId === id) mixes.push(e.state)
    })
    try {
      const again = await H.http.post(`/api/replays/${id}/retry`)
      expect(again.status).toBe(200)
      expect(['pending', 'mixing', 'failed']).toContain(again.json.replay.state)
      await until(() => mixes.includes('failed'), 'the job to mix it again (and fail again: still nothing)', WAIT * 2)
      expect(mixes[0]).toBe('mixing')
    } finally {
      listening = false
    }
    expect((await H.http.post(`/api/replays/${open}/retry`)).json.error.code).toBe('replay_not_failed')
    const admin = await (await import('../helpers/server')).signIn(s, 'root')
    expect((await admin.post(`/api/replays/${id}/retry`)).status).toBe(200)
  })

  test('[RP61] the host deletes (files gone), a listener may not; an admin may', async () => {
    const id = await replayOf(H, 'social', SP, [L])
    const clip = (await L.http.post(`/api/replays/${id}/clips`, { startMs: 0, durationMs: 1000 })).json.clip
    const files = [
      join(s.dataDir, (await store().byId(id))!.path!),
      join(s.dataDir, 'replays', 'clips', `${clip.slug}.opus`),
    ]
    expect(files.map(existsSync)).toEqual([true, true])
    expect((await L.http.del(`/api/replays/${id}`)).status).toBe(404)
    expect((await X.http.del(`/api/replays/${id}`)).status).toBe(404)
    expect((await H.http.del(`/api/replays/${id}`)).status).toBe(200)
    expect(files.map(existsSync)).toEqual([false, false])
    expect(await store().byId(id)).toBeNull()
    expect((await H.http.get(`/api/replays/${id}`)).status).toBe(404)
    const other = await replayOf(H, 'social', SP)
    const admin = await (await import('../helpers/server')).signIn(s, 'root')
    expect((await admin.del(`/api/replays/${other}`)).status).toBe(200)
    expect(await store().byId(other)).toBeNull()
  })

  test('[RP64] [RP65] retention: keepDays removes older replays; the admin sees the disk', async () => {
    const old = await replayOf(H, 'open')
    const row = (await store().byId(old))!
    await store().setMixed(
      old,
      { ...row, durationMs: row.duration_ms, chapters: [], timeline: [], speakers: [H.id], path: row.path! },
      Date.now() - 3 * 86_400_000,
    )
    const admin = await (await import('../helpers/server')).signIn(s, 'root')
    expect((await H.http.get('/api/admin/replays')).status).toBe(403)
    const before = (await admin.get('/api/admin/replays')).json
    expect(before.keepDays).toBe(0)
    expect(before.disk.replays.bytes).toBeGreaterThan(0)
    expect(before.replays.some((r: any) => r.id === old)).toBe(true)
    for (const keepDays of [-1, 1.5, 40_000, null])
      expect((await admin.patch('/api/admin/replays', { keepDays })).status).toBe(422)
    const after = (await admin.patch('/api/admin/replays', { keepDays: 2 })).json
    expect(after.keepDays).toBe(2)
    expect(after.replays.some((r: any) => r.id === old)).toBe(false)
    expect(existsSync(join(s.dataDir, row.path!))).toBe(false)
    expect(await store().byId(open)).not.toBeNull() // made a minute ago: kept
    expect(after.disk.replays.bytes).toBeLessThan(before.disk.replays.bytes)
    await admin.patch('/api/admin/replays', { keepDays: 0 })
  })
})

afterAll(() => rmSync(join(tone, '..'), { recursive: true, force: true }))
