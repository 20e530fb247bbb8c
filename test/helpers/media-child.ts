// A Townhall server in a child process, for the test that the media plane goes on while the server's main thread is
// blocked (M62): the test's bots must keep running while this process's main thread is busy. Prints one JSON line
// {url, origin} when listening; "block <ms>" holds the main thread that long and answers {from, to} (epoch ms);
// stops on "quit" or when its stdin closes. MEDIA_WORKERS comes from the environment.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from '../../server/app'
import { loadConfig } from '../../server/config'
import { createLogger } from '../../server/lib/log'

const dataDir = mkdtempSync(join(tmpdir(), 'townhall-child-'))
const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'error',
  GUESTS: 'true',
  REGISTRATION: 'open',
  MEDIA_WORKERS: process.env.MEDIA_WORKERS ?? 'auto',
})
const s = await startServer(config, { log: createLogger('error', (l) => console.error(l)) })
await s.ctx.invites.service.register({ username: 'speaker', password: 'child password 1' })
console.log(JSON.stringify({ url: s.url, origin: s.ctx.core.origin() }))

const stop = async () => {
  setTimeout(() => process.exit(1), 20_000).unref()
  await s.stop().catch(() => {})
  rmSync(dataDir, { recursive: true, force: true })
  process.exit(0)
}
process.stdin.on('end', stop)
let buf = ''
process.stdin.on('data', (d) => {
  buf += d.toString()
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const [cmd, arg] = buf.slice(0, i).trim().split(' ')
    buf = buf.slice(i + 1)
    if (cmd === 'quit') void stop()
    if (cmd === 'block') {
      const from = Date.now()
      while (Date.now() - from < Number(arg)) {
        // the main thread is busy: no timer, no socket, no message of the media worker's is handled here
      }
      console.log(JSON.stringify({ from, to: Date.now() }))
    }
  }
})
