// Loading a pipeline's processor: built-in sinks by name, .mjs modules (object or
// factory), .ts modules through tsx, and clear errors for everything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadProcessor } from '../../src/work/processor-loader.js';
import { defaultPipeline, resolvePipelines, type ResolvedPipeline } from '../../src/work/pipeline-config.js';
import { isHopperError } from '../../src/errors.js';
import { testConfig } from './work-helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const context = { dataDir: '/tmp/x', pipeline: 'p', stream: 'orders', group: 'g' };
const pipeline = (processor: string, options: Record<string, unknown> = {}): ResolvedPipeline => ({ ...defaultPipeline('orders'), processor, options });

test('built-in sinks, module objects, factories and TypeScript modules load', async () => {
  const files = await loadProcessor(pipeline('noop'), context);
  assert.equal(typeof files.process, 'function');
  const made = (await loadProcessor(pipeline(fixture('factory-processor.mjs'), { prefix: 'px' }), context)) as unknown as { label: string };
  assert.equal(made.label, 'px:orders');
  const typed = (await loadProcessor(pipeline(fixture('typed-processor.ts')), context)) as unknown as { seen: number[] };
  assert.ok(Array.isArray(typed.seen));
});

test('a missing file or a module without process() is HOPPER_PROCESSOR_INVALID naming the pipeline', async () => {
  await assert.rejects(loadProcessor(pipeline('./no/such/module.js'), context), (e) => isHopperError(e, 'HOPPER_PROCESSOR_INVALID') && /neither a built-in sink \(files, noop/.test(e.message) && /pipeline orders\.files/.test(e.message));
  await assert.rejects(loadProcessor(pipeline(fixture('not-a-processor.mjs')), context), (e) => isHopperError(e, 'HOPPER_PROCESSOR_INVALID') && /must export default defineProcessor/.test(e.message));
});

test('pipeline names and groups default from the stream and processor; duplicates are refused', () => {
  const config = testConfig('/tmp', { pipelines: [{ stream: 'a' }, { stream: 'b', processor: './lib/my-proc.mjs' }] });
  const [a, b] = resolvePipelines(config);
  assert.deepEqual([a!.name, a!.group, a!.processor, a!.batchMaxRecords], ['a.files', 'files', 'files', 1000]);
  assert.deepEqual([b!.name, b!.group], ['b.my-proc', 'my-proc']);
  assert.throws(() => resolvePipelines(testConfig('/tmp', { pipelines: [{ stream: 'a' }, { stream: 'a' }] })), (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && /used by two pipelines/.test(e.message));
  assert.throws(() => resolvePipelines(testConfig('/tmp', { pipelines: [{ stream: 'x'.repeat(61) }] })), (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && /too long/.test(e.message));
  // Two pipelines of one stream in one group (the processor's name by default) would share one position.
  const sameGroup = { pipelines: [{ name: 'main', stream: 'a', processor: 'noop' }, { name: 'audit', stream: 'a', processor: 'noop' }] };
  assert.throws(
    () => resolvePipelines(testConfig('/tmp', sameGroup)),
    (e) => isHopperError(e, 'HOPPER_CONFIG_INVALID') && e.message.startsWith('config pipelines.1.group "noop" reads stream "a" like pipelines.0: give each pipeline of a stream its own group'),
  );
  const ownGroups = { pipelines: [{ name: 'main', stream: 'a', processor: 'noop' }, { name: 'audit', stream: 'a', processor: 'noop', group: 'audit' }, { stream: 'b', processor: 'noop' }] };
  assert.deepEqual(resolvePipelines(testConfig('/tmp', ownGroups)).map((p) => p.group), ['noop', 'audit', 'noop']);
});

test('a module or factory throwing a non-Error (null, undefined) is HOPPER_PROCESSOR_INVALID naming the pipeline and processor', async () => {
  const cases: [string, RegExp][] = [
    ['factory-throws-null.mjs', /factory threw: null was thrown \(not an Error\)/],
    ['import-throws-undefined.mjs', /failed to load: undefined was thrown \(not an Error\)/],
  ];
  for (const [name, why] of cases) {
    await assert.rejects(
      loadProcessor(pipeline(fixture(name)), context),
      (e) => isHopperError(e, 'HOPPER_PROCESSOR_INVALID') && /^pipeline orders\.files: processor ".*" /.test(e.message) && e.message.includes(name) && why.test(e.message),
    );
  }
});
