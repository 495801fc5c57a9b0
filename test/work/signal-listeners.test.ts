// A pipeline with concurrency over 10 has that many batches listening on its signals at once: each one
// waiting for a retry listens on the stop signal, each request a sink makes listens on ctx.signal. Past
// Node's default of 10 listeners that printed "Possible EventTarget memory leak detected" whenever the
// batches waited together (a database down), a leak that was not one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { RetriableError } from '../../src/work/retriable-error.js';
import { record, testConfig, waitFor } from './work-helpers.js';

const CONCURRENCY = 20;

test('batches of a pipeline with concurrency 20 waiting together raise no MaxListenersExceededWarning', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: CONCURRENCY }, (_, i) => record(`{"i":${i}}`)), 'durable');
  let waiting = 0;
  let calls = 0;
  let release!: () => void;
  const allWaiting = new Promise<void>((resolve) => (release = resolve));
  const processor = defineProcessor({
    async process(_batch, ctx) {
      calls++;
      // A request in flight, as undici makes one: it listens on ctx.signal until it is answered.
      const onAbort = (): void => undefined;
      ctx.signal.addEventListener('abort', onAbort);
      if (++waiting === CONCURRENCY) release();
      await allWaiting;
      ctx.signal.removeEventListener('abort', onAbort);
      throw new RetriableError('database unavailable');
    },
  });
  const config = testConfig(dir, {
    pipelines: [{ name: 'p', stream: 's', group: 'g', concurrency: CONCURRENCY, batchMaxRecords: 1, initialBackoffMs: 60_000, maxBackoffMs: 60_000 }],
  });
  // random 0.99: every retry waits about a minute, so all the batches sit in their backoff together.
  const workers = await startWorkers(config, log, createLogger('silent'), { random: () => 0.99, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('every batch to fail once', () => calls === CONCURRENCY);
  await new Promise((r) => setImmediate(r));
  await workers.stop();
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
});
