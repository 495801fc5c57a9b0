// With no pipelines configured, a stream whose name is valid at ingest but too long for a pipeline (61-64
// characters: its .dlq would pass 64) threw out of the discovery pass, every second, so the streams listed
// after it never got their default pipeline and their records were never processed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { record, testConfig, waitFor } from './work-helpers.js';

test('a stream name too long for a pipeline is skipped, and the streams listed after it still get theirs', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  const longName = 'a'.repeat(64);
  // Several short names: whatever order the log lists streams in, some come after the long one.
  const shortNames = ['s1', 's2', 's3', 's4', 'zz'];
  for (const stream of [longName, ...shortNames]) {
    await log.ensureStream(stream, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    await log.append(stream, 0, [record('{"n":1}')], 'durable');
  }
  assert.deepEqual((await log.listStreams()).sort(), [longName, ...shortNames]);
  const events: unknown[] = [];
  const processor = defineProcessor({
    process(batch) {
      for (const item of batch.items) events.push(...item.events());
    },
  });
  const config = testConfig(dir, { 'work.streamDiscoveryIntervalMs': 100 });
  const processors = Object.fromEntries(shortNames.map((s) => [`${s}.files`, processor]));
  const workers = await startWorkers(config, log, createLogger('silent'), { processors });
  t.after(() => workers.stop());
  await waitFor('the events of the short-named streams to be processed', () => events.length === shortNames.length);
  assert.deepEqual([...workers.pipelines()].sort(), shortNames.map((s) => `${s}.files`));
});
