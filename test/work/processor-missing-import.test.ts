// A .ts processor importing a module that is not there failed to load with tsx's message, which names the
// processor as "processor.ts?namespace=<uuid>": the query, tsx's own, is noise in the one line the CLI prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { removeDir, tempDir } from '../helpers/embedded.js';

test('a .ts processor importing a missing module names it and the processor, without tsx\'s ?namespace= query', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'imports-missing.ts');
  writeFileSync(file, 'import { helper } from "./no-such-helper.js";\nexport default { async process(): Promise<void> { helper(); } };\n');
  const pipeline = { ...defaultPipeline('orders'), processor: file };
  await assert.rejects(loadProcessor(pipeline, { dataDir: dir, pipeline: pipeline.name, stream: 'orders', group: 'g' }), (e) => {
    assert.ok(isHopperError(e, 'HOPPER_PROCESSOR_INVALID'), String(e));
    assert.doesNotMatch(e.message, /\n|namespace=/);
    assert.match(e.message, /failed to load: Cannot find module '\.\/no-such-helper\.js'/);
    assert.ok(e.message.includes(file), e.message);
    return true;
  });
});
