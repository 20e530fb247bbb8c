// The server side of `bench:sfu`, run as a child process so that its CPU time and RSS can be read from /proc.
// Prints one JSON line {url, origin, pid} when listening; answers "stats" on stdin with a JSON line of media stats;
// stops on "quit", on SIGTERM/SIGINT, and when its stdin closes (the bench is gone, whatever happened to it).
// No media budget (MEDIA_MAX_*=0) unless the environment sets one. bench:relay runs two on one Redis and one data
// folder: BENCH_DATA_DIR (kept), REDIS_URL, MEDIA_EDGE, and BENCH_USERS=0 on the second (the members exist).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config'
import { startServer } from '../../server/app'
import { createLogger } from '../../server/lib/log'

const shared = process.env.BENCH_DATA_DIR
const dataDir = shared ?? mkdtempSync(join(tmpdir(), 'townhall-bench-'))
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
  GUESTS: 'true',
  REGISTRATION: 'open',
  MEDIA_MAX_LISTENERS: process.env.MEDIA_MAX_LISTENERS ?? '0',
  MEDIA_ROOM_MAX_LISTENERS: process.env.MEDIA_ROOM_MAX_LISTENERS ?? '0',
  MEDIA_MAX_PPS: process.env.MEDIA_MAX_PPS ?? '0',
  // The burst (M57–M59): the gate and the cap on peers connecting at once, the server's defaults unless set.
  ...(process.env.MEDIA_WORKERS ? { MEDIA_WORKERS: process.env.MEDIA_WORKERS } : {}),
  ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  ...(process.env.MEDIA_EDGE ? { MEDIA_EDGE: process.env.MEDIA_EDGE } : {}),
  ...(process.env.MEDIA_HANDSHAKES ? { MEDIA_HANDSHAKES: process.env.MEDIA_HANDSHAKES } : {}),
  ...(process.env.MEDIA_MAX_CONNECTING ? { MEDIA_MAX_CONNECTING: process.env.MEDIA_MAX_CONNECTING } : {}),
})
const big: [number, number] = [1e6, 1e6]
const s = await startServer(config, {
  log: createLogger('error', () => {}),
  limits: { login: big, register: big, inviteLookup: big },
})
// The speaker, and two members who send each other a message during the largest N (the isolation figure).
if (process.env.BENCH_USERS !== '0')
  for (const username of ['speaker', 'alice', 'bob'])
    await s.ctx.invites.service.register({ username, password: 'bench password 1' })
const media = s.ctx.media.service
media.useStockSender(process.env.SFU_STOCK === '1')
console.log(JSON.stringify({ url: s.url, origin: s.ctx.core.origin(), pid: process.pid }))

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  // A server that cannot stop within 20 s (a saturated loop) is left by exiting anyway.
  setTimeout(() => {
    if (!shared) rmSync(dataDir, { recursive: true, force: true })
    process.exit(1)
  }, 20_000).unref()
  await s.stop().catch(() => {})
  if (!shared) rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
let buf = ''
process.stdin.on('data', (d) => {
  buf += d.toString()
  let i: number
  while ((i = buf.indexOf('\n')) >= 0) {
    const cmd = buf.slice(0, i).trim()
    buf = buf.slice(i + 1)
    if (cmd === 'stats') void media.debug().then((d) => console.log(JSON.stringify(d)))
    if (cmd === 'quit') void stop()
  }
})
