// [H11] One binary: `npm run build` makes dist/townhall; copied alone into an empty folder it starts, creates its
// data folder, serves the app and answers `townhall healthcheck`. Figures (size, start-up, memory) are printed.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from '../../scripts/build'
import { MIGRATIONS } from '../../server/db/migrations'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const work = mkdtempSync(join(tmpdir(), 'townhall-binary-'))
const folder = join(work, 'empty')
const bin = join(folder, 'townhall')
let proc: ReturnType<typeof Bun.spawn> | null = null
let base = ''
let startupMs = 0

const env = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: work,
  HOST: '127.0.0.1',
  ...extra,
})

beforeAll(async () => {
  const { outfile } = await build({ outfile: join(work, 'build', 'townhall'), quiet: true })
  await Bun.$`mkdir -p ${folder}`
  copyFileSync(outfile, bin)
  await Bun.$`chmod +x ${bin}`
  const t0 = performance.now()
  proc = Bun.spawn([bin], { cwd: folder, env: env({ PORT: '0' }), stdout: 'pipe', stderr: 'pipe' })
  // The log line "listening on 127.0.0.1:PORT" (stderr) tells the port.
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader()
  let log = ''
  while (!/listening on [\d.]+:(\d+)/.test(log)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the binary exited: ${log}`)
    log += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  base = `http://127.0.0.1:${/listening on [\d.]+:(\d+)/.exec(log)![1]}`
  while ((await fetch(base + '/healthz').catch(() => null))?.status !== 200) await Bun.sleep(10)
  startupMs = performance.now() - t0
})

afterAll(async () => {
  if (proc) {
    proc.kill('SIGTERM')
    await proc.exited
  }
  rmSync(work, { recursive: true, force: true })
})

test('[H11] the binary, alone in an empty folder, serves /healthz, the app and its files', async () => {
  const health = await (await fetch(base + '/healthz')).json()
  expect(health).toMatchObject({ status: 'ok', database: 'ok' })
  const index = await fetch(base + '/')
  expect(index.status).toBe(200)
  const html = await index.text()
  const script = /<script type="module" src="(\/app\.[a-z0-9]+\.js)">/.exec(html)?.[1]
  expect(script).toBeDefined()
  expect(html).toContain('rel="manifest"')
  const app = await fetch(base + script)
  expect(app.status).toBe(200)
  expect(app.headers.get('content-type')).toContain('javascript')
  expect(app.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
  expect((await app.text()).length).toBeGreaterThan(10_000)
  // [H60] the embedded precompressed forms, by Accept-Encoding.
  for (const enc of ['br', 'gzip']) {
    const r = await fetch(base + script, { headers: { 'accept-encoding': enc }, decompress: false } as RequestInit)
    expect([r.headers.get('content-encoding'), r.headers.get('vary')]).toEqual([enc, 'Accept-Encoding'])
  }
  const sw = await fetch(base + '/sw.js')
  expect(sw.status).toBe(200)
  expect(await sw.text()).toContain('townhall-shell-')
  const manifest = await (await fetch(base + '/manifest.webmanifest')).json()
  for (const icon of manifest.icons) {
    const r = await fetch(base + icon.src)
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toBe('image/png')
  }
  // A screen of the app, and the API behind it.
  expect(await (await fetch(base + '/invite/abc')).text()).toContain('<div id="app">')
  expect((await fetch(base + '/api/me')).status).toBe(401)
  expect(await (await fetch(base + '/api/session')).json()).toEqual({ user: null })
  // [P16] Opened in a browser, the binary's page carries its first data too (its embedded index.html, as from source).
  const opened = await fetch(base + '/', { headers: { 'sec-fetch-dest': 'document' } })
  expect(await opened.text()).toContain('<script type="application/json" id="first-data">{"user":null}</script>')
  // [H68] the API reference's page and script come from the binary.
  expect(await (await fetch(base + '/openapi')).text()).toContain('<script src="/openapi/ui.js">')
  const ui = await fetch(base + '/openapi/ui.js', {
    headers: { 'accept-encoding': 'br' },
    decompress: false,
  } as RequestInit)
  expect([ui.status, ui.headers.get('content-encoding')]).toEqual([200, 'br'])
  expect(Object.keys((await (await fetch(base + '/openapi/json')).json()).paths).length).toBeGreaterThan(40)

  // It made its data folder next to it, migrated to the embedded schema.
  expect(readdirSync(join(folder, 'data'))).toEqual(expect.arrayContaining(['townhall.db', 'uploads', 'backups']))
  const { Database } = await import('bun:sqlite')
  const db = new Database(join(folder, 'data', 'townhall.db'), { readonly: true })
  expect(db.query<{ v: number }, []>('SELECT MAX(version) AS v FROM schema_version').get()!.v).toBe(MIGRATIONS.length)
  db.close()
})

test('[H11] `townhall healthcheck` from the binary exits 0 against it', async () => {
  const port = new URL(base).port
  const p = Bun.spawn([bin, 'healthcheck'], { cwd: folder, env: env({ PORT: port }), stdout: 'pipe', stderr: 'pipe' })
  expect(await p.exited).toBe(0)
  const v = Bun.spawn([bin, '--version'], { cwd: folder, env: env(), stdout: 'pipe' })
  expect((await new Response(v.stdout).text()).trim()).toMatch(/^\d+\.\d+\.\d+/)
})

test('[D60] `townhall backup FILE` from the binary writes the backup in its worker while the server runs', async () => {
  const file = join(work, 'from-binary.tar')
  const p = Bun.spawn([bin, 'backup', file], { cwd: folder, env: env(), stdout: 'pipe', stderr: 'pipe' })
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
  expect({ code, err }).toMatchObject({ code: 0 })
  expect(out).toBe(`${file}\n`)
  expect(err).toBe('') // the summary is for a terminal (D65)
  const names = Bun.spawnSync(['tar', 'tf', file]).stdout.toString().trim().split('\n')
  expect(names[0]).toBe('townhall.db')
  expect(names.at(-1)).toBe('manifest.json')
})

test('[H11] figures: binary size, start-up time, idle memory (reported, not asserted)', async () => {
  await Bun.sleep(200)
  const status = existsSync(`/proc/${proc!.pid}/status`) ? await Bun.file(`/proc/${proc!.pid}/status`).text() : ''
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  const size = statSync(bin).size
  console.log(
    `binary ${(size / 1024 / 1024).toFixed(1)} MiB, start-up to /healthz ${Math.round(startupMs)} ms, ` +
      `RSS after serving the app ${(rssKb / 1024).toFixed(0)} MiB`,
  )
  expect(size).toBeGreaterThan(0)
})

test('[RP20][RP30] the binary mixes a replay in its replay worker, with the Opus codec embedded', async () => {
  // Stopped, given an ended recorded room (capture files and a pending replay), started again: the job mixes it.
  proc!.kill('SIGTERM')
  await proc!.exited
  const { Database } = await import('bun:sqlite')
  const { seedReplay, probe } = await import('../helpers/replays')
  const dataDir = join(folder, 'data')
  const db = new Database(join(dataDir, 'townhall.db'))
  const seeded = seedReplay(db, dataDir, [
    { username: 'ann', tones: [{ startMs: 0, durationMs: 3000, freq: 440 }] },
    { username: 'bob', tones: [{ startMs: 3000, durationMs: 3000, freq: 660 }] },
  ])
  proc = Bun.spawn([bin], { cwd: folder, env: env({ PORT: '0' }), stdout: 'pipe', stderr: 'pipe' })
  const state = () =>
    db
      .query<{ state: string; path: string | null; error: string | null }, [number]>(
        'SELECT state, path, error FROM replays WHERE id = ?',
      )
      .get(seeded.replayId)!
  await until(
    () => ['ready', 'failed'].includes(state().state),
    () => JSON.stringify(state()),
  )
  expect(state()).toMatchObject({ state: 'ready', error: null })
  const p = await probe(join(dataDir, state().path!))
  expect(p.codec).toBe('opus')
  expect(Math.abs(p.durationMs - 6000)).toBeLessThan(120)
  db.close()
})
