// A processor that hands a sink objects standing for its items (Object.create(item) with its own events(),
// as examples/gps does) and passes the sink's `failed` on: those entries name the wrappers, not the items.
// They were ignored with a warning and their records committed as delivered; they are dead letters now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor, type BatchItem, type ProcessResult } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

test('an item named in `failed` through an object standing for it is a dead letter, not committed as delivered', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [0, 1, 2].map((n) => record(JSON.stringify({ n }))), 'durable');
  // The "sink": refuses odd numbers, naming the items it was given.
  const sink = (items: BatchItem[]): ProcessResult => ({
    failed: items.filter((i) => (i.events()[0] as { n: number }).n % 2 === 1).map((item) => ({ item, reason: 'odd number' })),
  });
  const processor = defineProcessor({
    process(batch) {
      const wrapped = batch.items.map((item) => Object.create(item, { events: { value: () => item.events() } }) as BatchItem);
      return sink(wrapped);
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxWaitMs: 0 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit every record', async () => (await log.getPosition('g', 's', 0)) === 3);
  await workers.stop();
  assert.ok((await log.listStreams()).includes('s.dlq'), 'the refused record went to the dead-letter stream');
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(
    records.map((r) => parseDeadLetter(r)!.info).map((i) => [i.offset, i.kind, i.reason]),
    [[1, 'rejected', 'odd number']],
  );
});
