// Processors are user code: they may consume batch.items as a queue, change the events they were given,
// return a result of the wrong shape or throw an empty string. None of that may lose a record, corrupt a
// retry, or leave a dead letter without a readable reason.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor, type Processor } from '../../src/work/types.js';
import { parseDeadLetter, type DeadLetterInfo } from '../../src/work/dead-letter.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

/** Runs `processor` over `bodies` (one batch) until the group committed them all; returns the dead letters. */
async function runPipeline(t: TestContext, processor: Processor, bodies: string[]): Promise<DeadLetterInfo[]> {
  const { dir, log } = await streamWithRecords(t, bodies);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxWaitMs: 0, maxAttempts: 2 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0.5, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit every record', async () => (await log.getPosition('g', 's', 0)) === bodies.length);
  await workers.stop();
  if (!(await log.listStreams()).includes('s.dlq')) return [];
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 100 });
  return records.map((r) => parseDeadLetter(r)!.info);
}

test('a processor that takes items out of batch.items and throws: every record is retried and dead-lettered, none committed unseen', async (t) => {
  const letters = await runPipeline(
    t,
    defineProcessor({
      process(batch) {
        // A queue-style loop: shift() empties the array the runtime handed over.
        while (batch.items.length > 0) {
          const item = batch.items.shift()!;
          throw new Error(`cannot deliver ${item.offset}`);
        }
      },
    }),
    ['{"n":0}', '{"n":1}', '{"n":2}'],
  );
  assert.deepEqual(
    letters.map((l) => [l.offset, l.kind, l.reason]),
    [0, 1, 2].map((n) => [n, 'processor', `cannot deliver ${n}`]),
  );
});

test('a retried call sees the events as decoded from the body, not as the failed call left them', async (t) => {
  const seen: number[] = [];
  let calls = 0;
  await runPipeline(
    t,
    defineProcessor({
      process(batch) {
        for (const item of batch.items) {
          for (const event of item.events() as { amount: number }[]) {
            event.amount *= 100; // to cents, in place
            seen.push(event.amount);
          }
        }
        if (++calls === 1) throw new Error('database hiccup');
      },
    }),
    ['{"amount":3}'],
  );
  assert.deepEqual(seen, [300, 300], 'the retry converts 3 again, not 300');
});

test('a result whose "failed" is not an array of objects: the records become dead letters whose reason says so', async (t) => {
  const letters = await runPipeline(
    t,
    defineProcessor({
      process(batch) {
        // A single entry where a list belongs.
        return { failed: { item: batch.items[0]!, reason: 'bad row' } as never };
      },
    }),
    ['{"n":0}', '{"n":1}'],
  );
  assert.deepEqual(letters.map((l) => [l.offset, l.kind]), [[0, 'processor'], [1, 'processor']]);
  for (const l of letters) assert.match(l.reason, /^the processor returned an invalid result: "failed" must be an array of \{ item, reason \}/);
});

test('a processor that throws an empty string or undefined: the dead letter still has a reason', async (t) => {
  let calls = 0;
  const letters = await runPipeline(
    t,
    defineProcessor({
      process() {
        throw calls++ % 2 === 0 ? '' : undefined;
      },
    }),
    ['{"n":0}'],
  );
  assert.equal(letters.length, 1);
  assert.match(letters[0]!.reason, /^(""|undefined) was thrown \(not an Error\)$/);
});
