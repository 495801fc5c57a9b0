// A hung Redis (SIGSTOP: the TCP connection stays up, nothing is read or
// answered) under a steady load of appends: what this process holds for it stays
// bounded (a command timeout drops the connection, so timed-out appends do not
// leave their bytes queued while their budget is handed to new ones), every
// append is refused with a 503, and appends succeed again once Redis resumes.
import { test } from 'node:test';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { runStalledServerScenario } from '../helpers/stalled-server-scenario.js';

const MAX_PENDING_BYTES = 1024 * 1024;

test('redis hung (SIGSTOP): memory queued for it stays bounded, appends get 503, and recover after', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  let log: RedisLog | null = null;
  t.after(async () => {
    await server.stop(); // resumes it first
    await log?.close().catch(() => undefined);
  });
  const opened = await openRedisLog('stall:', { url: server.url, commandTimeoutMs: 300, maxPendingBytes: MAX_PENDING_BYTES });
  log = opened;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await runStalledServerScenario(t, log, server, () => opened.redis.stream?.writableLength ?? 0, MAX_PENDING_BYTES);
});
