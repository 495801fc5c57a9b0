// An AggregateError was retriable when ANY of its errors was a network error, so one mixing a record's own failure
// (a bad row) with a connection reset was retried forever: its records never became dead letters and the pipeline
// stalled on them. It is now retriable only when it holds errors and every one of them is retriable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { isRetriable, RetriableError } from '../../src/work/retriable-error.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

const reset = (): Error => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

test('an AggregateError is retriable only when it has errors and all of them are', () => {
  assert.equal(isRetriable(new AggregateError([reset(), Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })])), true);
  assert.equal(isRetriable(new AggregateError([reset(), new RetriableError('busy')])), true);
  assert.equal(isRetriable(new AggregateError([new TypeError('bad row'), reset()])), false);
  assert.equal(isRetriable(new AggregateError([reset(), 'not an error'])), false);
  assert.equal(isRetriable(new AggregateError([])), false);
  // Nested: the inner AggregateError's mix makes the outer one not retriable; wrapped in a cause, the same.
  const mixed = new AggregateError([reset(), new AggregateError([reset(), new Error('duplicate key')])]);
  assert.equal(isRetriable(mixed), false);
  assert.equal(isRetriable(new Error('write failed', { cause: mixed })), false);
  assert.equal(isRetriable(new Error('write failed', { cause: new AggregateError([reset(), reset()]) })), true);
  // Too many to look at each: an ordinary failure (attempts counted), not retried without end.
  assert.equal(isRetriable(new AggregateError(Array.from({ length: 10_000 }, reset))), false);
  // The limit the README states: 256 errors looked at, the AggregateError itself among them.
  assert.equal(isRetriable(new AggregateError(Array.from({ length: 255 }, reset))), true);
  assert.equal(isRetriable(new AggregateError(Array.from({ length: 256 }, reset))), false);
  const self = new AggregateError([reset()]) as AggregateError & { errors: unknown[] };
  self.errors.push(self);
  assert.equal(isRetriable(self), false);
});

test('a processor throwing an AggregateError of a bad row and a reset: its record is dead-lettered', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxWaitMs: 0, maxAttempts: 2 }] });
  let calls = 0;
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) {
        if ((item.events()[0] as { n: number }).n === 1) {
          // Guards against the old behaviour looping without end.
          if (++calls > 50) return;
          throw new AggregateError([new Error('row 1: column "n" is not unique'), reset()], 'bulk write failed');
        }
      }
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.ok(calls <= 50, `retried ${calls} times`);
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(records.map((r) => parseDeadLetter(r)!.info.offset), [1]);
});
