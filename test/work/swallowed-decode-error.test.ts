// A record whose events() threw goes to the dead-letter stream even when the processor
// catches the DecodeError and returns normally: it is never committed as if delivered.
// And decoding is lazy: a processor that reads only the raw bytes never decodes, so a
// body that is not valid for its content type is processed like any other.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';


/** A log whose stream s holds {"n":0}, a malformed JSON body (request id "bad") and {"n":2}, and a one-pipeline config for it. */
async function logWithMalformedRecord(t: TestContext) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [record('{"n":0}'), record('{"n":', { requestId: 'bad' }), record('{"n":2}')], 'durable');
  return { log, config: testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxRecords: 10, batchMaxWaitMs: 0 }] }) };
}

test('a decode error the processor swallowed still makes a dead letter', async (t) => {
  const { log, config } = await logWithMalformedRecord(t);
  const seen: unknown[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) {
        try {
          seen.push(...item.events());
        } catch {
          // skipped: the runtime must still dead-letter it
        }
      }
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the 3 records', async () => (await log.getPosition('g', 's', 0)) === 3);
  await workers.stop();

  assert.deepEqual(seen, [{ n: 0 }, { n: 2 }]);
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(letters.map((l) => [l.offset, l.requestId, l.kind, l.code]), [[1, 'bad', 'decode', 'HOPPER_DECODE_FAILED']]);
  assert.equal(workers.metrics.snapshot().pipelines.p?.deadLetters, 1);
});

test('a processor that never asks for events never decodes: a malformed body is processed and committed, no dead letter', async (t) => {
  const { log, config } = await logWithMalformedRecord(t);
  const bodies: string[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) bodies.push(item.body.toString());
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the 3 records', async () => (await log.getPosition('g', 's', 0)) === 3);
  await workers.stop();

  assert.deepEqual(bodies, ['{"n":0}', '{"n":', '{"n":2}']);
  assert.equal(workers.metrics.snapshot().pipelines.p?.deadLetters ?? 0, 0);
  const dlq = await log.listPartitions('s.dlq').catch(() => []);
  for (const partition of dlq) assert.equal((await log.read('s.dlq', partition, 0, { maxRecords: 10 })).records.length, 0);
});
