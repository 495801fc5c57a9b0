// Log.acquireLock on Redis: one key per lock ({prefix}lock:{name}, redis-keys.ts)
// whose value names the holder and carries a random token. It is taken with
// SET NX PX (a lease), renewed every third of the lease while the holder lives, and
// released by compare-and-delete, so a holder whose lease ran out (Redis unreachable
// from it for a whole lease) never deletes the lock another process took since.
// Scripts go as EVAL with their text, never EVALSHA, for the reason given in
// partition-appender.ts: Redis may have lost its script cache (NOSCRIPT).

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { HopperError } from '../../errors.js';
import type { LogLock } from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import { redisUnavailable } from './redis-connection.js';

/** PEXPIRE if the key still holds our value: 1, else 0 (the lease ran out, or another holder has it). */
const RENEW_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/** DEL if the key still holds our value. */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

interface Holder {
  holder: string;
  token: string;
  leaseMs: number;
}

export class RedisLock implements LogLock {
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | null = null;
  /** The key no longer holds our value: nothing to renew or release. */
  private lost = false;
  private released = false;

  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly value: string,
    private readonly leaseMs: number,
    private readonly warn: WarnFn,
    private readonly onRelease: () => void,
  ) {
    // unref: a lock must not keep a process alive that has nothing else to do.
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = null));
    }, Math.max(1, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  static async acquire(redis: Redis, key: string, what: string, leaseMs: number, warn: WarnFn, onRelease: () => void): Promise<RedisLock> {
    const value = JSON.stringify({ holder: `${hostname()}:${process.pid}`, token: randomBytes(12).toString('hex'), leaseMs } satisfies Holder);
    let current: string | null = null;
    // A second round only when the holder's key expired between our SET and our GET.
    for (let attempt = 0; attempt < 2 && current === null; attempt++) {
      try {
        if ((await redis.set(key, value, 'PX', leaseMs, 'NX')) !== null) return new RedisLock(redis, key, value, leaseMs, warn, onRelease);
        current = await redis.get(key);
      } catch (err) {
        throw redisUnavailable(err, 'take a lock');
      }
    }
    const holder = current === null ? null : parseHolder(current);
    throw new HopperError(
      'HOPPER_LOCK_HELD',
      `${what} is locked by ${holder?.holder ?? 'another process'}: wait for it to finish, then try again` +
        (holder ? ` (if it died, the lock frees itself within ${Math.ceil(holder.leaseMs / 1000)} s).` : '.'),
    );
  }

  private async renew(): Promise<void> {
    if (this.lost || this.released) return;
    try {
      const renewed = Number(await this.redis.eval(RENEW_SCRIPT, 1, this.key, this.value, this.leaseMs));
      if (renewed === 1 || this.released) return;
      this.lost = true;
      clearInterval(this.timer);
      this.warn({ key: this.key }, 'a lock this process held is gone (Redis was unreachable for its whole lease, or evicted the key under a volatile-* maxmemory-policy): another process may hold it now');
    } catch (err) {
      // Redis unreachable for now: the next tick tries again while the lease lasts.
      this.warn({ err: String(err), key: this.key }, 'could not renew a lock (retrying)');
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    this.onRelease();
    await this.renewing;
    if (this.lost) return;
    try {
      await this.redis.eval(RELEASE_SCRIPT, 1, this.key, this.value);
    } catch (err) {
      this.warn({ err: String(err), key: this.key }, 'could not release a lock: it frees itself when its lease runs out');
    }
  }
}

function parseHolder(text: string): Holder | null {
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    if (typeof v.holder !== 'string' || typeof v.token !== 'string' || typeof v.leaseMs !== 'number') return null;
    return { holder: v.holder, token: v.token, leaseMs: v.leaseMs };
  } catch {
    return null;
  }
}
