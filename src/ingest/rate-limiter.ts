// Token bucket per key (write key, or client address on streams without keys):
// rateLimitPerSecond tokens a second, up to rateLimitBurst. The map of buckets
// is bounded: past MAX_RATE_LIMIT_KEYS a bucket that has refilled is dropped (it
// was as good as new), else the oldest (that key starts again with a full bucket),
// so a flood of addresses cannot grow memory, nor reset an abuser's empty bucket.
// A key is stored as a copy (ownCopy: a header value would pin its request head), and the request handler refuses a client
// address too long to store before it reaches the limiter, so a bucket holds at
// most 1 KiB of key.
// Streams created on first write all have defaultStream's limit: each gets its
// own buckets (scoped()) in one shared map bounded at MAX_SHARED_RATE_LIMIT_KEYS,
// so up to ingest.maxStreams such streams cannot multiply the memory bound.
// A limiter counts the requests of one ingest process only (see the README).

import { ownCopy } from './own-copy.js';

export const MAX_RATE_LIMIT_KEYS = 10_000;
/** Oldest buckets looked at for a refilled one when the map is full: a bound on the work of one new key. */
const EVICTION_SCAN_BUCKETS = 16;
/** Bound of the map shared by the streams created on first write (about 200 bytes a bucket, plus its key of at most 1 KiB). */
export const MAX_SHARED_RATE_LIMIT_KEYS = 100_000;

/** A stream's rate limit: takes one token for a key. */
export interface RateLimit {
  /** 0 when allowed, else the whole seconds until a token is available. */
  take(key: string, nowMs: number): number;
}

interface Bucket {
  tokens: number;
  lastMs: number;
}

export class RateLimiter implements RateLimit {
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
      if (this.buckets.size >= this.maxKeys) this.evictOne(nowMs);
      b = { tokens: this.burst, lastMs: nowMs };
      this.buckets.set(ownCopy(key), b);
    } else {
      // A wall clock stepped back (NTP, a resumed VM) must not drain the bucket: the client would be refused
      // for as long as the step, with a Retry-After that long. Time that went backwards refills nothing.
      const refill = nowMs > b.lastMs ? ((nowMs - b.lastMs) / 1000) * this.perSecond : 0;
      b.tokens = Math.min(this.burst, b.tokens + refill);
      b.lastMs = nowMs;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  /**
   * Makes room for one bucket. A refilled bucket is dropped first: losing it changes nothing, where dropping the
   * oldest let a flood of new keys (or addresses) reset an abuser's empty bucket every MAX_RATE_LIMIT_KEYS keys.
   * Only the oldest few are looked at, so a new key costs a bounded amount of work; past them, the oldest goes.
   */
  private evictOne(nowMs: number): void {
    let looked = 0;
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.lastMs) / 1000) * this.perSecond >= this.burst) {
        this.buckets.delete(key);
        return;
      }
      if (++looked >= EVICTION_SCAN_BUCKETS) break;
    }
    this.buckets.delete(this.buckets.keys().next().value as string);
  }

  /**
   * A limit with buckets of its own, kept in this limiter's bounded map: `scope` is a stream name, which
   * cannot contain the newline that separates it from the key.
   */
  scoped(scope: string): RateLimit {
    const prefix = scope + '\n';
    return { take: (key, nowMs) => this.take(prefix + key, nowMs) };
  }

  get size(): number {
    return this.buckets.size;
  }
}
