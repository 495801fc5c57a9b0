// Token bucket per key (write key, or client address on streams without keys):
// rateLimitPerSecond tokens a second, up to rateLimitBurst. The map of buckets
// is bounded: past MAX_RATE_LIMIT_KEYS the oldest bucket is dropped (that key
// starts again with a full bucket), so a flood of addresses cannot grow memory.

export const MAX_RATE_LIMIT_KEYS = 10_000;

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly burst: number;

  constructor(
    private readonly perSecond: number,
    burst: number,
    private readonly maxKeys = MAX_RATE_LIMIT_KEYS,
  ) {
    this.burst = Math.max(1, burst > 0 ? burst : perSecond);
  }

  /** Takes one token for `key`: 0 when allowed, else the whole seconds until a token is available. */
  take(key: string, nowMs: number): number {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, lastMs: nowMs };
      this.buckets.set(key, b);
    } else {
      const refill = ((nowMs - b.lastMs) / 1000) * this.perSecond;
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.lastMs = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  get size(): number {
    return this.buckets.size;
  }
}
