// The room an append takes in the Redis log's pending budget is free again by the time its caller hears back:
// a caller that appends again at once (a requeue, a bulk loader) must not get HOPPER_BACKPRESSURE with nothing
// pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';
import type { AppendResult } from '../../src/log/types.js';

test('redis: appends awaited one after the other, each near the whole budget, are all taken', async (t) => {
  const log = await openRedisTestLog(t, { maxPendingBytes: 1024 * 1024 });
  if (!log) return;
  await log.ensureStream('room', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const batch = Array.from({ length: 3 }, (_, i) => makeRecord(i, 300 * 1024)); // 900 KiB of the 1 MiB budget
  for (let round = 0; round < 5; round++) {
    const r: AppendResult = await log.append('room', 0, batch, 'written');
    assert.equal(r.firstOffset, round * 3);
  }
});
