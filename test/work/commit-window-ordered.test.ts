// With concurrency > 1, a batch that takes long (a poison record in its retries, a slow call) holds the
// partition's position: the batches after it can be processed but not committed. The runner kept fetching
// and processing them, as their commits returned at once without moving the position, so a crash then
// redelivered every one of them, past the documented (concurrency + 8) x batchMaxRecords. A finished batch
// now counts against the commit window until the batches before it on its partition are done.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { COMMIT_WINDOW_BATCHES } from '../../src/work/pipeline-runner.js';
import { record, testConfig, waitFor } from './work-helpers.js';

const RECORDS = 40;
const CONCURRENCY = 2;

test('batches processed behind a long one wait within the commit window, bounding what a crash redelivers', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: RECORDS }, (_, i) => record(`{"i":${i}}`)), 'durable');
  let release!: () => void;
  const firstDone = new Promise<void>((resolve) => (release = resolve));
  let processedBehind = 0;
  const processor = defineProcessor({
    async process(batch) {
      if (batch.items[0]!.offset === 0) await firstDone;
      else processedBehind++;
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', concurrency: CONCURRENCY, batchMaxRecords: 1, batchMaxWaitMs: 0 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { p: processor } });
  t.after(() => workers.stop());
  // Processed but not committable while offset 0 runs: what a crash now would deliver again.
  const bound = CONCURRENCY - 1 + COMMIT_WINDOW_BATCHES;
  await waitFor('the batches behind the long one to fill the window', () => processedBehind >= COMMIT_WINDOW_BATCHES);
  await new Promise((r) => setTimeout(r, 500)); // room for more fetches, had they not been held back
  assert.ok(processedBehind <= bound, `${processedBehind} batches processed behind an unfinished one (bound ${bound})`);
  assert.equal(await log.getPosition('g', 's', 0), null);
  release();
  await waitFor('every record to be committed', async () => (await log.getPosition('g', 's', 0)) === RECORDS);
});
