// The worker at-least-once test (test/work/worker-crash.test.ts) with the log in Redis Streams, on the shared
// server (HOPPER_TEST_REDIS_URL or 127.0.0.1:6379) under a key prefix unique to the run: entries a killed
// worker held are taken over with XAUTOCLAIM after work.leaseTimeoutMs, so none is lost and the duplicates
// stay within what was in flight at each kill. 5 kills, as for the embedded log.
import { test } from 'node:test';
import { workerSurvivesSigkillMidBatch } from '../helpers/worker-crash-scenario.js';

const KILLS = 5;

test('redis: SIGKILL mid-batch, repeatedly: nothing lost, duplicates bounded by the batches in flight', { timeout: 120_000 }, async (t) => {
  await workerSurvivesSigkillMidBatch(t, 'redis', KILLS);
});
