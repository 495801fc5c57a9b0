// With no pipelines configured, a new stream's default pipeline whose start fails for a passing cause
// (the backend unreachable for a moment, the group's lease mutex contended) is started at a later
// discovery; only a stream that can never get one (a name too long for its .dlq) is skipped for good.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { HopperError } from '../../src/errors.js';
import type { ConsumerOptions, LogConsumer } from '../../src/log/types.js';
import { record, testConfig, waitFor } from './work-helpers.js';

test('a default pipeline whose start failed for a passing cause is started at the next discovery', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  const opened = log.openConsumer.bind(log);
  let failuresLeft = 2;
  log.openConsumer = (options: ConsumerOptions): Promise<LogConsumer> => {
    if (options.stream === 'late' && failuresLeft > 0) {
      failuresLeft--;
      return Promise.reject(failuresLeft === 1 ? new HopperError('HOPPER_LOG_UNAVAILABLE', 'the backend did not answer') : new Error('lease mutex contended for too long'));
    }
    return opened(options);
  };
  const events: unknown[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) events.push(...item.events());
    },
  });
  const config = testConfig(dir, { 'work.streamDiscoveryIntervalMs': 100 });
  const workers = await startWorkers(config, log, createLogger('silent'), { processors: { 'late.files': processor } });
  t.after(() => workers.stop());
  await log.ensureStream('late', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('late', 0, [record('{"n":1}')], 'durable');
  await waitFor('the event to be processed', () => events.length === 1);
  assert.equal(failuresLeft, 0);
  assert.deepEqual(workers.pipelines(), ['late.files']);
});
