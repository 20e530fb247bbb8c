// [W6] Stopping the server closes every socket first (close hooks run while the database is open), then runs the
// domains' cleanup, then closes the database: nothing runs against a closed database afterwards. [H86] A node on
// Redis with members in a live room stops without a failure in its log: the channels its sockets leave are left
// before its Redis connections close.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { signedInClient, startTestServer } from '../helpers/server'
import { connectWs } from '../helpers/ws'
import { TEST_LIMIT } from '../helpers/limits'
import { closeAll, member, roomWith, type Member } from '../helpers/members'
import { startRedis } from '../helpers/redis'

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

test('[H86] a node on Redis stopping with members in a room logs no failure: its unsubscribes end first', async () => {
  const redis = await startRedis()
  if (!redis) return console.warn('shutdown: skipped (redis-server could not start)')
  const lines: string[] = []
  const s = await startTestServer({ REDIS_URL: redis.url, MEDIA_WORKERS: '0' }, { log: (l) => lines.push(l) })
  const people: Member[] = []
  try {
    for (let i = 0; i < 30; i++) people.push(await member(s, 'stopr'))
    // Each socket is on its member's topic and the room's: the stop closes them all, each leaving its channels.
    await roomWith(people[0]!, people.slice(1))
    await s.stop()
    expect(lines.filter((l) => / ERROR /.test(l))).toEqual([])
  } finally {
    closeAll(people)
    await s.stop()
    await redis.stop()
  }
})
