// A call that ran past processTimeoutMs is abandoned, and the calls after it get fresh items (RecordItem.fork):
// the abandoned one may go on changing the events it holds. But when a record of that call had also failed to
// decode, the rest was retried at once with the same items, so a change the abandoned call made later reached
// the retry (an amount converted twice, say).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

test('an abandoned call whose batch also held an undecodable record does not reach the retry of the others', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":1}', 'not json']);
  let calls = 0;
  const seen: number[] = [];
  let mutated!: () => void;
  const afterMutation = new Promise<void>((resolve) => (mutated = resolve));
  const processor = defineProcessor({
    process(batch) {
      calls++;
      const good = batch.items[0]!;
      if (calls === 1) {
        for (const item of batch.items) {
          try {
            item.events();
          } catch {
            // the undecodable record: the runtime dead-letters it
          }
        }
        // Wakes after its limit, while the retry runs, and changes the events in place.
        return new Promise<void>((resolve) =>
          setTimeout(() => {
            (good.events()[0] as { n: number }).n *= 100;
            mutated();
            resolve();
          }, 300),
        );
      }
      return afterMutation.then(() => {
        seen.push((good.events()[0] as { n: number }).n);
      });
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0, processTimeoutMs: 200 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.deepEqual(seen, [1], 'the retry sees the record as decoded from its body');
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(records.map((r) => [parseDeadLetter(r)!.info.offset, parseDeadLetter(r)!.info.kind]), [[1, 'decode']]);
});
