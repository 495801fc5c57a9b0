// A processor module, factory or start() that rejects with a plain object (some clients reject with
// { code, message }) failed to start with "[object Object] was thrown (not an Error)": its message was lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { thrownMessage } from '../../src/work/thrown-message.js';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

test('thrownMessage describes plain objects by their message, else their JSON', () => {
  assert.equal(thrownMessage({ code: '28P01', message: 'password authentication failed' }), 'password authentication failed');
  assert.equal(thrownMessage({ code: 'E_DOWN' }), '{"code":"E_DOWN"} was thrown (not an Error)');
  assert.equal(thrownMessage(new Error('plain')), 'plain');
  assert.equal(thrownMessage('down'), 'down');
  assert.equal(thrownMessage(null), 'null was thrown (not an Error)');
  assert.equal(thrownMessage({ toString: () => 'custom text' }), 'custom text');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(thrownMessage(cyclic), /cannot be described/);
  assert.ok(thrownMessage({ big: 'x'.repeat(5000) }).length < 1100);
});

test('a factory rejecting with a plain object fails to load with the object\'s message', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'factory.mjs');
  writeFileSync(file, 'export default async () => { throw { code: "28P01", message: "password authentication failed" }; };\n');
  const pipeline = { ...defaultPipeline('orders'), processor: file };
  await assert.rejects(loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' }), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PROCESSOR_INVALID'), String(e));
    assert.match(e.message, /factory threw: password authentication failed$/);
    return true;
  });
});
