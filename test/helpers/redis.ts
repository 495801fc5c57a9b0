// Test access to Redis: the shared server (HOPPER_TEST_REDIS_URL or 127.0.0.1:6379),
// a probe that says how to start it when absent, and key cleanup by prefix.
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { RedisLog, type RedisLogOptions } from '../../src/log/redis/redis-log.js';
import type { LogConsumer } from '../../src/log/types.js';
import { skipOutsideCi } from './service-skip.js';

export const REDIS_TEST_URL = process.env.HOPPER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const TEST_REDIS_OPTIONS = {
  connectTimeoutMs: 1000,
  commandTimeoutMs: 5000,
  maxBatchBytes: 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  maxPendingRecords: 200_000,
  retentionCheckIntervalMs: 3_600_000,
};

/** null when Redis answers PING, else the reason to skip with (in CI: an error). */
export async function redisSkipReason(url = REDIS_TEST_URL): Promise<string | null> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return null;
  } catch (err) {
    return skipOutsideCi(`Redis is not reachable at ${url} (${(err as Error).message}): start it with \`redis-server --daemonize yes\` or set HOPPER_TEST_REDIS_URL`);
  } finally {
    r.disconnect();
  }
}

export function uniqueRedisPrefix(): string {
  return `hopper-test-${process.pid}-${randomBytes(4).toString('hex')}:`;
}

export function openRedisLog(keyPrefix: string, overrides: Partial<RedisLogOptions> = {}): Promise<RedisLog> {
  return RedisLog.open({ url: REDIS_TEST_URL, keyPrefix, ...TEST_REDIS_OPTIONS, ...overrides });
}

/** Deletes every key under the prefix. */
export async function deleteRedisPrefix(keyPrefix: string, url = REDIS_TEST_URL): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/**
 * A RedisLog on a prefix of its own, closed and its data deleted after the test; null when Redis is absent
 * (the test is then skipped, saying why).
 */
export async function openRedisTestLog(t: Pick<TestContext, 'after' | 'skip'>, overrides: Partial<RedisLogOptions> = {}): Promise<RedisLog | null> {
  const reason = await redisSkipReason();
  if (reason) {
    t.skip(reason);
    return null;
  }
  const prefix = uniqueRedisPrefix();
  const log = await openRedisLog(prefix, overrides);
  t.after(async () => {
    await log.close().catch(() => undefined);
    await deleteRedisPrefix(prefix);
  });
  return log;
}

/** A command a group member sent on its own connection: its name (scripts that read the group as EVAL_XREADGROUP) and arguments. */
export interface MemberCommand {
  name: string;
  args: unknown[];
}

/**
 * Calls onCommand with every command a group member sends on its own connection (where it reads); a script that
 * reads the group (XREADGROUP in its text, a measured read) is named EVAL_XREADGROUP, other scripts (housekeeping) EVAL.
 */
export function watchMemberCommands(consumer: LogConsumer, onCommand: (command: MemberCommand) => void): void {
  const conn = (consumer as unknown as { conn: Redis }).conn;
  // Every command goes through sendCommand, also those of a MULTI (a plain read is one: redis-group-consumer.ts).
  const send = conn.sendCommand.bind(conn) as (command: { name: string; args: unknown[] }, ...rest: unknown[]) => unknown;
  (conn as unknown as Record<string, unknown>).sendCommand = (command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    const name = command.name.toUpperCase();
    onCommand({ name: name === 'EVAL' && String(command.args[0] ?? '').includes('XREADGROUP') ? 'EVAL_XREADGROUP' : name, args: command.args });
    return send(command, ...rest);
  };
}

/** Counts the commands a group member sends on its own connection, by name (see watchMemberCommands). */
export function countMemberCommands(consumer: LogConsumer): Map<string, number> {
  const counts = new Map<string, number>();
  watchMemberCommands(consumer, ({ name }) => counts.set(name, (counts.get(name) ?? 0) + 1));
  return counts;
}
