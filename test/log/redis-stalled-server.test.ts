// A hung Redis (SIGSTOP: the TCP connection stays up, nothing is read or
// answered) under a steady load of appends: what this process holds for it stays
// bounded (a command timeout drops the connection, so timed-out appends do not
// leave their bytes queued while their budget is handed to new ones), every
// append is refused with a 503, and appends succeed again once Redis resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isHopperError } from '../../src/errors.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { REDIS_SERVER_BIN, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const hasRedisServer = spawnSync(REDIS_SERVER_BIN, ['--version']).status === 0;
const MAX_PENDING_BYTES = 1024 * 1024;
const LOAD_MS = 6000;

test('redis hung (SIGSTOP): memory queued for it stays bounded, appends get 503, and recover after', { skip: !hasRedisServer && 'redis-server is not installed (apt-get install redis-server)' }, async (t) => {
  const server = await TestRedisServer.start();
  let log: RedisLog | null = null;
  t.after(async () => {
    await server.stop(); // resumes it first
    await log?.close().catch(() => undefined);
  });
  log = await openRedisLog('stall:', { url: server.url, commandTimeoutMs: 300, maxPendingBytes: MAX_PENDING_BYTES });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');

  await server.pause();
  const codes = new Map<string, number>();
  let acknowledged = 0;
  let maxQueuedBytes = 0;
  const body = 64 * 1024;
  for (const until = Date.now() + LOAD_MS; Date.now() < until; ) {
    for (let i = 0; i < 4; i++) {
      log.append('s', 0, [makeRecord(i, body)], 'durable').then(
        () => acknowledged++,
        (err: unknown) => {
          const code = isHopperError(err) ? err.code : String(err);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
      );
    }
    await new Promise((r) => setTimeout(r, 10));
    // Bytes written to the socket that the kernel did not take: they stay in this process.
    maxQueuedBytes = Math.max(maxQueuedBytes, log.redis.stream?.writableLength ?? 0);
  }
  t.diagnostic(`largest socket write queue: ${(maxQueuedBytes / 2 ** 20).toFixed(1)} MiB; answers ${JSON.stringify(Object.fromEntries(codes))}`);
  assert.equal(acknowledged, 0, 'nothing can be acknowledged while Redis is hung');
  for (const code of codes.keys()) assert.ok(code === 'HOPPER_LOG_UNAVAILABLE' || code === 'HOPPER_BACKPRESSURE', `unexpected failure ${code}`);
  assert.ok(
    maxQueuedBytes <= 2 * MAX_PENDING_BYTES,
    `${maxQueuedBytes} bytes queued for a hung Redis, more than twice maxPendingBytes (${MAX_PENDING_BYTES})`,
  );

  server.resume();
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await log.append('s', 0, [makeRecord(1)], 'durable');
      break;
    } catch (err) {
      assert.ok(isHopperError(err), String(err));
      if (Date.now() > deadline) throw new Error(`appends still fail 15 s after Redis resumed: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
