// A JavaScript processor with a syntax error: V8's message says only what is wrong ("Unexpected token '}'"),
// and for an ES module neither the message nor the stack says where, so the one line the CLI printed gave
// no file and no line. The message now ends with the place, as it does for a .ts module (esbuild's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
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
