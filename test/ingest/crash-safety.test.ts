// Crash safety, for real: concurrent POSTs with unique ids against `hopper serve`
// (child process), SIGKILL of its whole process group at random moments, restart
// on the same data directory, at least 10 times. At the end `hopper log read`
// must hold every write that got a 202, byte for byte (durable, written), or
// lose no more than the documented bound per crash (fast: log.embedded.maxPendingRecords).
// The scenario is shared with the redis and nats runs: test/helpers/ingest-crash-scenario.ts.
import { test } from 'node:test';
import { crashSafetyOfAckModes } from '../helpers/ingest-crash-scenario.js';

const CYCLES = 10;
const FAST_MAX_PENDING_RECORDS = 300;

// The three modes run side by side: each cycle mostly waits for a process to start, so this keeps the file near a minute.
test('crash safety of acknowledged writes under SIGKILL', { timeout: 180_000, concurrency: 3 }, async (t) => {
  await crashSafetyOfAckModes(t, 'embedded', CYCLES, FAST_MAX_PENDING_RECORDS);
});
