// [W6] Stopping the server closes every socket first (close hooks run while the database is open), then runs the
// domains' cleanup, then closes the database: nothing runs against a closed database afterwards.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { signedInClient, startTestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

test('[W6] stop() closes the sockets, then cleans up, then closes the database', async () => {
  const s = await startTestServer()
  const alice = await signedInClient(s, 'alice')
  const bob = await signedInClient(s, 'bob')
  await bob.put('/api/users/alice/follow')
  const wsA = await connectWs(s.url, { cookie: alice.cookie, origin: s.origin })
  const wsB = await connectWs(s.url, { cookie: bob.cookie, origin: s.origin })
  const order: string[] = []
  s.ctx.hub.onClose((c) => {
    // A close hook still reads the database.
    order.push(`close:${s.ctx.accounts.api.byId(c.user!.id)!.username}`)
  })
  // The domains stop after the sockets closed (their close hooks ran first).
  const mediaStop = s.ctx.media.stop!
  Object.assign(s.ctx.media, {
    stop: () => {
      order.push(`stop:${s.ctx.hub.stats().connections}`)
      return mediaStop()
    },
  })
  await s.stop()
  expect(order.slice(0, 2).sort()).toEqual(['close:alice', 'close:bob'])
  expect(order.slice(2)).toEqual(['stop:0'])
  expect((await wsA.waitClosed()).code).toBe(1001)
  expect((await wsB.waitClosed()).code).toBe(1001)
  expect(s.ctx.hub.stats().connections).toBe(0)
})
