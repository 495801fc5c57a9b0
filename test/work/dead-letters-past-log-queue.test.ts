// A batch of large bad records: its dead letters, appended to S.dlq at once, weigh more than the
// embedded writer's whole queue (log.embedded.maxPendingBytes). They are stored and the batch is
// committed, and `hopper dlq requeue` appends them back, rather than HOPPER_BACKPRESSURE for ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { handleDeadLetters } from '../../src/work/dead-letter-queue.js';
import { record, testConfig, waitFor } from './work-helpers.js';

const QUEUE_BYTES = 256 * 1024;
const RECORDS = 10;
/** Unterminated JSON: each record is a decode dead letter of about 50 KB, 500 KB for the batch. */
const BAD_BODY = '{"x":"' + 'a'.repeat(50_000);

test('dead letters of one batch larger than the log writer queue are stored, the batch committed and requeued', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir, { maxPendingBytes: QUEUE_BYTES });
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i++) await log.append('s', 0, [record(BAD_BODY)], 'durable');
  const config = testConfig(dir, {
    'log.embedded.maxPendingBytes': QUEUE_BYTES,
    pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: RECORDS, initialBackoffMs: 1, maxBackoffMs: 10 }],
  });
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) item.events();
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the batch to be committed', async () => (await log.getPosition('g', 's', 0)) === RECORDS);
  await workers.stop();
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 100 });
  assert.equal(records.length, RECORDS, 'one dead letter per record');

  const r = await handleDeadLetters(log, 's', 'requeue', {});
  assert.equal(r.requeued, RECORDS);
  const back = await log.read('s', 0, RECORDS, { maxRecords: 100 });
  assert.equal(back.records.length, RECORDS, 'every original appended back');
  assert.equal(back.records[0]!.body.toString(), BAD_BODY);
});
