// The first-run setup link on a cluster (issue 11): two real `townhall serve` nodes behind one public address (the
// load balancer's, PUBLIC_URL) on one Redis and one Postgres, with no admin yet. Both print the same link; the link
// node A printed works on node B, once: two setups with it at once, one on each node, make exactly one admin.
// Skips with a message where redis-server or Postgres cannot start.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Subprocess } from 'bun'
import { join } from 'node:path'
import { missing } from '../helpers/cluster'
import { TEST_LIMIT, until } from '../helpers/limits'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { freePort, startRedis, type TestRedis } from '../helpers/redis'
import { Client } from '../helpers/server'

setDefaultTimeout(TEST_LIMIT)

const MAIN = join(import.meta.dir, '..', '..', 'server', 'main.ts')
const PUBLIC = 'https://townhall.example'
const PASSWORD = 'correct horse battery'

interface PrintingNode {
  proc: Subprocess<'ignore', 'pipe', 'inherit'>
  url: string
  /** What the node printed up to its setup link (or its exit). */
  out: string
}

let redis: TestRedis | null = null
let pg: TestPostgres | null = null
const nodes: PrintingNode[] = []

/** A `townhall serve` child whose standard output is read until it prints its setup link. */
async function startPrinting(env: Record<string, string>): Promise<PrintingNode> {
  const port = await freePort()
  const proc = Bun.spawn([process.execPath, MAIN, 'serve'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      RTC_PORT: String(await freePort()),
      MEDIA_WORKERS: '0',
      LOG_LEVEL: 'warn',
      PUBLIC_URL: PUBLIC,
      ...env,
    },
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const node: PrintingNode = { proc, url: `http://127.0.0.1:${port}`, out: '' }
  nodes.push(node)
  const reader = proc.stdout.getReader()
  while (!/\/setup\/\S+\n/.test(node.out)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`serve ended: ${node.out}`)
    node.out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  await until(
    async () => (await fetch(`${node.url}/healthz`).catch(() => null))?.status === 200,
    `node on ${port} answering /healthz`,
  )
  return node
}

const linkOf = (n: PrintingNode) => /(\S+)\/setup\/(\S+)/.exec(n.out)
const client = (n: PrintingNode) => new Client({ url: n.url, origin: PUBLIC })

const skipped = () => missing('cluster-setup-link', redis, pg)

beforeAll(async () => {
  ;[redis, pg] = await Promise.all([startRedis(), startPostgres()])
})

afterAll(async () => {
  for (const n of nodes) {
    if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill('SIGKILL')
    await n.proc.exited
  }
  await redis?.stop()
  await pg?.stop()
})

test('[A35] every node prints the same setup link; the one node A printed works on node B, once', async () => {
  if (skipped()) return
  const shared = { REDIS_URL: redis!.url, DATABASE_URL: await pg!.database('cluster_setup') }
  const [a, b] = await Promise.all([startPrinting(shared), startPrinting(shared)])
  const fromA = linkOf(a)!
  const fromB = linkOf(b)!
  expect(fromA[1]).toBe(PUBLIC)
  expect(fromB[0]).toBe(fromA[0])
  const token = fromA[2]!
  expect(token).toMatch(/^[A-Za-z0-9_-]{20,}$/)
  // Both nodes accept it, and neither accepts another.
  for (const n of [a, b]) {
    expect((await client(n).get(`/api/setup/${token}`)).json).toEqual({ needed: true, valid: true })
    expect((await client(n).get(`/api/setup/x${token}`)).json).toEqual({ needed: true, valid: false })
  }
  const wrong = await client(b).post('/api/setup', { token: `x${token}`, username: 'owner', password: PASSWORD })
  expect(wrong.json.error.code).toBe('setup_token_invalid')

  // A's link used on B and on A at once: one admin, the other refused.
  const [onB, onA] = await Promise.all([
    client(b).post('/api/setup', { token, username: 'owner_b', password: PASSWORD }),
    client(a).post('/api/setup', { token, username: 'owner_a', password: PASSWORD }),
  ])
  const statuses = [onB.status, onA.status].sort()
  expect(statuses).toEqual([201, 409])
  const [won, lost] = onB.status === 201 ? [onB, onA] : [onA, onB]
  expect(won.json.user).toMatchObject({ role: 'admin' })
  expect(lost.json.error.code).toBe('setup_done')

  // Used: refused on both nodes.
  for (const n of [a, b]) {
    const again = await client(n).post('/api/setup', { token, username: 'owner_c', password: PASSWORD })
    expect(again.json.error.code).toBe('setup_done')
    expect((await client(n).get(`/api/setup/${token}`)).json).toEqual({ needed: false, valid: false })
  }
  // The admin signs in on the other node too (one account in Postgres).
  const admin = won.json.user.username as string
  const other = onB.status === 201 ? a : b
  const signIn = await client(other).post('/api/auth/login', { username: admin, password: PASSWORD })
  expect(signIn.status).toBe(200)
})
