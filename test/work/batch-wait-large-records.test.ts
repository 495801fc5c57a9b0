// batchMaxWaitMs is for a drained log. A backlog of large records comes in deliveries the log's byte limit cut
// short of batchMaxRecords (16 MiB embedded and on Redis); they were taken for a drained log, so the runner
// waited batchMaxWaitMs after every one of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

const RECORDS = 18;
const BODY_BYTES = 3 * 1024 * 1024;
const WAIT_MS = 777;

test('deliveries cut short by the byte limit are no reason to wait batchMaxWaitMs', async (t) => {
  const dir = tempDir();
  const log = openEmbedded(dir);
  let workers: { stop(): Promise<void> } | null = null;
  // One hook, in this order: removing the directory first raced a commit still under way (ENOTEMPTY), and the
  // hooks after a failed one never ran, so the workers kept the test process alive.
  t.after(async () => {
    await workers?.stop();
    await log.close();
    removeDir(dir);
  });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i++) await log.append('s', 0, [record(`{"i":${i},"pad":"${'x'.repeat(BODY_BYTES)}"}`)], 'durable');
  const clock = fakeClock();
  let processed = 0;
  let deliveries = 0;
  let waitsDuringBacklog = -1;
  const processor = defineProcessor({
    process(batch) {
      deliveries++;
      processed += batch.items.length;
      if (processed === RECORDS) waitsDuringBacklog = clock.sleeps.filter((ms) => ms === WAIT_MS).length;
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: 100, batchMaxWaitMs: WAIT_MS }] });
  const running = await startWorkers(config, log, createLogger('silent'), { clock, processors: { p: processor } });
  workers = running;
  await waitFor('the backlog to be processed', () => waitsDuringBacklog >= 0);
  assert.ok(deliveries >= 2, `the byte limit should split the backlog (${deliveries} deliveries)`);
  // Before: a wait after each delivery but the last.
  assert.equal(waitsDuringBacklog, 0, `${waitsDuringBacklog} waits of batchMaxWaitMs during a backlog of large records`);
});
