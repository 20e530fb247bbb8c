// Durability: the real server in a child process is killed with SIGKILL in the middle of a burst of sends; after a
// restart on the same data folder, every message that had been acknowledged is there, once.
import { afterAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, PASSWORD } from '../helpers/server'
import { connectWs, type WsClient } from '../helpers/ws'
import { TEST_LIMIT, until } from '../helpers/limits'
import { freePort } from '../helpers/redis'

setDefaultTimeout(TEST_LIMIT)

const ROOT = join(import.meta.dir, '..', '..')
const dataDir = mkdtempSync(join(tmpdir(), 'townhall-durability-'))
// A port free now (the OS picks it, so not another test's), kept across the restart.
const port = await freePort()
const server = { url: `http://127.0.0.1:${port}`, origin: `http://localhost:${port}` }
let proc: ReturnType<typeof Bun.spawn> | null = null
const sockets: WsClient[] = []

async function start() {
  proc = Bun.spawn([process.execPath, 'server/main.ts', 'serve'], {
    cwd: ROOT,
    stdout: 'ignore',
    stderr: 'ignore',
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'error',
      REGISTRATION: 'open',
    },
  })
  for (let i = 0; i < 600; i++) {
    // A child that exited (the port taken meanwhile) is not up, whatever answers on the port.
    if (proc.exitCode !== null) throw new Error(`the server exited (${proc.exitCode})`)
    try {
      if ((await fetch(`${server.url}/healthz`)).ok) return
    } catch {
      /* not up yet */
    }
    await Bun.sleep(100)
  }
  throw new Error('server did not start')
}

afterAll(async () => {
  for (const s of sockets) s.close()
  proc?.kill('SIGKILL')
  await proc?.exited
  rmSync(dataDir, { recursive: true, force: true })
})

async function member(name: string) {
  const c = new Client(server)
  const r = await c.post('/api/auth/register', { username: name, password: PASSWORD })
  if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${r.text}`)
  return Object.assign(c, { id: r.json.user.id as number })
}
const ws = async (c: Client) => {
  const w = await connectWs(server.url, { cookie: c.cookie, origin: server.origin })
  sockets.push(w)
  return w
}

test(
  '[B8] [B49] SIGKILL in the middle of a burst: every acknowledged message survives the restart, none twice, ' +
    'and is in the search index before any search',
  async () => {
    await start()
    const alice = await member('alice_d'),
      bob = await member('bob_d')
    await bob.put('/api/users/alice_d/follow')
    const TABS = 16
    const tabs = await Promise.all(Array.from({ length: TABS }, () => ws(alice)))
    const threadId = (await tabs[0]!.request('bc.dm', { username: 'bob_d' })).thread.id
    const acked = new Map<string, number>()
    const PER_TAB = 80 // over ~1.2 s: within the per-socket burst and rate
    let n = 0
    // Every tab streams its sends without waiting for replies; acknowledgements are recorded as they come.
    const sends: Promise<void>[] = []
    const stream = (async () => {
      for (let i = 0; i < PER_TAB && proc && !proc.killed; i++) {
        tabs.forEach((t, ti) => {
          const clientId = `t${ti}-m${i}`
          sends.push(
            t.request('bc.send', { threadId, clientId, body: `burst ${ti}/${i}` }).then(
              (r) => {
                if (r.ok) {
                  acked.set(clientId, r.message.id)
                  n++
                }
              },
              () => {
                /* no answer: the server died first */
              },
            ),
          )
        })
        await Bun.sleep(15)
      }
    })()
    // Kill once some (but not all) acknowledgements arrived.
    const total = tabs.length * PER_TAB
    await until(() => n >= 300, 'three hundred acknowledgements')
    proc!.kill('SIGKILL')
    await proc!.exited
    await stream
    // Once a tab has seen its socket close, every reply the server had sent it has been read: the rest never come.
    await Promise.all(tabs.map((t) => t.waitClosed()))
    const ackedAtKill = new Map(acked)
    expect(ackedAtKill.size).toBeGreaterThan(0)
    expect(ackedAtKill.size).toBeLessThan(total) // killed mid-burst

    await start()
    const again = new Client(server)
    await again.post('/api/auth/login', { username: 'bob_d', password: PASSWORD })
    const w = await ws(again)
    const stored: any[] = []
    let after = 0
    for (;;) {
      const r = await w.request('bc.sync', { after, limit: 500 })
      stored.push(...r.messages)
      after = r.seq
      if (!r.more) break
    }
    const byClient = new Map(stored.map((m) => [m.clientId, m]))
    for (const [clientId, id] of ackedAtKill) {
      expect(byClient.get(clientId)?.id).toBe(id)
    }
    expect(new Set(stored.map((m) => m.clientId)).size).toBe(stored.length)
    // The search index is written after each batch's commit (within 250 ms): the kill may fall between the two. The
    // restart indexed what it missed before anything searched: every stored message is in it, read from the file.
    const db = new Database(join(dataDir, 'townhall.db'), { readonly: true })
    try {
      const indexed = db
        .query<{ id: number }, []>("SELECT rowid AS id FROM bc_fts WHERE bc_fts MATCH 'burst' ORDER BY rowid")
        .all()
        .map((r) => r.id)
      expect(indexed).toEqual(stored.map((m) => m.id).sort((a, b) => a - b))
      expect(db.query('SELECT indexed FROM bc_fts_mark').get()).toEqual({ indexed: Math.max(...indexed) })
    } finally {
      db.close()
    }
    expect((await w.request('bc.search', { q: 'burst' })).results.length).toBeGreaterThan(0)
    console.log(
      `durability: ${ackedAtKill.size} of ${total} acknowledged before SIGKILL, ${stored.length} stored after restart`,
    )
    // A client retrying the unacknowledged ones after the restart gets each stored exactly once.
    const aliceAgain = new Client(server)
    await aliceAgain.post('/api/auth/login', { username: 'alice_d', password: PASSWORD })
    const missing = tabs
      .flatMap((_, ti) => Array.from({ length: PER_TAB }, (_, i) => `t${ti}-m${i}`))
      .filter((c) => !ackedAtKill.has(c))
    const retryTabs = await Promise.all(Array.from({ length: Math.ceil(missing.length / 50) }, () => ws(aliceAgain)))
    const retried = await Promise.all(
      missing.map((clientId, k) =>
        retryTabs[k % retryTabs.length]!.request('bc.send', { threadId, clientId, body: 'retry' }),
      ),
    )
    expect(retried.every((r) => r.ok)).toBe(true)
    const count = await w.request('bc.history', { threadId, limit: 100 })
    expect(count.ok).toBe(true)
    let all = 0
    let before: number | undefined
    const seen = new Set<string>()
    for (;;) {
      const h = await w.request('bc.history', { threadId, limit: 100, ...(before ? { before } : {}) })
      for (const m of h.messages) seen.add(m.clientId)
      all += h.messages.length
      if (!h.more) break
      before = h.messages[0].id
    }
    expect(all).toBe(total)
    expect(seen.size).toBe(total)
  },
)
