// The ingest crash test (test/ingest/crash-safety.test.ts) with the log in NATS JetStream, on the shared
// server (HOPPER_TEST_NATS_URL or 127.0.0.1:4222) under a subject prefix unique to the run. It kills Hopper,
// not NATS: a write is answered 202 only after its PubAck, so durable and written lose nothing
// (a nats-server crash is test/log/nats-cluster-node-loss.test.ts).
// 5 kill cycles per mode instead of 10: a restart here also reconnects to NATS, and the file stays under a minute.
import { test } from 'node:test';
import { crashSafetyOfAckModes } from '../helpers/ingest-crash-scenario.js';

const CYCLES = 5;
const FAST_MAX_PENDING_RECORDS = 300;

test('nats: crash safety of acknowledged writes under SIGKILL of hopper serve', { timeout: 150_000, concurrency: 3 }, async (t) => {
  await crashSafetyOfAckModes(t, 'nats', CYCLES, FAST_MAX_PENDING_RECORDS);
});
