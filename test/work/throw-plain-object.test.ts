// Some clients reject with a plain object ({ code, message }, as JSON-RPC errors come) rather than an
// Error: a processor passing that on made dead letters whose reason read "[object Object]".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

test('a plain object thrown by a processor: the dead letter reason is its message, or its JSON', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) {
        const { n } = item.events()[0] as { n: number };
        throw n === 0 ? { code: -32602, message: 'invalid params: n' } : { code: -32603 };
      }
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: 1, batchMaxWaitMs: 0, maxAttempts: 2 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit both records', async () => (await log.getPosition('g', 's', 0)) === 2);
  await workers.stop();
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(
    records.map((r) => parseDeadLetter(r)!.info).map((l) => [l.offset, l.reason]),
    [
      [0, 'invalid params: n'],
      [1, '{"code":-32603} was thrown (not an Error)'],
    ],
  );
});

// The executor had its own copy of thrownMessage built on JSON.stringify, which threw at a cycle or a BigInt: the
// reason read "a value that cannot be described was thrown" and the error's code was lost.
test('a thrown object with a cycle, a BigInt and a body: the dead letter reason still shows its code', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}']);
  const processor = defineProcessor({
    process() {
      const thrown: Record<string, unknown> = { code: 'E_X', n: 10n, body: Buffer.alloc(1024 * 1024) };
      thrown.self = thrown;
      throw thrown;
    },
  });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', batchMaxRecords: 1, batchMaxWaitMs: 0, maxAttempts: 1 }] });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the group to commit the record', async () => (await log.getPosition('g', 's', 0)) === 1);
  await workers.stop();
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  assert.deepEqual(
    records.map((r) => parseDeadLetter(r)!.info.reason),
    ['{"code":"E_X","n":"10n","body":"<Buffer 1048576 bytes>","self":"[Circular]"} was thrown (not an Error)'],
  );
});
