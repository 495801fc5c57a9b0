// A processor call that never settles (a socket without a timeout, a promise nobody resolves) stalled its
// partition for good, with nothing in the logs. processTimeoutMs bounds each call: past it the call's
// ctx.signal aborts, a batch is split in halves and a single record retried after a backoff, never dead-lettered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

async function deadLetterCount(log: EmbeddedLog): Promise<number> {
  if (!(await log.listStreams()).includes('s.dlq')) return 0;
  return (await log.read('s.dlq', 0, 0, { maxRecords: 100 })).records.length;
}

test('a call that never settles is aborted after processTimeoutMs and the batch delivered again', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  const reasons: unknown[] = [];
  let calls = 0;
  const processor = defineProcessor({
    process(_batch, ctx) {
      calls++;
      if (calls > 1) return;
      return new Promise<void>(() => {
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
      });
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, maxAttempts: 1, processTimeoutMs: 100 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.equal(calls, 3, 'the hung call on both records, then one call on each half');
  assert.equal(reasons.length, 1, "the hung call's ctx.signal aborted once");
  assert.equal((reasons[0] as { code?: string }).code, 'HOPPER_PROCESS_TIMEOUT');
  assert.equal(await deadLetterCount(log), 0, 'a timeout never makes dead letters');
});

test('a call that always hangs is retried without end, never dead-lettered, and does not hold up a stop', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  let calls = 0;
  const processor = defineProcessor({
    process() {
      calls++;
      return new Promise<void>(() => undefined);
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, maxAttempts: 1, processTimeoutMs: 30 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  // maxAttempts 1 would split the batch and dead-letter each record after a few counted failures.
  await waitFor('several timed-out calls', () => calls >= 6);
  await workers.stop();
  assert.equal((await log.getPosition('g', 's', 0)) ?? 0, 0, 'nothing committed');
  assert.equal(await deadLetterCount(log), 0);
});

test('a batch whose call times out is split in halves until its calls finish, with no dead letter', async (t) => {
  const { dir, log } = await streamWithRecords(t, [0, 1, 2, 3].map((n) => `{"n":${n}}`));
  const sizes: number[] = [];
  // Too slow for the limit on more than one record at a time (a slow destination), fine on one.
  const processor = defineProcessor({
    process(batch) {
      sizes.push(batch.items.length);
      if (batch.items.length > 1) return new Promise<void>(() => undefined);
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, maxAttempts: 1, processTimeoutMs: 50 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the four records', async () => (await log.getPosition('g', 's', 0)) === 4);
  await workers.stop();
  assert.deepEqual(sizes, [4, 2, 1, 1, 2, 1, 1]);
  assert.equal(await deadLetterCount(log), 0);
});

test('an abandoned call that goes on using its items does not reach the retry of its records', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":1}']);
  let calls = 0;
  const seen: number[] = [];
  let mutated!: () => void;
  const afterMutation = new Promise<void>((resolve) => (mutated = resolve));
  const processor = defineProcessor({
    process(batch) {
      calls++;
      const item = batch.items[0]!;
      if (calls === 1) {
        item.events();
        // Wakes after its limit, while the retry runs, and changes the events in place.
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            (item.events()[0] as { n: number }).n *= 100;
            mutated();
            resolve();
          }, 300),
        );
      }
      return afterMutation.then(() => {
        seen.push((item.events()[0] as { n: number }).n);
      });
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, processTimeoutMs: 200 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the record', async () => (await log.getPosition('g', 's', 0)) === 1);
  await workers.stop();
  assert.deepEqual(seen, [1]);
});

test('a record split off by a timeout still gets maxAttempts calls of its own before it is a dead letter', async (t) => {
  const { dir, log } = await streamWithRecords(t, [0, 1, 2, 3].map((n) => `{"n":${n}}`));
  const aloneCallsOfZero: number[] = [];
  const processor = defineProcessor({
    process(batch) {
      const size = batch.items.length;
      if (size === 4) throw new Error('the batch fails');
      if (size === 2) return new Promise<void>(() => undefined);
      if (batch.items[0]!.offset === 0) {
        aloneCallsOfZero.push(batch.attempt);
        throw new Error('record 0 fails');
      }
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, maxAttempts: 3, processTimeoutMs: 50 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the four records', async () => (await log.getPosition('g', 's', 0)) === 4);
  await workers.stop();
  assert.equal(aloneCallsOfZero.length, 3, 'maxAttempts calls of record 0 alone');
  assert.equal(await deadLetterCount(log), 1);
});

test('processTimeoutMs 0: a slow call is waited for', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  let calls = 0;
  const processor = defineProcessor({
    async process() {
      calls++;
      await new Promise((r) => setTimeout(r, 200));
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, processTimeoutMs: 0 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.equal(calls, 1);
});
