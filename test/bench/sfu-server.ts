// The server side of `bench:sfu`, run as a child process so that its CPU time and RSS can be read from /proc.
// Prints one JSON line {url, origin, pid} when listening; answers "stats" on stdin with a JSON line of media stats.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config'
import { startServer } from '../../server/app'
import { createLogger } from '../../server/lib/log'

const dataDir = mkdtempSync(join(tmpdir(), 'townhall-bench-'))
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
  GUESTS: 'true',
  REGISTRATION: 'open',
  RTC_PORT_MIN: process.env.RTC_PORT_MIN ?? '30000',
  RTC_PORT_MAX: process.env.RTC_PORT_MAX ?? '31999',
})
const big: [number, number] = [1e6, 1e6]
const s = await startServer(config, {
  log: createLogger('error', () => {}),
  limits: { login: big, register: big, inviteLookup: big },
})
await s.ctx.invites.service.register({ username: 'speaker', password: 'bench password 1' })
const media = s.ctx.media.service
media.useStockSender(process.env.SFU_STOCK === '1')
console.log(JSON.stringify({ url: s.url, origin: s.ctx.core.origin(), pid: process.pid }))

const stop = async () => {
  await s.stop()
  rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.on('SIGTERM', stop)
let buf = ''
process.stdin.on('data', (d) => {
  buf += d.toString()
  let i: number
  while ((i = buf.indexOf('\n')) >= 0) {
    const cmd = buf.slice(0, i).trim()
    buf = buf.slice(i + 1)
    if (cmd === 'stats') console.log(JSON.stringify(media.debug()))
    if (cmd === 'quit') void stop()
  }
})
