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
  assert.ok(thrownMessage({ big: 'x'.repeat(5000) }).length < 1100);
});

// JSON.stringify of the whole object threw at a cycle or a BigInt, so such an object read "a value that cannot be
// described was thrown", its code lost, and a huge object was written whole before being cut to 1000 characters.
test('thrownMessage describes circular, BigInt-holding and huge objects, cut as it writes them', () => {
  const cyclic: Record<string, unknown> = { code: 'E_POOL', pool: { size: 2 } };
  (cyclic.pool as Record<string, unknown>).owner = cyclic;
  cyclic.self = cyclic;
  assert.equal(thrownMessage(cyclic), '{"code":"E_POOL","pool":{"size":2,"owner":"[Circular]"},"self":"[Circular]"} was thrown (not an Error)');
  assert.equal(thrownMessage({ code: 'E_ROW', id: 9007199254740993n }), '{"code":"E_ROW","id":"9007199254740993n"} was thrown (not an Error)');
  assert.equal(thrownMessage({ a: { b: { c: { d: { e: 1 } } } }, list: [1, [2, [3, [4]]]] }), '{"a":{"b":{"c":{"d":"{...}"}}},"list":[1,[2,[3,"[...]"]]]} was thrown (not an Error)');

  // A response of 100,000 rows: its code first, then what fits. A getter on a row past the cut is never read.
  let readPastCut = false;
  const rows = Array.from({ length: 100_000 }, (_, i) => ({ i, text: 'x'.repeat(100) }));
  Object.defineProperty(rows[99_999], 'late', { enumerable: true, get: () => (readPastCut = true) });
  const huge = thrownMessage({ code: 'E_HUGE', rows });
  assert.ok(huge.startsWith('{"code":"E_HUGE","rows":[{"i":0,"text":"xxx'), huge.slice(0, 100));
  assert.ok(huge.endsWith(' was thrown (not an Error)') && huge.length < 1100, String(huge.length));
  assert.equal(readPastCut, false);
  const manyKeys = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
  assert.ok(thrownMessage(manyKeys).length < 1100);

  // A getter that throws while it is written: the keys are still listed.
  const getterThrows = Object.defineProperty({ code: 'E_X' }, 'conn', { enumerable: true, get: () => { throw new Error('closed'); } });
  assert.equal(thrownMessage(getterThrows), 'an object with keys code, conn was thrown (not an Error; writing it as JSON threw)');
  assert.equal(thrownMessage(Object.assign(Object.create(null), { code: 'E_BARE' })), '{"code":"E_BARE"} was thrown (not an Error)');
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
