// A processor that changes item.body in place (a decryption, a redaction) and then rejects the item: the dead
// letter carried the changed bytes, not those received, and a requeue sent the changed bytes through again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

test('a body changed in place by the processor leaves the record and its dead letter as received', async (t) => {
  const bodies = ['{"secret":"a"}', '{"secret":"b"}'];
  const { dir, log } = await streamWithRecords(t, bodies);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxWaitMs: 0 }] });
  const seen: string[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) {
        item.body.fill(0x58); // in place
        seen.push(item.body.toString());
      }
      return { failed: batch.items.map((item) => ({ item, reason: 'redacted, then refused' })) };
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit every record', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  assert.deepEqual(seen, ['XXXXXXXXXXXXXX', 'XXXXXXXXXXXXXX'], 'the processor changed its copy');
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(
    records.map((r) => parseDeadLetter(r)!.body.toString()),
    bodies,
    'the dead letters carry the bodies as received',
  );
});
