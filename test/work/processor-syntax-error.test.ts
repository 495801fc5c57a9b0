// A TypeScript processor with a syntax error is HOPPER_PROCESSOR_INVALID in one line naming the file and
// where the error is: esbuild's message (through tsx) puts each error on a line of its own, and the CLI
// printed them as a second line after "failed to load: Transform failed with 1 error:".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

test('a .ts processor with syntax errors fails to load with a one-line message', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  // Written here, not kept as a fixture: the type check of test/ would fail on it.
  const file = join(dir, 'broken processor.ts');
  writeFileSync(file, 'export default {\n  async process(batch: {) {}\n  start(: void\n};\n');
  const pipeline = { ...defaultPipeline('orders'), processor: file };
  await assert.rejects(loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' }), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PROCESSOR_INVALID'), String(e));
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, /^pipeline orders\.files: processor ".*broken processor\.ts" failed to load: Transform failed with \d+ errors?: .*broken processor\.ts:2:\d+: ERROR: /);
    return true;
  });
});
