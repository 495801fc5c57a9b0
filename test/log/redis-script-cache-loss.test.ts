// Redis: appends of one partition land in the order they were made when Redis
// loses its script cache (SCRIPT FLUSH, restart, failover) while two batches are
// in flight. Each batch is one script call; if the first is refused (NOSCRIPT) and
// something reloads the script before the second reaches Redis (another
// partition's retry on the same connection, or another Hopper process), the
// second must not be stored ahead of the first.
//
// The test runs a redis-server of its own (SCRIPT FLUSH is server-wide), and puts
// a SCRIPT LOAD on the log's own connection between the two batches: Redis runs a
// connection's commands in the order sent, so the interleaving is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingBudget } from '../../src/log/pending-budget.js';
import { APPEND_SCRIPT, PartitionAppender } from '../../src/log/redis/partition-appender.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

test('redis: batches in flight when the script cache is lost are stored in order, each once', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  let log: RedisLog | null = null;
  t.after(async () => {
    await log?.close().catch(() => undefined);
    await server.stop();
  });
  log = await openRedisLog('script-cache:', { url: server.url });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // An appender of our own, so flush() can send a batch at a chosen moment (instead of at the next setImmediate).
  const appender = new PartitionAppender(log.key('s', 0), 0, {
    redis: log.redis,
    budget: new PendingBudget(1 << 20, 1000),
    maxBatchBytes: 1 << 20,
    durableIsFsync: () => true,
    warn: () => undefined,
    settings: { metaKey: 'script-cache:meta:streams', stream: 's', json: () => JSON.stringify({ partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 }) },
  });
  assert.equal((await appender.append([makeRecord(0)], 'durable')).firstOffset, 0); // the script is cached now

  await log.redis.script('FLUSH'); // as after a restart or failover
  // One turn, so the commands go out in this order: batch A, the reload by "someone else", batch B.
  const a = appender.append([makeRecord(1), makeRecord(2)], 'durable');
  void appender.flush(); // batch A is sent
  const reload = log.redis.script('LOAD', APPEND_SCRIPT);
  const b = appender.append([makeRecord(3)], 'durable');
  void appender.flush(); // batch B is sent (second batch in flight)
  const [ra, rb] = await Promise.all([a, b, reload]);

  const { records } = await log.read('s', 0, 0, { maxRecords: 100 });
  const stored = records.map((r) => r.requestId);
  assert.deepEqual(stored, ['req-0', 'req-1', 'req-2', 'req-3'], 'each record once, in the order appended');
  assert.equal(ra.firstOffset, 1, 'the first batch gets the offsets after the earlier append');
  assert.equal(rb.firstOffset, 3, 'the later batch gets offsets after the first');
});
