// An invalid stream schema stops the worker start with one line naming where it is in the config, also when
// no pipeline is configured (default pipelines) and when its stream does not exist yet: it used to be found
// only when the stream's default pipeline started, which then was skipped (a log line) and its records never processed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { isHopperError } from '../../src/errors.js';
import { testConfig } from './work-helpers.js';

test('a bad schema of a configured stream or of defaultStream is a start error, with or without pipelines', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('ev', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const bad = { type: 'objekt' };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ streams: { ev: { schema: bad } } }, /^config streams\.ev\.schema is not a valid JSON Schema: /],
    [{ streams: { later: { schema: bad } } }, /^config streams\.later\.schema is not a valid JSON Schema: /],
    [{ streams: { later: { schema: bad } }, pipelines: [{ stream: 'ev', processor: 'noop' }] }, /^config streams\.later\.schema is not a valid JSON Schema: /],
    [{ defaultStream: { schema: bad } }, /^config defaultStream\.schema is not a valid JSON Schema: /],
  ];
  for (const [overrides, message] of cases) {
    const outcome = await startWorkers(testConfig(dir, overrides), log, createLogger('silent')).then(
      async (workers) => {
        await workers.stop();
        return 'started';
      },
      (err: unknown) => err,
    );
    assert.ok(isHopperError(outcome, 'HOPPER_CONFIG_INVALID') && message.test(outcome.message) && !outcome.message.includes('\n'), `${JSON.stringify(overrides)}: ${String(outcome)}`);
  }
});
