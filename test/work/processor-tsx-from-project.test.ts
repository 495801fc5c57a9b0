// A .ts processor loads through tsx, which Hopper does not depend on: the user installs it in their project.
// Hopper looked for it only from its own files, so with Hopper installed where the project's node_modules is not
// on its path (npm install -g, pnpm's strict layout) the processor failed with "tsx is not installed: run
// `npm install tsx`", which the user had done. tsx is now also looked for from the processor's own directory.
// Run in a plain Node child on a copy of dist/ (npm run build first) whose node_modules has no tsx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { removeDir, tempDir } from '../helpers/embedded.js';
import { ROOT, cleanEnv } from './work-helpers.js';

function load(hopperDir: string, processor: string): { status: number | null; out: string; err: string } {
  const script = `
    import { loadProcessor } from ${JSON.stringify(pathToFileURL(join(hopperDir, 'dist/work/processor-loader.js')).href)};
    import { defaultPipeline } from ${JSON.stringify(pathToFileURL(join(hopperDir, 'dist/work/pipeline-config.js')).href)};
    const pipeline = { ...defaultPipeline('orders'), processor: ${JSON.stringify(processor)} };
    try {
      const p = await loadProcessor(pipeline, { dataDir: '/tmp', pipeline: pipeline.name, stream: 'orders', group: 'g' });
      console.log('loaded', p.label);
    } catch (err) {
      console.log(err.message);
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: hopperDir, encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr };
}

test('a .ts processor loads with tsx installed in its project and not beside Hopper; without tsx anywhere the error says so', (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  // Hopper installed on its own: its dist/ and its dependencies, without tsx.
  const hopper = join(dir, 'hopper');
  mkdirSync(join(hopper, 'node_modules'), { recursive: true });
  writeFileSync(join(hopper, 'package.json'), '{"type":"module"}');
  cpSync(join(ROOT, 'dist'), join(hopper, 'dist'), { recursive: true });
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name !== 'tsx' && name !== '.bin') symlinkSync(join(ROOT, 'node_modules', name), join(hopper, 'node_modules', name));
  }
  const source = 'export default { label: "typed" as string, async process(batch: unknown): Promise<void> {} };\n';
  // The user's project, with tsx installed.
  const project = join(dir, 'project');
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules', 'tsx'), join(project, 'node_modules', 'tsx'));
  writeFileSync(join(project, 'processor.ts'), source);
  const withTsx = load(hopper, join(project, 'processor.ts'));
  assert.equal(withTsx.status, 0, withTsx.err);
  assert.equal(withTsx.out, 'loaded typed');
  // A project without tsx: the error tells to install it.
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  writeFileSync(join(bare, 'processor.ts'), source);
  const withoutTsx = load(hopper, join(bare, 'processor.ts'));
  assert.equal(withoutTsx.status, 0, withoutTsx.err);
  assert.match(withoutTsx.out, /is TypeScript and tsx is not installed: run `npm install tsx`/);
});
