// Redis: the bounds of a partition (stats, offsetForTime, retention) came from XINFO STREAM, whose answer holds
// the first and last entries whole: every stats() (each second in hopper serve) brought two bodies per partition
// into the process, 2 MB a partition with 1 MB records. Only their IDs leave Redis now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const BODY_BYTES = 1024 * 1024;

test('redis: stats() fetches the bounds of a partition, not its first and last records', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('big', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('big', 0, Array.from({ length: 3 }, (_, i) => ({ ...makeRecord(i), body: Buffer.alloc(BODY_BYTES, 0x61) })), 'durable');
  await log.commitPosition('g', 'big', 0, 1);
  let fetchedBytes = 0;
  const count = (reply: unknown): void => {
    if (typeof reply === 'string' || Buffer.isBuffer(reply)) fetchedBytes += reply.length;
    else if (Array.isArray(reply)) reply.forEach(count);
  };
  for (const method of ['call', 'callBuffer'] as const) {
    const original = (log.redis[method] as (...args: unknown[]) => Promise<unknown>).bind(log.redis);
    (log.redis as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      const reply = await original(...args);
      count(reply);
      return reply;
    };
  }
  const partitions = (await log.stats()).streams.find((s) => s.stream === 'big')!.partitions;
  assert.deepEqual(
    partitions.map((p) => [p.partition, p.startOffset, p.endOffset, p.groups]),
    [
      [0, 0, 3, [{ group: 'g', position: 1, lag: 2 }]],
      [1, 0, 0, []],
    ],
  );
  assert.ok(fetchedBytes < 64 * 1024, `stats() fetched ${fetchedBytes} bytes`);
});
