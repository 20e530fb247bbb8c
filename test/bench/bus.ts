// `bun run bench:bus`: what the bus on Redis costs per event, against the in-process hub. Two nodes (two hubs, two
// Redis buses) in this process on a redis-server of its own; node A publishes, node B holds 10 connections (sockets
// that count what they are sent). Prints, per event with its 10 deliveries: the CPU of both nodes together (this
// process), the CPU of redis-server, and the rate. Bounded: 20,000 events per case, a minute at most per case.
import { readFileSync } from 'node:fs'
import { createLogger } from '../../server/lib/log'
import type { ServerEvent } from '../../server/protocol'
import type { Bus } from '../../server/realtime/bus'
import { Hub } from '../../server/realtime/hub'
import { RedisNode } from '../../server/realtime/redis'
import { RedisBus } from '../../server/realtime/redis-bus'
import { startRedis } from '../helpers/redis'

const N = 20_000
const FANOUT = 10
const log = createLogger('error', () => {})
const redis = await startRedis()
if (!redis) {
  console.log('bench:bus: skipped (redis-server cannot start)')
  process.exit(0)
}

/** redis-server's CPU time so far, in µs (utime + stime from /proc, in clock ticks of 10 ms). */
const redisCpu = () => {
  const f = readFileSync(`/proc/${redis.pid()}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) * 10_000
}

let delivered = 0
const raw = {
  send: (d: string) => {
    delivered++
    return d.length
  },
  close() {},
}
const event = {
  type: 'bc.message',
  seq: 1,
  message: { id: 1, threadId: 1, body: 'a short message of a typical length, with a few words', createdAt: 0 },
} as unknown as ServerEvent

async function node(prefix: string) {
  const hub = new Hub(log)
  const r = new RedisNode(redis!.url, crypto.randomUUID(), log, { prefix })
  const bus = new RedisBus(hub, r)
  await r.start()
  await bus.start()
  return { hub, r, bus }
}

async function measure(name: string, from: Bus, to: { hub: Hub; bus: Bus }, send: (bus: Bus, users: number[]) => void) {
  const { hub } = to
  const users = Array.from({ length: FANOUT }, (_, i) => 1000 + i)
  const conns = users.map((id) => hub.open(raw, { id, username: `u${id}`, role: 'member' }, null))
  for (const c of conns) to.bus.subscribe(c.id, 'room:1')
  delivered = 0
  if (to.bus instanceof RedisBus) await to.bus.settled()
  delivered = 0
  const r0 = redisCpu()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    send(from, users)
    if (i % 500 === 499) await Bun.sleep(0)
  }
  while (delivered < N * FANOUT && performance.now() - t0 < 60_000) await Bun.sleep(1)
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(c0)
  const rc = redisCpu() - r0
  for (const c of conns) hub.close(c)
  console.log(
    `${name.padEnd(38)} ${((cpu.user + cpu.system) / N).toFixed(1).padStart(6)} µs nodes  ` +
      `${(rc / N).toFixed(1).padStart(5)} µs redis  ${Math.round(N / (ms / 1000))
        .toString()
        .padStart(6)} events/s  delivered ${delivered}/${N * FANOUT}`,
  )
}

console.log(`bench:bus: ${N} events, each to ${FANOUT} connections (CPU per event)`)
const local = new Hub(log)
const here = { hub: local, bus: local }
await measure('in process: publish(room)', local, here, (b) => b.publish('room:1', event))
await measure('in process: toUsers(10)', local, here, (b, u) => b.toUsers(u, event))
const a = await node('bench:')
const b = await node('bench:')
// The publisher is node A, the subscribers on node B (subscribed through B's Redis bus).
await measure('redis, A → B: publish(room)', a.bus, b, (bus) => bus.publish('room:1', event))
await measure('redis, A → B: toUsers(10 members)', a.bus, b, (bus, u) => bus.toUsers(u, event))
await measure('redis, A → B: toUsers(1 member) × 10', a.bus, b, (bus, u) => {
  for (const id of u) bus.toUsers([id], event)
})
await a.r.stop()
await b.r.stop()
await redis.stop()
