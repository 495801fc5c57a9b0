// A pipeline that stops on an unexpected error (a bug, not a failed batch): with
// restartFailed (serve --with-workers) it is started again after a doubling backoff
// capped at 30 s, reset once it ran a minute, and finishes the records; without it
// (hopper work) `failed` rejects and nothing restarts. Fake clock: no real waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers, PIPELINE_RESTART_MAX_MS } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { WorkerMetrics } from '../../src/work/worker-metrics.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

const logger = createLogger('silent');

/**
 * A fault injected into the runtime itself: its bookkeeping after process() returned throws, the way a bug
 * of the runtime surfaces (a processor's own errors are retried, never fatal). `failsOn` picks the calls.
 */
class FaultyMetrics extends WorkerMetrics {
  private calls = 0;
  constructor(private readonly failsOn: (call: number) => boolean) {
    super();
  }
  override observeBatch(...args: Parameters<WorkerMetrics['observeBatch']>): void {
    if (this.failsOn(++this.calls)) throw new Error('injected runtime fault');
    super.observeBatch(...args);
  }
}

async function setup(t: { after(fn: () => unknown): void }, records: number) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: records }, (_, i) => record(`{"i":${i}}`)), 'durable');
  // Each death leaves its record unfinished, delivered again to the next runner: with no maxDeliveries limit here,
  // since what is tested is the restarts (test/work/poison-record.test.ts tests the limit).
  const config = testConfig(dir, { pipelines: [{ name: 's.test', stream: 's', group: 'g', processor: 'noop', batchMaxRecords: 1, batchMaxWaitMs: 0, maxDeliveries: 0 }] });
  return { dir, log, config };
}

test('restartFailed: a pipeline that dies is restarted with a doubling, capped backoff and finishes the records', async (t) => {
  const { log, config } = await setup(t, 3);
  const clock = fakeClock();
  const processed: number[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) processed.push(item.offset);
    },
  });
  // The first 7 batches kill the pipeline, each on a new runner (the same processor object is reused).
  const metrics = new FaultyMetrics((call) => call <= 7);
  const workers = await startWorkers(config, log, logger, { clock, metrics, processors: { 's.test': processor }, restartFailed: true });
  t.after(() => workers.stop());
  await waitFor('the group to commit all 3 records', async () => (await log.getPosition('g', 's', 0)) === 3);
  assert.deepEqual(clock.sleeps, [1000, 2000, 4000, 8000, 16000, PIPELINE_RESTART_MAX_MS, PIPELINE_RESTART_MAX_MS]);
  // Offset 0 was processed by each runner that died before committing it: redelivered, at least once.
  assert.deepEqual(processed, [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
  const counters = workers.metrics.snapshot().pipelines['s.test']!;
  assert.equal(counters.restarts, 7);
  assert.equal(counters.state, 'running');
  assert.equal(counters.lastFailure?.message, 'injected runtime fault');
  assert.deepEqual(workers.pipelines(), ['s.test']);
  const pending = Symbol('pending');
  assert.equal(await Promise.race([workers.failed.catch(() => 'rejected'), new Promise((r) => setImmediate(() => r(pending)))]), pending);
});

test('restartFailed: a pipeline that ran a minute before dying starts its backoff over', async (t) => {
  const { log, config } = await setup(t, 2);
  const clock = fakeClock();
  let calls = 0;
  const processor = defineProcessor({
    async process() {
      // The third batch succeeds after a minute of (fake) work: the failure that follows is not "in a row".
      if (++calls === 3) await clock.sleep(60_000);
    },
  });
  const metrics = new FaultyMetrics((call) => call === 1 || call === 2 || call === 4);
  const workers = await startWorkers(config, log, logger, { clock, metrics, processors: { 's.test': processor }, restartFailed: true });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  assert.deepEqual(clock.sleeps, [1000, 2000, 60_000, 1000]);
  assert.equal(workers.metrics.snapshot().pipelines['s.test']!.restarts, 3);
});

test('without restartFailed (hopper work), `failed` rejects and the pipeline is not restarted', async (t) => {
  const { log, config } = await setup(t, 2);
  const clock = fakeClock();
  let calls = 0;
  const processor = defineProcessor({
    process() {
      calls++;
    },
  });
  const metrics = new FaultyMetrics(() => true);
  const workers = await startWorkers(config, log, logger, { clock, metrics, processors: { 's.test': processor } });
  t.after(() => workers.stop());
  await assert.rejects(workers.failed, /injected runtime fault/);
  await workers.stop();
  assert.equal(calls, 1);
  assert.deepEqual(clock.sleeps, []);
  const counters = workers.metrics.snapshot().pipelines['s.test']!;
  assert.deepEqual([counters.state, counters.restarts, counters.lastFailure?.message], ['failed', 0, 'injected runtime fault']);
  assert.equal(await log.getPosition('g', 's', 0), null);
});

test('restartFailed: a restart whose start() throws (even null) is one more failure in a row, never a crash', async (t) => {
  const { log, config } = await setup(t, 2);
  const clock = fakeClock();
  let starts = 0;
  const processed: number[] = [];
  const processor = defineProcessor({
    start() {
      // The first restart finds the processor unable to start, and it throws what user code may throw.
      if (++starts === 2) throw null;
    },
    process(batch) {
      for (const item of batch.items) processed.push(item.offset);
    },
  });
  const metrics = new FaultyMetrics((call) => call === 1);
  const workers = await startWorkers(config, log, logger, { clock, metrics, processors: { 's.test': processor }, restartFailed: true });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  assert.equal(starts, 3, 'initial start, the failed one, the good one');
  assert.deepEqual(clock.sleeps, [1000, 2000], 'the failed start doubled the wait');
  const counters = workers.metrics.snapshot().pipelines['s.test']!;
  assert.deepEqual([counters.state, counters.restarts, counters.lastFailure?.message], ['running', 1, 'non-Error thrown: null']);
  assert.deepEqual(processed, [0, 0, 1]);
});

test('restartFailed: stop() during the wait before a restart ends it at once, and nothing restarts after', async (t) => {
  const { log, config } = await setup(t, 2);
  // Waits last until stop() aborts them, so the restart is surely pending when stop() comes.
  const sleeps: number[] = [];
  const clock = {
    nowMs: () => Date.now(),
    sleep: (ms: number, signal?: AbortSignal) => {
      sleeps.push(ms);
      return new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
    },
  };
  let starts = 0;
  const processor = defineProcessor({
    start() {
      starts++;
    },
    process() {},
  });
  const metrics = new FaultyMetrics(() => true);
  const workers = await startWorkers(config, log, logger, { clock, metrics, processors: { 's.test': processor }, restartFailed: true });
  await waitFor('the restart to be waiting', () => sleeps.includes(1000));
  await workers.stop();
  await new Promise((r) => setImmediate(r));
  assert.equal(starts, 1, 'never started again');
  assert.equal(workers.metrics.snapshot().pipelines['s.test']!.restarts, 0);
});
