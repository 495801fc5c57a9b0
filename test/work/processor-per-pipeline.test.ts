// Two pipelines running one .js/.mjs processor module shared its exported object (a .ts module, loaded through
// tsx, was already one per pipeline): what start() kept from ctx.options was the last pipeline's, so the other
// pipeline's records went to that pipeline's destination. Each pipeline now has its own instance of the module;
// a pipeline loaded again (a restart) gets the same one, as a .js module did and a .ts one did not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defaultPipeline, type ResolvedPipeline } from '../../src/work/pipeline-config.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';

// process() waits for both pipelines to have started, so that a shared object holds the second one's options.
const SOURCE = `
const state = (globalThis.__sharedProcessor ??= { written: [], started: 0 });
export default {
  async start(ctx) { this.target = ctx.options.target; state.started++; },
  async process(batch) {
    while (state.started < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    for (const item of batch.items) state.written.push(this.target + ':' + item.stream);
  },
};
`;

test('each pipeline gets its own instance of a processor module; the same pipeline the same one', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const file = join(dir, 'shared.mjs');
  writeFileSync(file, SOURCE);
  const context = (p: ResolvedPipeline) => ({ dataDir: dir, pipeline: p.name, stream: p.stream, group: p.group });
  const a = { ...defaultPipeline('a'), processor: file };
  const b = { ...defaultPipeline('b'), processor: file };
  const first = await loadProcessor(a, context(a));
  assert.notEqual(first, await loadProcessor(b, context(b)));
  assert.equal(first, await loadProcessor(a, context(a)));
  // A .ts module too: tsImport evaluated it anew on every load, so a restarted pipeline got a new copy each time.
  const typed = join(dir, 'shared.ts');
  writeFileSync(typed, 'export default { async process(batch: unknown): Promise<void> {} };\n');
  const ta = { ...a, processor: typed };
  const tb = { ...b, processor: typed };
  const typedFirst = await loadProcessor(ta, context(ta));
  assert.notEqual(typedFirst, await loadProcessor(tb, context(tb)));
  assert.equal(typedFirst, await loadProcessor(ta, context(ta)));
});

test('two pipelines on one module with different options write where their own options say', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  const file = join(dir, 'shared-target.mjs');
  writeFileSync(file, SOURCE);
  for (const stream of ['a', 'b']) {
    await log.ensureStream(stream, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    await log.append(stream, 0, [record('{"n":1}')], 'durable');
  }
  const state = { written: [] as string[], started: 0 };
  (globalThis as { __sharedProcessor?: typeof state }).__sharedProcessor = state;
  const config = testConfig(dir, {
    pipelines: [
      { name: 'pa', stream: 'a', group: 'g', processor: file, batchMaxWaitMs: 0, options: { target: 'table_a' } },
      { name: 'pb', stream: 'b', group: 'g', processor: file, batchMaxWaitMs: 0, options: { target: 'table_b' } },
    ],
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), random: () => 0 });
  t.after(() => workers.stop());
  await waitFor('both pipelines to commit', async () => (await log.getPosition('g', 'a', 0)) === 1 && (await log.getPosition('g', 'b', 0)) === 1);
  await workers.stop();
  assert.deepEqual(state.written.sort(), ['table_a:a', 'table_b:b']);
});
