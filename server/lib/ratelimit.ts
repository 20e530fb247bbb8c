/** A limiter sweeps itself after this many takes (the server's minute timer sweeps the shared ones too). */
const SWEEP_EVERY = 256

/**
 * Token buckets keyed by a string (an IP, a user id, a socket). `take(key)` returns 0 when allowed,
 * otherwise the seconds to wait. Buckets that have refilled are forgotten by `sweep()` so memory stays bounded.
 */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>()
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
    b.tokens = Math.min(this.capacity, b.tokens + ((now - b.at) / 1000) * this.refillPerSecond)
    b.at = now
    if (b.tokens >= cost) {
      b.tokens -= cost
      return 0
    }
    return Math.max(1, Math.ceil((cost - b.tokens) / this.refillPerSecond))
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
