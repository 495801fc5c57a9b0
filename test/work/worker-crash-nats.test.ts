// The worker at-least-once test (test/work/worker-crash.test.ts) with the log in NATS JetStream, on the shared
// server (HOPPER_TEST_NATS_URL or 127.0.0.1:4222) under a subject prefix unique to the run: messages a killed
// worker held are redelivered after ack_wait (work.leaseTimeoutMs), so none is lost and the duplicates stay
// within what was in flight at each kill. 5 kills, as for the embedded log.
import { test } from 'node:test';
import { workerSurvivesSigkillMidBatch } from '../helpers/worker-crash-scenario.js';

const KILLS = 5;

test('nats: SIGKILL mid-batch, repeatedly: nothing lost, duplicates bounded by the batches in flight', { timeout: 120_000 }, async (t) => {
  await workerSurvivesSigkillMidBatch(t, 'nats', KILLS);
});
