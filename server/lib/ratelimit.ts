/** A limiter sweeps itself after this many takes (the server's minute timer sweeps the shared ones too). */
const SWEEP_EVERY = 256

/** Refills a bucket for the time since its last take, then takes `cost`: 0 when allowed, else the seconds to wait. */
function takeFrom(b: { tokens: number; at: number }, capacity: number, perSecond: number, cost: number, now: number) {
  b.tokens = Math.min(capacity, b.tokens + ((now - b.at) / 1000) * perSecond)
  b.at = now
  if (b.tokens >= cost) {
    b.tokens -= cost
    return 0
  }
  return Math.max(1, Math.ceil((cost - b.tokens) / perSecond))
}

/** One token bucket held by its owner (a socket's): nothing to look up or sweep; it goes with its owner. */
export class TokenBucket {
  tokens: number
  at: number
  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity
    this.at = now
  }
  /** 0 when allowed, otherwise the seconds to wait. */
  take(cost = 1, now = Date.now()): number {
    return takeFrom(this, this.capacity, this.refillPerSecond, cost, now)
  }
  /** Whether it has refilled (a fresh bucket would be the same). */
  full(now = Date.now()) {
    return this.tokens + ((now - this.at) / 1000) * this.refillPerSecond >= this.capacity
  }
}

/**
 * Token buckets keyed by a string (an IP, a user id, a socket). `take(key)` returns 0 when allowed,
 * otherwise the seconds to wait. Buckets that have refilled are forgotten by `sweep()` so memory stays bounded.
 */
export class RateLimiter {
  protected buckets = new Map<string, { tokens: number; at: number }>()
  private takes = 0
  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
  ) {}

  take(key: string, cost = 1, now = Date.now()): number {
    // Every SWEEP_EVERY takes, or as many as there are buckets: at most one bucket looked at per take.
    if (++this.takes >= SWEEP_EVERY && this.takes >= this.buckets.size) {
      this.takes = 0
      this.sweep(now)
    }
    let b = this.buckets.get(key)
    if (!b) {
      b = { tokens: this.capacity, at: now }
      this.buckets.set(key, b)
    }
    return takeFrom(b, this.capacity, this.refillPerSecond, cost, now)
  }

  sweep(now = Date.now()) {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.refillPerSecond >= this.capacity) this.buckets.delete(k)
    }
  }

  get size() {
    return this.buckets.size
  }
}

/** What a shared limiter needs of Redis (the node's command connection). */
export interface RedisCommands {
  send(command: string, args: string[]): Promise<unknown>
}

// KEYS: the bucket. ARGV: capacity, refill per second, cost. The cluster's bucket on Redis's clock: refilled, then
// charged (a node already allowed the action, so it is charged even below zero, down to -capacity: the debt is paid
// by every node refusing until it refills). Returns the tokens left, as a string (Lua numbers are truncated).
const SHARED_TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap, rate, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(b[1]) or cap, tonumber(b[2]) or now
tokens = math.max(-cap, math.min(cap, tokens + math.max(0, now - at) / 1000 * rate) - cost)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((cap * 2 / rate) * 1000) + 1000)
return tostring(tokens)`

/**
 * A RateLimiter shared by the nodes of a cluster, behind the same synchronous `take`: each node answers from its own
 * bucket, and every take it allows is charged to the cluster's bucket on Redis, whose answer (the tokens left after
 * every node's takes) replaces the node's. A node's bucket never holds fewer tokens than the cluster's, so what the
 * cluster refuses a node refuses too once it has heard back; what a node allows on a stale bucket is charged as a
 * debt that every node pays by refusing. Over time a key gets the limit's rate across all nodes; a burst may pass
 * the capacity by the takes allowed on stale buckets (at most one per node per round trip to Redis).
 */
export class SharedRateLimiter extends RateLimiter {
  /** The cluster's latest answer per key, applied at the key's next take. */
  private readonly cluster = new Map<string, { tokens: number; at: number }>()
  /** Per key, the cost of the takes sent to Redis and not yet answered. */
  private readonly inFlight = new Map<string, number>()
  private last: Promise<unknown> = Promise.resolve()
  constructor(
    capacity: number,
    refillPerSecond: number,
    private readonly redis: RedisCommands,
    /** The limiter's key prefix in Redis (e.g. `th:rl:login:`). */
    private readonly prefix: string,
    private readonly failed: (e: unknown) => void = () => {},
  ) {
    super(capacity, refillPerSecond)
  }

  override take(key: string, cost = 1, now = Date.now()): number {
    const heard = this.cluster.get(key)
    if (heard) {
      this.cluster.delete(key)
      this.buckets.set(key, heard)
    }
    const wait = super.take(key, cost, now)
    if (wait) return wait
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + cost)
    const args = [
      SHARED_TAKE,
      '1',
      this.prefix + key,
      String(this.capacity),
      String(this.refillPerSecond),
      String(cost),
    ]
    const answered = (left: unknown) => {
      const pending = (this.inFlight.get(key) ?? cost) - cost
      if (pending > 0) this.inFlight.set(key, pending)
      else this.inFlight.delete(key)
      // Redis answers in order: the takes still in flight were sent after this one and are not in its answer.
      if (left !== undefined) this.cluster.set(key, { tokens: Number(left) - pending, at: Date.now() })
    }
    this.last = this.redis.send('EVAL', args).then(answered, (e) => {
      answered(undefined)
      this.failed(e)
    })
    return 0
  }

  /** Resolves once Redis has answered every take so far (Redis answers in order). */
  settled() {
    return this.last
  }

  override sweep(now = Date.now()) {
    super.sweep(now)
    const full = (this.capacity / this.refillPerSecond) * 1000
    for (const [k, b] of this.cluster) if (now - b.at > full) this.cluster.delete(k)
  }
}
