// The hub's member topics (bus.toMembers, issue 11) with sockets that record what they were sent and subscribed to:
// the topic follows the members it is given, every tab of theirs (also one opened later) is subscribed, and one no
// longer a member is unsubscribed before the event goes out; published natively when a server is attached.
import { expect, setDefaultTimeout, test } from 'bun:test'
import { Hub, type RawSocket } from '../../server/realtime/hub'
import { createLogger } from '../../server/lib/log'
import type { ServerEvent } from '../../server/protocol'
import { TEST_LIMIT } from '../helpers/limits'

setDefaultTimeout(TEST_LIMIT)

class Sock implements RawSocket {
  sent: string[] = []
  topics = new Set<string>()
  send(data: string) {
    this.sent.push(data)
    return data.length
  }
  close() {}
  subscribe(t: string) {
    this.topics.add(t)
  }
  unsubscribe(t: string) {
    this.topics.delete(t)
  }
}
const user = (id: number) => ({ id, username: `u${id}`, role: 'member' as const })
const typing = (n: number): ServerEvent => ({ type: 'bc.typing', threadId: 1, userId: n, username: `u${n}` })
const got = (s: Sock) =>
  s.sent
    .map((x) => JSON.parse(x))
    .filter((m) => m.type === 'bc.typing')
    .map((m) => m.userId)

test('[B1] a member topic holds the members given: their tabs, one opened later too; one removed is out', () => {
  const hub = new Hub(createLogger('error', () => {}))
  const [a1, a2, b1, c1] = [new Sock(), new Sock(), new Sock(), new Sock()]
  hub.open(a1, user(1), 1)
  hub.open(b1, user(2), 2)
  hub.open(c1, user(3), 3)
  const members = [1, 2]
  hub.toMembers('thread:1', members, typing(1))
  expect([a1, b1, c1].map((s) => [...s.topics].includes('thread:1'))).toEqual([true, true, false])
  expect([got(a1), got(b1), got(c1)]).toEqual([[1], [1], []])
  // A tab opened later joins the topics of its member.
  hub.open(a2, user(1), 4)
  expect(a2.topics.has('thread:1')).toBe(true)
  hub.toMembers('thread:1', members, typing(2))
  expect(got(a2)).toEqual([2])
  // The members change (a new array): 2 leaves, 3 comes; before the event goes out.
  hub.toMembers('thread:1', [1, 3], typing(3))
  expect([a1, a2, b1, c1].map((s) => s.topics.has('thread:1'))).toEqual([true, true, false, true])
  expect([got(a1), got(b1), got(c1)]).toEqual([[1, 2, 3], [1, 2], [3]])
  // Nobody left: the topic goes.
  hub.toMembers('thread:1', [], typing(4))
  expect([a1, a2, c1].map((s) => s.topics.has('thread:1'))).toEqual([false, false, false])
})

test('[B1] with a server attached, a member topic is published once through it, to its subscribers', () => {
  const hub = new Hub(createLogger('error', () => {}))
  const subscribers = new Map<string, Set<Sock>>()
  const published: [string, string][] = []
  const sock = () => {
    const s = new Sock()
    s.subscribe = (t) => {
      s.topics.add(t)
      subscribers.set(t, (subscribers.get(t) ?? new Set()).add(s))
    }
    s.unsubscribe = (t) => {
      s.topics.delete(t)
      subscribers.get(t)?.delete(s)
    }
    return s
  }
  hub.useNative({
    publish: (topic, data) => {
      published.push([topic, data])
      for (const s of subscribers.get(topic) ?? []) s.send(data)
      return data.length
    },
    subscriberCount: (topic) => subscribers.get(topic)?.size ?? 0,
  })
  const [a, b] = [sock(), sock()]
  hub.open(a, user(1), 1)
  hub.open(b, user(2), 2)
  const before = hub.stats().messagesOut
  hub.toMembers('thread:7', [1, 2], typing(1))
  expect(published.map(([t]) => t)).toEqual(['thread:7'])
  expect([got(a), got(b)]).toEqual([[1], [1]])
  expect(hub.stats().messagesOut - before).toBe(2)
  // Removed, then nothing: not published to them, and not counted.
  hub.toMembers('thread:7', [1], typing(2))
  expect([got(a), got(b)]).toEqual([[1, 2], [1]])
})

test('[B1] member topics do not pile up: past 20,000 they are dropped and made again on their next event', () => {
  const hub = new Hub(createLogger('error', () => {}))
  const a = new Sock()
  hub.open(a, user(1), 1)
  const members = [1]
  for (let i = 1; i <= 20_000; i++) hub.toMembers(`thread:${i}`, members, typing(1))
  expect(a.topics.size).toBe(20_000)
  hub.toMembers('thread:20001', members, typing(2))
  expect([...a.topics]).toEqual(['thread:20001'])
  // An old thread's next event: its topic again, and it arrives.
  hub.toMembers('thread:1', members, typing(3))
  expect(a.topics.has('thread:1')).toBe(true)
  expect(got(a).slice(-2)).toEqual([2, 3])
})

test('[W1] replies of one turn leave in one corked write per socket, in order with the events around', async () => {
  const hub = new Hub(createLogger('error', () => {}))
  // A socket that corks like Bun's: what is sent inside cork() is one write; outside, each send is one.
  class Corking extends Sock {
    writes: string[][] = []
    private batch: string[] | null = null
    override send(data: string) {
      super.send(data)
      if (this.batch) this.batch.push(data)
      else this.writes.push([data])
      return data.length
    }
    cork(fn: () => void) {
      this.batch = []
      fn()
      this.writes.push(this.batch)
      this.batch = null
    }
  }
  const published: string[] = []
  hub.useNative({
    publish: (_topic, data) => {
      published.push(data)
      return data.length
    },
    subscriberCount: () => 1,
  })
  hub.handle('ping', () => ({ now: 1 }))
  const a = new Corking()
  const conn = hub.open(a, user(1), 1)
  await Promise.resolve()
  a.writes.length = 0
  // Three requests of one turn, each answered after a few awaits (as a batch's acknowledgements are), and an event
  // to the member in between: the replies and the event leave in one write, in the order they were made.
  const slow = async (id: number) => {
    for (let i = 0; i < 3; i++) await Promise.resolve()
    return hub.message(conn, { id, type: 'ping' })
  }
  const done = Promise.all([slow(1), slow(2), slow(3)])
  hub.toUsers([1], typing(9))
  await done
  await Promise.resolve()
  const frames = a.writes.map((w) => w.map((x) => JSON.parse(x)).map((m) => m.re ?? m.type))
  expect(frames).toEqual([['bc.typing'], [1, 2, 3]])
  expect(a.sent.map((x) => JSON.parse(x)).map((m) => m.re ?? m.type)).toEqual(['hello', 'bc.typing', 1, 2, 3])
  // A frame held when a native publish starts is written first (what was said first arrives first).
  void hub.message(conn, { id: 4, type: 'ping' })
  await Promise.resolve()
  hub.toMembers('thread:1', [1], typing(8))
  expect(a.writes.at(-1)!.map((x) => JSON.parse(x).re)).toEqual([4])
  expect(published).toHaveLength(1)
})
