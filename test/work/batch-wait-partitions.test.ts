// batchMaxWaitMs is for a drained log: after a short batch the runner waits so the next one fills up.
// With one partition behind and others receiving a trickle, the consumer hands out their short batches
// in between the backlog's full ones; waiting after each of those drained the backlog dozens of times
// slower. The runner waits only once every partition in turn gave a short batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

const BATCH = 10;
const BACKLOG_BATCHES = 6;
const WAIT_MS = 777;
const TRICKLING = [0, 2, 3];

test('a backlog on one partition drains without a batchMaxWaitMs wait after the short batches of the others', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 4, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 1, Array.from({ length: BATCH * BACKLOG_BATCHES }, (_, i) => record(`{"i":${i}}`)), 'durable');
  const clock = fakeClock();
  let backlogDone = 0;
  let waitsDuringBacklog = -1;
  const processor = defineProcessor({
    async process(batch) {
      if (batch.partition !== 1) return;
      // The trickle: each full batch of the backlog is followed by one new record on every other partition.
      for (const p of TRICKLING) await log.append('s', p, [record('{}')], 'durable');
      backlogDone += batch.items.length;
      if (backlogDone === BATCH * BACKLOG_BATCHES) waitsDuringBacklog = clock.sleeps.filter((ms) => ms === WAIT_MS).length;
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: BATCH, batchMaxWaitMs: WAIT_MS }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the backlog to be processed', () => waitsDuringBacklog >= 0);
  // Before: a wait after each of the three short batches of every round, 15 or more.
  assert.ok(waitsDuringBacklog <= 1, `${waitsDuringBacklog} waits of batchMaxWaitMs while partition 1 had a backlog`);
  // Once everything is drained, short batches are waited after again.
  await waitFor('a wait once drained', () => clock.sleeps.filter((ms) => ms === WAIT_MS).length > waitsDuringBacklog);
});
