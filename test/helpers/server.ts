// A real Townhall for a test: its own data folder, port 0, real SQLite. Clients speak real HTTP and WebSocket.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config'
import { startServer, type Running } from '../../server/app'
import { createLogger } from '../../server/lib/log'
import type { LimitSettings, PasswordCost } from '../../server/core'

export interface TestServer extends Running {
  dataDir: string
  origin: string
}

const LOOSE: LimitSettings = { login: [1e6, 1e6], register: [1e6, 1e6], inviteLookup: [1e6, 1e6] }
/**
 * argon2id at 1 MiB and one pass: a test makes hundreds of members, each hashed at sign-up and verified at sign-in;
 * at the server's own cost (64 MiB, 2 passes) that is seconds each on a busy machine. Still a real argon2id hash.
 */
export const TEST_PASSWORD_COST: PasswordCost = { memoryCost: 1024, timeCost: 1 }

export async function startTestServer(
  env: Record<string, string> = {},
  /** passwordCost: 'server' hashes at the server's own cost (what a test of that cost needs). */
  opts: {
    limits?: Partial<LimitSettings>
    keepDir?: string
    passwordCost?: 'server'
    /** Every line the server logs, from info up (the tests that read its log); else errors only, to TEST_LOG. */
    log?: (line: string) => void
  } = {},
): Promise<TestServer> {
  const dataDir = opts.keepDir ?? mkdtempSync(join(tmpdir(), 'townhall-test-'))
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'error', ...env })
  // Every reply and event the server sends is checked against the protocol's schemas; stop() fails on a mismatch.
  const running = await startServer(config, {
    limits: { ...LOOSE, ...opts.limits },
    log: opts.log
      ? createLogger('info', opts.log)
      : createLogger('error', process.env.TEST_LOG ? (l: string) => console.error(l) : () => {}),
    checkProtocol: true,
    ...(opts.passwordCost === 'server' ? {} : { passwordCost: TEST_PASSWORD_COST }),
  })
  const stop = running.stop
  return {
    ...running,
    dataDir,
    origin: running.ctx.core.origin(),
    async stop() {
      await stop()
      if (!opts.keepDir) rmSync(dataDir, { recursive: true, force: true })
      const wrong = running.ctx.hub.protocolCheck?.violations ?? []
      if (wrong.length) throw new Error(`the server sent what the protocol does not describe:\n${wrong.join('\n')}`)
    },
  }
}

/** An HTTP client with a cookie jar that sends the site's Origin like a browser would. */
export class Client {
  cookie = ''
  constructor(readonly server: { url: string; origin: string }) {}

  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const h: Record<string, string> = { origin: this.server.origin, ...headers }
    if (this.cookie) h.cookie = this.cookie
    let payload: BodyInit | undefined
    if (typeof body === 'string' || body instanceof Uint8Array || body instanceof Blob) payload = body as BodyInit
    else if (body !== undefined) {
      payload = JSON.stringify(body)
      h['content-type'] ??= 'application/json'
    }
    const res = await fetch(this.server.url + path, { method, headers: h, body: payload, redirect: 'manual' })
    const set = res.headers.get('set-cookie')
    if (set) this.cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!
    const text = await res.text()
    let json: any = null
    try {
      json = JSON.parse(text)
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, text, headers: res.headers }
  }
  get(path: string) {
    return this.req('GET', path)
  }
  post(path: string, body: unknown = {}) {
    return this.req('POST', path, body)
  }
  put(path: string, body: unknown = {}) {
    return this.req('PUT', path, body)
  }
  patch(path: string, body: unknown) {
    return this.req('PATCH', path, body)
  }
  del(path: string) {
    return this.req('DELETE', path)
  }
}

export const PASSWORD = 'correct horse battery'

/** Creates a member (or admin) directly and signs them in over HTTP. */
export async function signedInClient(s: TestServer, username: string, role: 'member' | 'admin' = 'member') {
  if (role === 'admin') await s.ctx.accounts.service.createAdmin(username, PASSWORD)
  else {
    const mode = s.ctx.core.settings.get().registration
    await s.ctx.core.settings.update({ registration: 'open' })
    await s.ctx.invites.service.register({ username, password: PASSWORD })
    await s.ctx.core.settings.update({ registration: mode })
  }
  const c = new Client(s)
  const r = await c.post('/api/auth/login', { username, password: PASSWORD })
  if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${r.text}`)
  return Object.assign(c, { user: r.json.user as { id: number; username: string } })
}

/** Signs an existing member in again: a new session (a second device). */
export async function signIn(s: TestServer, username: string, password = PASSWORD) {
  const c = new Client(s)
  const r = await c.post('/api/auth/login', { username, password })
  if (r.status !== 200) throw new Error(`login of ${username} failed: ${r.status} ${r.text}`)
  return Object.assign(c, { user: r.json.user as { id: number; username: string } })
}
