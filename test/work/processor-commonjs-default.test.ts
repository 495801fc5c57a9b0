// TypeScript compiled to CommonJS (tsc's default) exports `exports.default = factory`. Node imports a CommonJS
// module with module.exports as its default export, so the factory sat one level down: a processor object there
// was found, a factory was refused as "must export default defineProcessor(...)". Run in a plain Node child on
// dist/ (npm run build first): under tsx, as the tests run, the import already unwraps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { ROOT, cleanEnv } from './work-helpers.js';

test('a CommonJS module with exports.default = a factory or a processor loads under plain Node', (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const head = '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n';
  writeFileSync(join(dir, 'factory.cjs'), `${head}exports.default = function (options, context) { return { label: options.prefix + ':' + context.stream, async process() {} }; };\n`);
  writeFileSync(join(dir, 'object.cjs'), `${head}exports.default = { label: 'object', async process() {} };\n`);
  const loader = pathToFileURL(join(ROOT, 'dist/work/processor-loader.js')).href;
  const config = pathToFileURL(join(ROOT, 'dist/work/pipeline-config.js')).href;
  const script = `
    import { loadProcessor } from ${JSON.stringify(loader)};
    import { defaultPipeline } from ${JSON.stringify(config)};
    for (const file of ['factory.cjs', 'object.cjs']) {
      const pipeline = { ...defaultPipeline('orders'), processor: ${JSON.stringify(dir)} + '/' + file, options: { prefix: 'px' } };
      try {
        const p = await loadProcessor(pipeline, { dataDir: ${JSON.stringify(dir)}, pipeline: pipeline.name, stream: 'orders', group: 'g' });
        console.log(file, p.label);
      } catch (err) {
        console.log(file, err.message);
      }
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['factory.cjs px:orders', 'object.cjs object']);
});
