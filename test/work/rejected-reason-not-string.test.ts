// A processor that names a failed item with the Error it caught as the reason ({ item, reason: err }, easy
// in JavaScript): the dead letter read "rejected by the processor" and what went wrong was lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

test('a reason that is an Error or an object becomes its message; none at all stays the default', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}']);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxWaitMs: 0 }] });
  const reasons: unknown[] = [new RangeError('amount out of range'), { code: 'E42', message: 'duplicate key' }, 42, undefined];
  const processor = defineProcessor({
    process(batch) {
      return { failed: batch.items.map((item) => ({ item, reason: reasons[item.offset] as string })) };
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit every record', async () => (await log.getPosition('g', 's', 0)) === 4);
  await workers.stop();
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(
    letters.map((l) => [l.offset, l.kind, l.reason]),
    [
      [0, 'rejected', 'amount out of range'],
      [1, 'rejected', 'duplicate key'],
      [2, 'rejected', '42'],
      [3, 'rejected', 'rejected by the processor'],
    ],
  );
});
