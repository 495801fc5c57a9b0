// The ingest crash test (test/ingest/crash-safety.test.ts) with the log in Redis Streams, on the shared
// server (HOPPER_TEST_REDIS_URL or 127.0.0.1:6379) under a key prefix unique to the run. It kills Hopper,
// not Redis: whatever Redis answered is in Redis's memory, so durable and written lose nothing even
// without appendfsync always (Redis's own crash is test/log/redis-restart.test.ts).
// 5 kill cycles per mode instead of 10: a restart here also reconnects to Redis, and the file stays under a minute.
import { test } from 'node:test';
import { crashSafetyOfAckModes } from '../helpers/ingest-crash-scenario.js';

const CYCLES = 5;
const FAST_MAX_PENDING_RECORDS = 300;

test('redis: crash safety of acknowledged writes under SIGKILL of hopper serve', { timeout: 150_000, concurrency: 3 }, async (t) => {
  await crashSafetyOfAckModes(t, 'redis', CYCLES, FAST_MAX_PENDING_RECORDS);
});
