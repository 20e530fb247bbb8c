// Townhall behind Debian's nginx and Caddy, each running the configuration in docs/deploy (placeholders filled in,
// nothing else changed): a WebSocket round trip (101), a 5 MB upload and a sign-in whose audit entry holds the
// client's address (X-Forwarded-For from the proxy, TRUST_PROXY on). The client speaks from 127.0.0.5 so its address
// differs from the proxy's (127.0.0.1). Skipped, with the reason, only where the proxy is not installed or will not
// start (.ci/run installs nginx-light and caddy).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deflateSync } from 'node:zlib'
import { PASSWORD, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { poll, TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

const CLIENT_ADDRESS = '127.0.0.5'
const NGINX = '/usr/sbin/nginx'
const CADDY = '/usr/bin/caddy'
const OPENSSL = '/usr/bin/openssl'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/** An HTTPS request from CLIENT_ADDRESS to the proxy (self-signed certificate); status, headers, body. */
function request(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array | string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        method,
        path,
        localAddress: CLIENT_ADDRESS,
        rejectUnauthorized: false,
        agent: false,
        headers: {
          host: `localhost:${port}`,
          ...headers,
          'content-length': String(body ? Buffer.byteLength(body) : 0),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** A valid PNG of random (incompressible) pixels, a little over `bytes` long. */
function bigPng(bytes: number): Uint8Array {
  const width = 1024
  const height = Math.ceil(bytes / (width * 3))
  const raw = new Uint8Array(height * (width * 3 + 1))
  for (let i = 0; i < raw.length; i += 65536) crypto.getRandomValues(raw.subarray(i, Math.min(i + 65536, raw.length)))
  for (let y = 0; y < height; y++) raw[y * (width * 3 + 1)] = 0 // filter: none
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    return c >>> 0
  })
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length)
    out.writeUInt32BE(data.length, 0)
    out.write(type, 4, 'ascii')
    out.set(data, 8)
    let c = 0xffffffff
    for (const b of out.subarray(4, 8 + data.length)) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8)
    out.writeUInt32BE((c ^ 0xffffffff) >>> 0, 8 + data.length)
    return out
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit RGB
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10])
  return Buffer.concat([
    sig,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 0 })),
    chunk('IEND', new Uint8Array()),
  ])
}

interface Proxy {
  name: string
  /** Starts the proxy on `port` in front of `upstream`; returns the child, or a reason it cannot run. */
  start(dir: string, port: number, upstream: string): Promise<ChildProcess | string>
}

/** The documented file with its placeholders filled in. */
async function render(file: string, values: Record<string, string>) {
  let text = await Bun.file(file).text()
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{{${k}}}`, v)
  expect(text).not.toContain('{{')
  return text
}

const nginx: Proxy = {
  name: 'nginx',
  async start(dir, port, upstream) {
    if (!existsSync(NGINX)) return 'nginx is not installed (apt-get install nginx-light)'
    const cert = join(dir, 'cert.pem'),
      key = join(dir, 'key.pem')
    const made = spawnSync(OPENSSL, [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1'],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', key, '-out', cert],
    ])
    if (made.status !== 0) return `openssl could not make a certificate: ${made.stderr}`
    const site = await render('docs/deploy/nginx.conf', {
      SERVER_NAME: 'localhost',
      LISTEN_HTTP: `127.0.0.1:${await freePort()}`,
      LISTEN_HTTPS: `127.0.0.1:${port}`,
      CERT: cert,
      KEY: key,
      UPSTREAM: upstream,
    })
    writeFileSync(join(dir, 'townhall.conf'), site)
    for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t))
    // The main file a distribution ships, reduced to what a test needs: everything in the temp folder, in front.
    const asRoot = process.getuid?.() === 0 ? 'user root root;' : ''
    writeFileSync(
      join(dir, 'nginx.conf'),
      `${asRoot}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/townhall.conf;
}
`,
    )
    const check = spawnSync(NGINX, ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')])
    if (check.status !== 0) return `nginx -t refused the configuration: ${check.stderr}`
    return spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' })
  },
}

const caddy: Proxy = {
  name: 'caddy',
  async start(dir, port, upstream) {
    if (!existsSync(CADDY)) return 'caddy is not installed (apt-get install caddy)'
    const site = await render('docs/deploy/Caddyfile', { SITE: `localhost:${port}`, UPSTREAM: upstream })
    // Global options a test needs (nothing of the site changes): no admin endpoint, no system trust store, its own
    // storage; "localhost" gets a certificate from Caddy's internal CA.
    const options = [
      'admin off',
      'skip_install_trust',
      `http_port ${await freePort()}`,
      `storage file_system ${dir}/data`,
    ]
    const global = `{\n${options.map((o) => `\t${o}\n`).join('')}}\n\n`
    writeFileSync(join(dir, 'Caddyfile'), global + site)
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'xdg'), XDG_CONFIG_HOME: join(dir, 'xdg') }
    const check = spawnSync(CADDY, ['validate', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env })
    if (check.status !== 0) return `caddy refused the configuration: ${check.stderr}`
    return spawn(CADDY, ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { env, stdio: 'ignore' })
  },
}

for (const proxy of [nginx, caddy]) {
  describe(`behind ${proxy.name} (docs/deploy)`, () => {
    let s: TestServer
    let dir: string
    let port = 0
    let child: ChildProcess | null = null
    let skipped = ''

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), `townhall-${proxy.name}-`))
      port = await freePort()
      s = await startTestServer({ TRUST_PROXY: 'true', PUBLIC_URL: `https://localhost:${port}` })
      const started = await proxy.start(dir, port, `127.0.0.1:${s.port}`)
      if (typeof started === 'string') {
        skipped = started
        console.warn(`proxy test skipped: ${skipped}`)
        return
      }
      child = started
      // Up when it answers over TLS (nginx and Caddy start in well under a second; the limit is generous).
      const up = await poll(
        () =>
          request(port, 'GET', '/healthz', {}).then(
            (r) => r.status,
            () => 0,
          ),
        (status) => status === 200,
        `${proxy.name} answering on ${port}`,
      ).then(
        () => true,
        () => false,
      )
      if (!up) skipped = `${proxy.name} did not start (see ${dir})`
    })
    afterAll(async () => {
      if (child?.pid) process.kill(child.pid, 'SIGTERM')
      await s.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    test(`[H35] ${proxy.name}: a sign-in's audit entry holds the client's address, not the proxy's`, async () => {
      if (skipped) return console.warn(`skipped: ${skipped}`)
      await s.ctx.accounts.service.createAdmin(`${proxy.name}admin`, PASSWORD)
      const origin = `https://localhost:${port}`
      const r = await request(
        port,
        'POST',
        '/api/auth/login',
        { origin, 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.66' },
        JSON.stringify({ username: `${proxy.name}admin`, password: PASSWORD }),
      )
      expect(r.status).toBe(200)
      expect(String(r.headers['set-cookie'])).toStartWith('__Host-th_session=')
      expect(r.headers['x-request-id']).toBeTruthy()
      const entry = (await s.ctx.audit.service.list(Number.MAX_SAFE_INTEGER, 'auth.login', 1))[0]!
      // The address the proxy saw (a forged X-Forwarded-For sent by the client is not what counts).
      expect(JSON.parse(entry.details)).toEqual({ ip: CLIENT_ADDRESS })
    })

    test(`[H35] ${proxy.name}: a WebSocket round trip (101) and a 5 MB upload`, async () => {
      if (skipped) return console.warn(`skipped: ${skipped}`)
      const origin = `https://localhost:${port}`
      const member = await signedInClient(s, `${proxy.name}m`)
      const cookie = member.cookie.replace(/^th_session=/, '__Host-th_session=')
      const before = s.ctx.core.traffic.requests.get('GET /ws 101')?.n ?? 0
      const ws = new WebSocket(`wss://localhost:${port}/ws`, {
        headers: { cookie, origin },
        tls: { rejectUnauthorized: false },
      } as any)
      const frames: any[] = []
      ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)))
      await until(() => frames.some((f) => f.type === 'hello'), 'hello through the proxy')
      expect(frames.find((f) => f.type === 'hello').user.username).toBe(member.user.username)
      ws.send(JSON.stringify({ id: 1, type: 'ping' }))
      await until(() => frames.some((f) => f.re === 1 && f.ok), 'the reply through the proxy')
      ws.close()
      expect(s.ctx.core.traffic.requests.get('GET /ws 101')!.n).toBe(before + 1)

      // A 5 MB image into a thread: past nginx's default 1 MB, within client_max_body_size and MAX_BODY_KB.
      const other = await signedInClient(s, `${proxy.name}o`)
      await other.req('PUT', `/api/users/${member.user.username}/follow`)
      const thread = (await s.ctx.backchannel.service.openDm(member.user.id, other.user.username)).id
      const png = bigPng(5 * 1024 * 1024)
      expect(png.byteLength).toBeGreaterThan(5 * 1024 * 1024)
      const up = await request(
        port,
        'POST',
        `/api/threads/${thread}/images`,
        { origin, cookie, 'content-type': 'image/png' },
        png,
      )
      expect(up.status).toBe(201)
      expect(JSON.parse(up.text).image).toMatchObject({ mime: 'image/png', size: png.byteLength })
    })
  })
}
