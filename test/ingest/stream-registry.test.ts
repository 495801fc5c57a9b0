// The stream registry of one ingest process: ingest.maxStreams holds against concurrent first writes to
// many new names, and every stream created on first write has a rate limit of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HopperError } from '../../src/errors.js';
import { StreamRegistry } from '../../src/ingest/stream-registry.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { testConfig } from './ingest-fixture.js';

async function registry(t: import('node:test').TestContext, overrides: Record<string, unknown>) {
  const dataDir = tempDir('hopper-registry-');
  const log = openEmbedded(dataDir);
  t.after(async () => {
    await log.close();
    removeDir(dataDir);
  });
  const reg = new StreamRegistry({ log, config: testConfig(dataDir, overrides), partitions: 1 });
  await reg.init();
  return { reg, log };
}

test('concurrent first writes to new names cannot pass ingest.maxStreams', async (t) => {
  const { reg, log } = await registry(t, { 'ingest.maxStreams': 5 });
  // Another process created 4 streams since this one started: this registry has not seen them.
  for (const name of ['o1', 'o2', 'o3', 'o4']) await log.ensureStream(name, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // Five first writes in one event-loop turn (pipelined on one connection, say): one place is left.
  const entries = ['n1', 'n2', 'n3', 'n4', 'n5'].map((name) => reg.resolve(name));
  const results = await Promise.allSettled(entries.map((e) => e.readyPromise));
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(results.length - refused.length, 1, 'exactly one new stream was created');
  for (const r of refused) assert.equal((r.reason as HopperError).code, 'HOPPER_STREAM_LIMIT');
  assert.equal((await log.listStreams()).length, 5, 'the log holds ingest.maxStreams streams, not more');
});

test('a failed creation frees its place under ingest.maxStreams', async (t) => {
  const { reg, log } = await registry(t, { 'ingest.maxStreams': 1 });
  const ensure = log.ensureStream.bind(log);
  let fail = true;
  log.ensureStream = async (name, options) => {
    if (fail) throw new Error('disk on fire');
    return ensure(name, options);
  };
  await assert.rejects(reg.resolve('a').readyPromise!, /disk on fire/);
  fail = false;
  await reg.resolve('b').readyPromise;
  assert.deepEqual(await log.listStreams(), ['b']);
});

test('every stream created on first write has its own rate limit', async (t) => {
  const { reg } = await registry(t, { defaultStream: { rateLimitPerSecond: 3 } });
  const a = reg.resolve('a');
  const b = reg.resolve('b');
  await Promise.all([a.readyPromise, b.readyPromise]);
  const take = (limit: typeof a.settings.rateLimiter): number[] => [1, 2, 3, 4].map(() => limit!.take('10.0.0.1', 0));
  assert.deepEqual(take(a.settings.rateLimiter), [0, 0, 0, 1], 'a: the burst of 3, then wait');
  assert.deepEqual(take(b.settings.rateLimiter), [0, 0, 0, 1], 'b: a burst of its own, not what a left');
});
