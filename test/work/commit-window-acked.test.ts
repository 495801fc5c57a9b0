// On Redis and NATS a commit acknowledges its delivery on its own (XACK, a JetStream ack): a batch committed
// behind one still running is not delivered again after a crash. The wait of the embedded log (a batch commits
// after the earlier ones of its partition, and counts in the commit window meanwhile) held them back there too,
// so one slow batch (a poison record in its retries) stopped fetching for every partition once 8 waited.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { COMMIT_WINDOW_BATCHES } from '../../src/work/pipeline-runner.js';
import type { Log } from '../../src/log/types.js';
import { openRedisTestLog } from '../helpers/redis.js';
import { openNatsTestLog } from '../helpers/nats.js';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { record, testConfig, waitFor } from './work-helpers.js';

const RECORDS = 3 * COMMIT_WINDOW_BATCHES;

async function batchesGoOnBehindALongOne(t: TestContext, log: Log): Promise<void> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i++) await log.append('s', 0, [record(`{"i":${i}}`)], 'durable');
  let release!: () => void;
  const firstDone = new Promise<void>((resolve) => (release = resolve));
  const processed: number[] = [];
  let first: number | null = null;
  const processor = defineProcessor({
    async process(batch) {
      const offset = batch.items[0]!.offset;
      first ??= offset;
      if (offset === first) await firstDone;
      processed.push(offset);
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', concurrency: 2, batchMaxRecords: 1, batchMaxWaitMs: 0 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { p: processor } });
  // Stopped here, not in t.after: the log's own t.after (registered first) closes it, and the workers must stop before.
  try {
    await waitFor('every batch behind the long one to be processed', () => processed.length === RECORDS - 1);
    release();
    await waitFor('the long one to be processed', () => processed.length === RECORDS);
  } finally {
    release();
    await workers.stop();
  }
  assert.equal(new Set(processed).size, RECORDS, 'no batch processed twice');
}

test('redis: batches behind a long one are processed and acknowledged, not held in the commit window', { timeout: 60_000 }, async (t) => {
  const log = await openRedisTestLog(t);
  if (log) await batchesGoOnBehindALongOne(t, log);
});

test('nats: batches behind a long one are processed and acknowledged, not held in the commit window', { timeout: 60_000 }, async (t) => {
  const log = await openNatsTestLog(t);
  if (log) await batchesGoOnBehindALongOne(t, log);
});
