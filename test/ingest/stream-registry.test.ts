// The stream registry of one ingest process: ingest.maxStreams holds against concurrent first writes to
// many new names, and every stream created on first write has a rate limit of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HopperError } from '../../src/errors.js';
import { StreamRegistry } from '../../src/ingest/stream-registry.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { Log } from '../../src/log/types.js';
import { connect } from 'node:net';
import { errorCode, post, readAll, startIngest, testConfig } from './ingest-fixture.js';

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

test('a write refused for backpressure creates no stream and no metrics series: a refused request never touches the log', async (t) => {
  const gate: { open: () => void; wait: Promise<void> } = { open: () => undefined, wait: Promise.resolve() };
  gate.wait = new Promise((resolve) => (gate.open = resolve));
  let stall = false;
  const f = await startIngest(t, {
    overrides: { 'ingest.maxPendingBytes': 8192, 'ingest.softPendingBytes': 8192 },
    wrapLog: (inner) =>
      new Proxy(inner, {
        get(target, prop, receiver) {
          if (prop === 'append') {
            return async (...args: Parameters<Log['append']>) => {
              if (stall) await gate.wait;
              return target.append(...args);
            };
          }
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }),
  });
  t.after(() => gate.open());
  assert.equal((await post(f.port, 'held', '{}')).status, 202);
  stall = true;
  const held = post(f.port, 'held', 'x'.repeat(6000)); // waits in the stalled log, holding 6000 of 8192 bytes
  while (f.server.handler.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
  const refused = await post(f.port, 'fresh', 'y'.repeat(4000));
  assert.equal(refused.status, 503);
  assert.equal(errorCode(refused), 'HOPPER_BACKPRESSURE');
  await new Promise((r) => setTimeout(r, 50)); // a creation started anyway would have reached the log by now
  assert.ok(!(await f.log.listStreams()).includes('fresh'), 'the refused write created its stream');
  assert.ok(!f.server.registry.names().includes('fresh'));
  assert.equal(f.server.stats.snapshot().streams.fresh, undefined, 'a refused name makes no metrics series');
  gate.open();
  assert.equal((await held).status, 202);
  assert.equal((await post(f.port, 'fresh', 'y')).status, 202, 'once the pressure is gone the stream is created');
  assert.ok((await f.log.listStreams()).includes('fresh'));
});

test('a body cut off (chunked past ingest.maxBodyBytes) or abandoned creates no stream: the stream is made once a body came whole', async (t) => {
  const f = await startIngest(t, { overrides: { 'ingest.maxBodyBytes': 100 } });
  const raw = (bytes: string) =>
    new Promise<string>((resolve) => {
      const s = connect(f.port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      s.on('close', () => resolve(got));
      s.on('connect', () => {
        s.write(bytes);
        // An abandoned body: the client goes away half way.
        if (!bytes.includes('chunked')) setTimeout(() => s.destroy(), 50);
      });
    });
  const tooLarge = await raw(`POST /v1/streams/cut HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nc8\r\n${'x'.repeat(200)}\r\n0\r\n\r\n`);
  assert.match(tooLarge, /^HTTP\/1\.1 413 /);
  await raw('POST /v1/streams/gone HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nhalf');
  await new Promise((r) => setTimeout(r, 50)); // a creation started anyway would have reached the log by now
  const streams = await f.log.listStreams();
  assert.ok(!streams.includes('cut') && !streams.includes('gone'), `refused or abandoned writes created ${streams.join(', ')}`);
  assert.deepEqual(f.server.registry.names(), []);
  assert.deepEqual(Object.keys(f.server.stats.snapshot().streams), [], 'no metrics series for names no write went to');
  // Concurrent first writes to one new name share one entry, and each gets its own offset.
  const replies = await Promise.all([0, 1, 2, 3].map((i) => post(f.port, 'cut', String(i))));
  assert.deepEqual(replies.map((r) => r.status), [202, 202, 202, 202]);
  assert.deepEqual(new Set(replies.map((r) => r.headers['hopper-offset'])).size, 4);
  assert.equal((await readAll(f.log, 'cut')).length, 4);
});

test('a write to the dead-letter stream of a 61- to 64-character stream is refused as reserved (403), as for any other', async (t) => {
  const f = await startIngest(t);
  for (const stem of ['s', 's'.repeat(64)]) {
    const r = await post(f.port, `${stem}.dlq`, '{}');
    assert.equal(r.status, 403, `${stem.length}: ${r.text}`);
    assert.equal(errorCode(r), 'HOPPER_STREAM_RESERVED');
  }
  const tooLong = await post(f.port, `${'s'.repeat(65)}.dlq`, '{}');
  assert.equal(errorCode(tooLong), 'HOPPER_STREAM_NAME_INVALID', 'no stream can have that one as its dead letters');
  assert.deepEqual(await f.log.listStreams(), []);
});
