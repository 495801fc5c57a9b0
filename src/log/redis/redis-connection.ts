// Opens ioredis connections the way every Hopper Redis call needs them: no
// offline queue and no resend after a reconnect, so a command sent while Redis
// is down or lost with a dropped connection fails at once (the caller answers
// 503) instead of waiting or being replayed later; reconnects with capped backoff.
// A connection whose server stops answering (hung, SIGSTOP: TCP stays up) is
// dropped at the first command timeout, so what was queued for it is freed.

import { Redis, type RedisOptions } from 'ioredis';
import { HopperError, isHopperError } from '../../errors.js';
import type { WarnFn } from '../embedded/partition-recovery.js';

export interface RedisConnectionOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** Reconnect delays grow from 50 ms and stay at this cap while Redis is down. */
const RECONNECT_MAX_DELAY_MS = 1000;
/** While Redis stays down, one warning per this interval (per connection). */
const WARN_INTERVAL_MS = 10_000;

export async function connectRedis(opts: RedisConnectionOptions, name: string, warn: WarnFn): Promise<Redis> {
  const options: RedisOptions = {
    lazyConnect: true,
    connectionName: name,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: opts.connectTimeoutMs,
    commandTimeout: opts.commandTimeoutMs,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), RECONNECT_MAX_DELAY_MS),
  };
  const redis = new Redis(opts.url, options);
  let lastWarnMs = 0;
  // Until the first connect settles, its error is the one thrown below (ioredis rejects connect() with a bare
  // "Connection is closed."), not a "reconnecting" warning: nothing reconnects after a failed first connect.
  let connectError: Error | null = null;
  let connecting = true;
  redis.on('error', (err: Error) => {
    if (connecting) {
      connectError ??= err;
      return;
    }
    const now = Date.now();
    if (now - lastWarnMs < WARN_INTERVAL_MS) return;
    lastWarnMs = now;
    warn({ err: err.message, url: redactUrl(opts.url) }, 'redis connection error (reconnecting)');
  });
  // connectTimeout bounds ioredis's TCP connect only: a server that accepts and never answers (hung, not Redis)
  // then held the first connect for connectTimeoutMs plus a commandTimeoutMs each for CLIENT SETNAME and the ready
  // check (15 s at the defaults), against the setting's "first connection". The whole first connect gets it.
  let deadline: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    deadline = setTimeout(() => reject(new Error(`no answer within log.redis.connectTimeoutMs, ${opts.connectTimeoutMs} ms`)), opts.connectTimeoutMs);
  });
  const connected = redis.connect();
  connected.catch(() => undefined); // lost the race below: its own failure says nothing more
  try {
    await Promise.race([connected, late]);
  } catch (err) {
    redis.disconnect();
    redis.stream?.destroy(); // disconnect() ends it gracefully, which a server that never answers never completes
    const why = connectError ?? (err as Error);
    throw new HopperError(
      'HOPPER_LOG_UNAVAILABLE',
      `Cannot connect to Redis at ${redactUrl(opts.url)} (${why.message}): start Redis or set log.redis.url.`,
      { cause: why },
    );
  } finally {
    clearTimeout(deadline);
    connecting = false;
  }
  return redis;
}

/** Closes a connection, waiting for replies to commands already sent when it is up. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
}

/** True when the command failed because Redis did not answer within commandTimeoutMs (ioredis's own message). */
export function isCommandTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}

/**
 * Treats a connection whose command timed out as dead and destroys its socket.
 * Redis answers a connection in order, so every command sent after the late one
 * waits too, and ioredis keeps each (arguments included) until its reply: on a
 * hung server the socket's write queue and the command queue grow with every
 * append while the pending budget, released at each timeout, says nothing is
 * pending. Destroying the socket fails those commands at once (they may have been
 * stored: a retry can duplicate, never lose) and frees their bytes; ioredis then
 * reconnects, and its ready check (INFO) keeps the connection not ready, so
 * appends are refused at once, until the server answers again. Not socket.end():
 * a graceful close waits for the write queue to drain, which a hung server never does.
 */
export function dropHungConnection(redis: Redis, warn: WarnFn): void {
  if (redis.status !== 'ready' || !redis.stream || redis.stream.destroyed) return;
  warn({ timeoutMs: redis.options.commandTimeout }, 'redis did not answer within log.redis.commandTimeoutMs: dropping the connection and reconnecting');
  redis.stream.destroy();
}

/** The error of a call refused because the connection is down (reconnecting, or not ready yet after a reconnect). */
export function redisNotReady(): HopperError {
  return new HopperError('HOPPER_LOG_UNAVAILABLE', 'Redis is unreachable (reconnecting): retry later.', { retryAfterSeconds: 1 });
}

/** Wraps a failed Redis call as the retriable error ingest turns into 503. */
export function redisUnavailable(err: unknown, what: string): HopperError {
  if (isHopperError(err)) return err;
  const message = (err as Error)?.message ?? String(err);
  return new HopperError('HOPPER_LOG_UNAVAILABLE', `Redis could not ${what} (${message}): retry later.`, { cause: err, retryAfterSeconds: 1 });
}

/** True when the error is a Redis reply of the given kind (BUSYGROUP, NOGROUP, NOSCRIPT...). */
export function isReplyError(err: unknown, prefix: string): boolean {
  return err instanceof Error && err.message.startsWith(prefix);
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
