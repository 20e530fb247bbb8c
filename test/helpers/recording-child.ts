// A Townhall server in a child process on a data folder the test keeps (DATA_DIR), for the recorder's crash test: the
// test SIGKILLs it while a room is recorded, then starts another on the same folder. The member `speaker` (password
// "child password 1") is made on the first start. Prints one JSON line {url, origin} when listening; stops on "quit".
import { startServer } from '../../server/app'
import { loadConfig } from '../../server/config'
import { createLogger } from '../../server/lib/log'

const config = loadConfig({
  PORT: '0',
  HOST: '127.0.0.1',
  DATA_DIR: process.env.DATA_DIR!,
  LOG_LEVEL: 'error',
  REGISTRATION: 'open',
  MEDIA_WORKERS: '0',
})
const s = await startServer(config, { log: createLogger('error', (l) => console.error(l)) })
if (!s.ctx.accounts.api.byName('speaker'))
  await s.ctx.invites.service.register({ username: 'speaker', password: 'child password 1' })
console.log(JSON.stringify({ url: s.url, origin: s.ctx.core.origin() }))

process.stdin.on('data', (d) => {
  if (d.toString().includes('quit')) {
    setTimeout(() => process.exit(1), 20_000).unref()
    void s.stop().then(() => process.exit(0))
  }
})
