// A JavaScript processor with a syntax error: V8's message says only what is wrong ("Unexpected token '}'"),
// and for an ES module neither the message nor the stack says where, so the one line the CLI printed gave
// no file and no line. The message now ends with the place, as it does for a .ts module (esbuild's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

async function loadError(dir: string, file: string): Promise<string> {
  const pipeline = { ...defaultPipeline('orders'), processor: join(dir, file) };
  try {
    await loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' });
  } catch (e) {
    assert.ok(isHopperError(e, 'HOPPER_PROCESSOR_INVALID'), String(e));
    assert.doesNotMatch(e.message, /\n/);
    return e.message;
  }
  throw new Error(`${file} loaded`);
}

test('a .mjs or .cjs processor with a syntax error fails to load naming the file and line', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const broken = 'export default {\n  async process(batch) {\n    return }}\n  }\n};\n';
  writeFileSync(join(dir, 'broken.mjs'), broken);
  writeFileSync(join(dir, 'broken.cjs'), broken.replace('export default', 'module.exports ='));
  for (const file of ['broken.mjs', 'broken.cjs']) {
    const message = await loadError(dir, file);
    assert.ok(message.endsWith(`failed to load: Unexpected token '}' (at ${join(dir, file)}:4)`), message);
  }
});

test('other syntax errors keep their message, with the place when Node knows it', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  writeFileSync(join(dir, 'lib.mjs'), 'export const x = 1;\n');
  writeFileSync(join(dir, 'named.mjs'), 'import { y } from "./lib.mjs";\nexport default { process() { return y; } };\n');
  const named = await loadError(dir, 'named.mjs');
  assert.ok(named.endsWith(`failed to load: The requested module './lib.mjs' does not provide an export named 'y' (at ${join(dir, 'named.mjs')}:1)`), named);
  // The broken module is one the processor imports: `node --check` of the processor finds nothing to add.
  writeFileSync(join(dir, 'broken-lib.mjs'), 'export const = 1;\n');
  writeFileSync(join(dir, 'imports-broken.mjs'), 'import "./broken-lib.mjs";\nexport default { process() {} };\n');
  const nested = await loadError(dir, 'imports-broken.mjs');
  assert.match(nested, /failed to load: Unexpected token '='$/);
});

// The place of an ES module's syntax error comes from `node --check`. It ran as a synchronous child process,
// stalling the whole process (ingest too, under serve --with-workers) at each load attempt of a broken pipeline,
// which is retried every 30 s at worst. It now runs asynchronously, and once per version of the file.
test('node --check runs without blocking the event loop, once per unchanged broken file', { skip: process.platform === 'win32' ? 'uses a shell script as node' : false }, async (t) => {
  const dir = tempDir();
  const realNode = process.execPath;
  t.after(() => {
    process.execPath = realNode;
    removeDir(dir);
  });
  // Stands in for node: counts its runs, and is slow enough for a timer to fire meanwhile unless the loop is blocked.
  const runs = join(dir, 'runs');
  const fakeNode = join(dir, 'node');
  writeFileSync(fakeNode, `#!/bin/sh\necho run >> '${runs}'\nsleep 0.5\nexec '${realNode}' "$@"\n`, { mode: 0o755 });
  process.execPath = fakeNode;
  const countRuns = (): number => (existsSync(runs) ? readFileSync(runs, 'utf8').split('\n').filter(Boolean).length : 0);
  const file = join(dir, 'broken.mjs');
  writeFileSync(file, 'export default {\n  async process(batch) {\n    return }}\n  }\n};\n');

  let timerFired = false;
  const timer = setTimeout(() => (timerFired = true), 50);
  const first = await loadError(dir, 'broken.mjs');
  clearTimeout(timer);
  assert.ok(first.endsWith(`(at ${file}:4)`), first);
  assert.equal(timerFired, true, 'a timer fired while node --check ran');
  assert.equal(countRuns(), 1);

  const again = await loadError(dir, 'broken.mjs');
  assert.ok(again.endsWith(`(at ${file}:4)`), again);
  assert.equal(countRuns(), 1, 'the unchanged file was not checked again');

  // Another version of the file is checked anew (under another pipeline name: a fresh import of it).
  writeFileSync(file, 'export default {\n  process() { return ) },\n};\n');
  const pipeline = { ...defaultPipeline('changed'), processor: file };
  await assert.rejects(loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' }), (e: Error) => {
    assert.ok(e.message.endsWith(`(at ${file}:2)`), e.message);
    return true;
  });
  assert.equal(countRuns(), 2);
});
