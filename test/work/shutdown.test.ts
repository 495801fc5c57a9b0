// Shutdown: a running batch may finish within work.shutdownTimeoutMs and is
// committed; one that outlives the deadline sees ctx.signal fire and is not
// committed (it is delivered again by the next run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { record, testConfig, waitFor } from './work-helpers.js';

async function run(t: { after(fn: () => unknown): void }, batchMs: number, shutdownTimeoutMs: number) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: 5 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  const config = testConfig(dir, { 'work.shutdownTimeoutMs': shutdownTimeoutMs, pipelines: [{ name: 'slow', stream: 's', group: 'g', batchMaxRecords: 5 }] });
  let started = false;
  let sawAbort = false;
  const processor = defineProcessor({
    async process(_batch, ctx) {
      started = true;
      await new Promise<void>((resolve) => {
        const onAbort = (): void => {
          sawAbort = true;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          ctx.signal.removeEventListener('abort', onAbort);
          resolve();
        }, batchMs);
        ctx.signal.addEventListener('abort', onAbort);
      });
      if (ctx.signal.aborted) throw new Error('aborted');
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { slow: processor } });
  await waitFor('the batch to start', () => started);
  const t0 = Date.now();
  await workers.stop();
  return { log, stopMs: Date.now() - t0, sawAbort, snapshot: workers.metrics.snapshot().pipelines.slow! };
}

test('a batch that finishes before the deadline is committed', async (t) => {
  const r = await run(t, 300, 5000);
  assert.equal(await r.log.getPosition('g', 's', 0), 5);
  assert.equal(r.sawAbort, false);
  assert.equal(r.snapshot.batches, 1);
});

test('a batch still running at the deadline is abandoned uncommitted, after ctx.signal fired', async (t) => {
  const r = await run(t, 60_000, 300);
  assert.equal(await r.log.getPosition('g', 's', 0), null);
  assert.ok(r.sawAbort);
  assert.ok(r.stopMs < 5000, `stop took ${r.stopMs} ms`);
  assert.equal(r.snapshot.batches, 0);
  assert.equal(r.snapshot.abandoned, 1);
});

test('a last attempt cut off by shutdown is abandoned, not a dead letter (it would also be delivered again)', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"i":0}')], 'durable');
  const config = testConfig(dir, {
    'work.shutdownTimeoutMs': 300,
    pipelines: [{ name: 'failing', stream: 's', group: 'g', maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1 }],
  });
  let calls = 0;
  const processor = defineProcessor({
    async process(_batch, ctx) {
      calls++;
      if (calls === 1) throw new Error('a real failure');
      // The last attempt: still running when shutdown's deadline fires ctx.signal.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      throw new Error('aborted by shutdown');
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { failing: processor } });
  await waitFor('the last attempt to start', () => calls === 2);
  await workers.stop();
  await new Promise((r) => setTimeout(r, 300)); // a dead letter written after stop() returned would show now
  assert.equal(await log.getPosition('g', 's', 0), null, 'not committed: delivered again by the next run');
  const dlq = await log.listPartitions('s.dlq').catch(() => [] as number[]);
  for (const p of dlq) assert.deepEqual((await log.read('s.dlq', p, 0, { maxRecords: 10 })).records, [], 'no dead letter for it');
  const snapshot = workers.metrics.snapshot().pipelines.failing!;
  assert.equal(snapshot.deadLetters, 0);
  assert.equal(snapshot.abandoned, 1);
});

test('a processor stop() that never returns holds shutdown for at most work.shutdownTimeoutMs', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const config = testConfig(dir, { 'work.shutdownTimeoutMs': 300, pipelines: [{ name: 'stuck', stream: 's', group: 'g' }] });
  let stopCalled = false;
  const processor = defineProcessor({
    process() {},
    // A pool end waiting for a query that never ends.
    stop: () => {
      stopCalled = true;
      return new Promise<void>(() => undefined);
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { stuck: processor } });
  const t0 = Date.now();
  const stopped = await Promise.race([workers.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000).unref())]);
  assert.ok(stopped, 'workers.stop() returned');
  assert.ok(stopCalled);
  assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
});
