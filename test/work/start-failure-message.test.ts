// A processor whose start() throws (an Error, a string, null) stops startWorkers with one
// HOPPER_PIPELINE_FAILED error naming the pipeline and the processor; Hopper's own errors pass as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { HopperError, isHopperError } from '../../src/errors.js';
import { testConfig } from './work-helpers.js';

test('start() throwing anything is one clear error naming the pipeline', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const config = testConfig(dir, { pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop' }] });
  const cases: [unknown, RegExp][] = [
    ['db not reachable', /^pipeline p \(processor "noop"\) failed to start: db not reachable$/],
    [null, /^pipeline p \(processor "noop"\) failed to start: null was thrown \(not an Error\)$/],
    [new Error('boom'), /^pipeline p \(processor "noop"\) failed to start: boom$/],
  ];
  for (const [thrown, message] of cases) {
    const processor = defineProcessor({
      start() {
        throw thrown;
      },
      process() {},
    });
    await assert.rejects(startWorkers(config, log, createLogger('silent'), { processors: { p: processor } }), (e) => isHopperError(e, 'HOPPER_PIPELINE_FAILED') && message.test(e.message));
  }
  const own = new HopperError('HOPPER_CONFIG_INVALID', 'config options.x is invalid');
  const processor = defineProcessor({
    start() {
      throw own;
    },
    process() {},
  });
  await assert.rejects(startWorkers(config, log, createLogger('silent'), { processors: { p: processor } }), (e) => e === own);
});
