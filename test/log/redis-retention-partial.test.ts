// Redis: retention stopped at the first partition it could not trim, so every partition after it (of that
// stream and of the streams listed after it) kept growing past its limit for as long as the fault lasted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

test('redis: a partition that cannot be trimmed does not stop retention of the others', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('trim', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 128 * 1024 });
  for (let i = 0; i < 20; i++) {
    await log.append('trim', 1, Array.from({ length: 100 }, (_, j) => makeRecord(i * 100 + j, 250)), 'written');
  }
  // Partition 0's key holds a plain string (another program wrote it): every stream command on it fails.
  await log.redis.set(log.key('trim', 0), 'not a stream');
  await assert.rejects(log.enforceRetention(), (err: { code?: string; message?: string }) => {
    assert.equal(err.code, 'HOPPER_LOG_UNAVAILABLE');
    assert.match(err.message ?? '', /trim\/0/);
    return true;
  });
  // stats() would fail on partition 0 too: ask Redis about partition 1 alone.
  const kept = await log.redis.xlen(log.key('trim', 1));
  assert.ok(kept > 0 && kept < 2000, `partition 1 kept ${kept} of 2000 records`);
});
