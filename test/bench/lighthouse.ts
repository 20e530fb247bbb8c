// `bun run bench:lighthouse`: Lighthouse (performance, mobile profile: Moto G Power, slow 4G, simulated throttling)
// on the sign-in page and on a member's hallway, served from source like the tests (the binary serves the same
// build). Not part of the test suite: figures go to docs/PERFORMANCE.md.
//
// Each page runs RUNS times with Lighthouse's defaults (4× CPU slowdown) and RUNS times with the slowdown calibrated
// to this machine's benchmark index, as Lighthouse's docs advise when it warns that the host CPU is slower than it
// expects (docs/throttling.md, the CPU throttling calculator): on a loaded 2-core box the default run simulates a
// phone several times slower than the Moto G Power. The median of each is printed.
// The member's page gets a real session cookie in the browser Lighthouse drives (a Chromium this script starts), not
// only a header on HTTP requests: the app's WebSocket then connects as it does for a member, where with Lighthouse's
// --extra-headers alone it was refused (no cookie on its handshake) and the page showed "Reconnecting…" and retried.
// Needs Chromium (CHROME_PATH, /usr/bin/chromium by default) and Node (Lighthouse runs on Node).
// PAGES=hallway (or sign-in) runs one page; CALIBRATED=0 skips the calibrated runs (the default 4× only);
// LH_KEEP=<dir> keeps each report and its trace; CLIENT_MINIFY=0 serves the client unminified (names in traces).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { chromium } from 'playwright-core'
import { signedInClient, startTestServer } from '../helpers/server'

const RUNS = Number(process.env.RUNS ?? 3)
const PAGES = process.env.PAGES?.split(',')
const CALIBRATED = process.env.CALIBRATED !== '0'
const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium'
const LIGHTHOUSE = join(import.meta.dir, '..', '..', 'node_modules', 'lighthouse', 'cli', 'index.js')
const METRICS = [
  'first-contentful-paint',
  'largest-contentful-paint',
  'total-blocking-time',
  'cumulative-layout-shift',
  'speed-index',
] as const

interface Result {
  score: number
  benchmarkIndex: number
  metrics: Record<string, string>
  transfer: number
  requests: number
}

/** The CPU slowdown that makes this host match Lighthouse's reference phone (Lighthouse's calculator). */
function calibratedSlowdown(benchmarkIndex: number) {
  if (benchmarkIndex >= 1300) return 3 + (benchmarkIndex - 1300) / 233
  if (benchmarkIndex >= 800) return 1 + (benchmarkIndex - 800) / 250
  return 1
}

/** A fresh headless Chromium (its own profile) that Lighthouse attaches to, holding the session cookie if given. */
async function browser(url: string, cookie: string | undefined, work: string) {
  const dir = mkdtempSync(join(work, 'chrome-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROME,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--remote-debugging-port=0'],
  })
  // With port 0 Chromium picks a free one and writes it in its profile.
  const port = Number(readFileSync(join(dir, 'DevToolsActivePort'), 'utf8').split('\n')[0])
  if (cookie) {
    const [name, ...value] = cookie.split(';')[0]!.split('=')
    await context.addCookies([{ name: name!, value: value.join('='), url }])
  }
  return { port, close: () => context.close() }
}

async function lighthouse(url: string, opts: { cookie?: string; slowdown?: number }, work: string): Promise<Result> {
  const out = join(work, `lh-${Math.random().toString(36).slice(2)}.json`)
  const chrome = await browser(url, opts.cookie, work)
  const args = [
    LIGHTHOUSE,
    url,
    '--quiet',
    '--only-categories=performance',
    '--output=json',
    `--output-path=${out}`,
    `--port=${chrome.port}`,
  ]
  if (opts.slowdown) args.push(`--throttling.cpuSlowdownMultiplier=${opts.slowdown.toFixed(2)}`)
  if (process.env.LH_KEEP) args.push('--save-assets')
  const p = Bun.spawn(['node', ...args], { stderr: 'pipe' })
  const code = await p.exited
  await chrome.close()
  if (code !== 0) throw new Error(`lighthouse failed (${code}): ${await new Response(p.stderr).text()}`)
  const r = await Bun.file(out).json()
  // LH_KEEP=<dir> keeps each report (long tasks, bootup time, the trace's breakdown) and its trace to read.
  if (process.env.LH_KEEP)
    for (const f of [out, out.replace(/\.json$/, '-0.trace.json')])
      if (existsSync(f)) await Bun.write(join(process.env.LH_KEEP, basename(f)), Bun.file(f))
  if (r.runtimeError) throw new Error(`lighthouse: ${r.runtimeError.message}`)
  const requests = r.audits['network-requests'].details.items as { transferSize: number }[]
  return {
    score: Math.round(r.categories.performance.score * 100),
    benchmarkIndex: r.environment.benchmarkIndex,
    metrics: Object.fromEntries(METRICS.map((m) => [m, r.audits[m].displayValue])),
    transfer: requests.reduce((n, q) => n + q.transferSize, 0),
    requests: requests.length,
  }
}

const median = (rs: Result[]) => [...rs].sort((a, b) => a.score - b.score)[Math.floor(rs.length / 2)]!

if (import.meta.main) {
  const work = mkdtempSync(join(tmpdir(), 'townhall-lighthouse-'))
  const s = await startTestServer()
  try {
    const alice = await signedInClient(s, 'alice')
    const bob = await signedInClient(s, 'bobby')
    await alice.put('/api/users/bobby/follow')
    await bob.post('/api/rooms', { title: 'Morning coffee', kind: 'open' })
    await bob.post('/api/rooms', { title: 'Friday planning', kind: 'open', startsAt: Date.now() + 86_400_000 })
    await fetch(s.url + '/') // builds the client once
    const pages = [
      { id: 'sign-in', name: 'sign-in page (signed out)', url: s.url + '/' },
      { id: 'hallway', name: 'hallway (signed in)', url: s.url + '/', cookie: alice.cookie },
    ].filter((p) => !PAGES || PAGES.includes(p.id))
    for (const page of pages) {
      const plain: Result[] = []
      for (let i = 0; i < RUNS; i++) plain.push(await lighthouse(page.url, { cookie: page.cookie }, work))
      const bi = plain.map((r) => r.benchmarkIndex).sort((a, b) => a - b)[Math.floor(RUNS / 2)]!
      const slowdown = calibratedSlowdown(bi)
      const calibrated: Result[] = []
      for (let i = 0; i < RUNS && CALIBRATED; i++)
        calibrated.push(await lighthouse(page.url, { cookie: page.cookie, slowdown }, work))
      const lines: [string, Result[]][] = [[`default 4× CPU (benchmark index ${bi})`, plain]]
      if (CALIBRATED) lines.push([`calibrated ${slowdown.toFixed(1)}× CPU (benchmark index ${bi})`, calibrated])
      for (const [label, rs] of lines) {
        const m = median(rs)
        const runs = rs.map((r) => `${r.score} TBT ${r.metrics['total-blocking-time']} BI ${r.benchmarkIndex}`)
        console.log(
          `${page.name}, ${label}: performance ${m.score} (runs ${runs.join(', ')}); ` +
            `${METRICS.map((k) => `${k} ${m.metrics[k]}`).join(', ')}; ` +
            `${m.requests} requests, ${(m.transfer / 1024).toFixed(1)} KiB transferred`,
        )
      }
    }
  } finally {
    await s.stop()
    rmSync(work, { recursive: true, force: true })
  }
}
