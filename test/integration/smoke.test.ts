import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { Client, signedInClient, startTestServer, type TestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT, until } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

let s: TestServer
beforeAll(async () => {
  s = await startTestServer()
})
afterAll(() => s.stop())

test('[H1] /healthz reports status, version and the database', async () => {
  const r = await new Client(s).get('/healthz')
  expect(r.status).toBe(200)
  expect(r.json).toMatchObject({ status: 'ok', database: 'ok' })
  expect(r.json.version).toMatch(/^\d+\.\d+\.\d+/)
})

test('[W1] the gateway greets a signed-in member and answers every request once', async () => {
  const alice = await signedInClient(s, 'alice')
  const ws = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  expect(ws.hello.user.username).toBe('alice')
  const pong = await ws.request('ping')
  expect(pong.ok).toBe(true)
  const unknown = await ws.requestUnchecked('no.such.thing')
  expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_message' } })
  ws.raw('not json')
  await until(() => ws.replies.length === 3, 'the reply to a frame that is not JSON')
  expect(ws.replies.at(-1)).toMatchObject({ re: null, ok: false, error: { code: 'bad_frame' } })
  ws.close()
})

test('[W2] the gateway refuses a foreign Origin and a missing session', async () => {
  const alice = await signedInClient(s, 'alice2')
  await expect(connectWs(s.url, { cookie: alice.cookie, origin: 'https://evil.example' })).rejects.toThrow()
  await expect(connectWs(s.url, { origin: s.origin })).rejects.toThrow()
})
