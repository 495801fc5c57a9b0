// A processor may throw a value whose properties cannot be read (a revoked Proxy, a getter
// that throws): that is a failed batch like any other (retried, then a dead letter), never a
// crash of the pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { parseDeadLetter } from '../../src/work/dead-letter.js';
import { isRetriable } from '../../src/work/retriable-error.js';
import { fakeClock, streamWithRecords, testConfig, waitFor } from './work-helpers.js';

function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

test('isRetriable is false for values whose properties cannot be read', () => {
  assert.equal(isRetriable(revokedProxy()), false);
  const getterThrows = Object.defineProperty({}, 'retriable', {
    get() {
      throw new Error('no');
    },
  });
  assert.equal(isRetriable(getterThrows), false);
  assert.equal(isRetriable({ retriable: true }), true);
  assert.equal(isRetriable({ code: 'ECONNRESET' }), true);
});

test('a revoked Proxy thrown by a processor becomes a dead letter; the pipeline keeps running', async (t) => {
  const { dir, log } = await streamWithRecords(t, ['{"n":0}', '{"n":1}']);
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxRecords: 10, batchMaxWaitMs: 0, maxAttempts: 2 }] });
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) if ((item.events()[0] as { n: number }).n === 1) throw revokedProxy();
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0, processors: { p: processor } });
  t.after(() => workers.stop());
  let failure: unknown = null;
  workers.failed.catch((err: unknown) => (failure = err));
  await waitFor('the group to commit both records', async () => failure !== null || (await log.getPosition('g', 's', 0)) === 2);
  assert.equal(failure, null, 'the pipeline did not die');
  assert.equal(workers.metrics.snapshot().pipelines.p?.state, 'running');
  await workers.stop();
  const { records } = await log.read('s.dlq', 0, 0, { maxRecords: 10 });
  const letters = records.map((r) => parseDeadLetter(r)!.info);
  assert.deepEqual(letters.map((l) => [l.offset, l.kind]), [[1, 'processor']]);
  assert.match(letters[0]!.reason, /cannot be described/);
});
