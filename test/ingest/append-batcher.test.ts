// Appends go to the log in small eager batches per stream and ack level (the rest at the end of the
// turn), with consecutive offsets handed back to each waiter in order; a locked partition is waited for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppendBatcher, EAGER_BATCH_RECORDS } from '../../src/ingest/append-batcher.js';
import { Backpressure } from '../../src/ingest/backpressure.js';
import { IngestStats } from '../../src/ingest/ingest-stats.js';
import type { StreamEntry } from '../../src/ingest/stream-registry.js';
import { resolveSettings } from '../../src/ingest/stream-registry.js';
import { HopperError } from '../../src/errors.js';
import type { AckLevel, AppendResult, Log, RecordInput } from '../../src/log/types.js';
import { testConfig } from './ingest-fixture.js';

function fakeLog(calls: { stream: string; n: number; ack: AckLevel }[], fail: { locked: number; maxRecordBytes?: number }): Log {
  let next = 0;
  return {
    append: async (stream: string, partition: number, records: RecordInput[], ack: AckLevel): Promise<AppendResult> => {
      calls.push({ stream, n: records.length, ack });
      if (fail.locked > 0) {
        fail.locked--;
        throw new HopperError('HOPPER_PARTITION_LOCKED');
      }
      // As the NATS log does past max_payload: the whole append is refused, nothing of it stored.
      if (records.some((r) => r.body.length > (fail.maxRecordBytes ?? Infinity))) throw new HopperError('HOPPER_BODY_TOO_LARGE');
      const firstOffset = ack === 'fast' ? -1 : next;
      next += records.length;
      return { partition, firstOffset, ack };
    },
    pendingBytes: () => 0,
  } as unknown as Log;
}

function entry(name: string): StreamEntry {
  return { name, settings: resolveSettings(testConfig('/tmp').defaultStream), ready: true, readyPromise: null, batches: [null, null, null] };
}

const record = (i: number): RecordInput => ({
  body: Buffer.from(String(i)),
  receivedAtUs: 1,
  contentType: '',
  contentEncoding: '',
  remoteAddress: '',
  requestId: String(i),
  idempotencyKey: '',
});

test('appends go to the log in eager batches of 8 per stream and ack level, the rest at the end of the turn', async () => {
  const calls: { stream: string; n: number; ack: AckLevel }[] = [];
  const log = fakeLog(calls, { locked: 0 });
  const stats = new IngestStats();
  const bp = new Backpressure(log, 1 << 20, 1 << 21);
  const batcher = new AppendBatcher({ log, partition: 3, stats, backpressure: bp, lockWaitMs: 1000, onUnexpectedError: () => undefined });
  const a = entry('a');
  const b = entry('b');
  const results: string[] = [];
  const waiter = (tag: string) => ({
    appended: (p: number, o: number, ack: AckLevel) => results.push(`${tag}:${p}:${o}:${ack}`),
    failed: (e: HopperError) => results.push(`${tag}:${e.code}`),
  });
  for (let i = 0; i < 50; i++) batcher.add(a, 2, record(i), waiter(`a${i}`));
  for (let i = 0; i < 5; i++) batcher.add(b, 2, record(i), waiter(`b${i}`));
  batcher.add(a, 0, record(99), waiter('fast'));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(EAGER_BATCH_RECORDS, 8);
  assert.deepEqual(calls, [
    ...Array.from({ length: 6 }, () => ({ stream: 'a', n: 8, ack: 'durable' })),
    { stream: 'a', n: 2, ack: 'durable' },
    { stream: 'b', n: 5, ack: 'durable' },
    { stream: 'a', n: 1, ack: 'fast' },
  ]);
  assert.equal(results[0], 'a0:3:0:durable');
  assert.equal(results[49], 'a49:3:49:durable');
  assert.equal(results[50], 'b0:3:50:durable');
  assert.equal(results[55], 'fast:3:-1:fast');
  assert.equal(stats.appendCalls, 9);
  assert.equal(stats.recordsAppended, 56);
  bp.stop();
});

test('a partition still locked by the process being replaced is retried, not refused', async () => {
  const calls: { stream: string; n: number; ack: AckLevel }[] = [];
  const log = fakeLog(calls, { locked: 3 });
  const bp = new Backpressure(log, 1 << 20, 1 << 21);
  const batcher = new AppendBatcher({ log, partition: 0, stats: new IngestStats(), backpressure: bp, lockWaitMs: 5000, onUnexpectedError: () => undefined });
  const outcome = await new Promise<string>((resolve) => {
    batcher.add(entry('a'), 2, record(1), { appended: (_p, o) => resolve(`ok ${o}`), failed: (e) => resolve(e.code) });
  });
  assert.equal(outcome, 'ok 0');
  assert.equal(calls.length, 4);
  bp.stop();
});

test('a batch refused as too large goes again one request at a time: only the oversized request gets 413', async () => {
  const calls: { stream: string; n: number; ack: AckLevel }[] = [];
  const log = fakeLog(calls, { locked: 0, maxRecordBytes: 10 });
  const bp = new Backpressure(log, 1 << 20, 1 << 21);
  const batcher = new AppendBatcher({ log, partition: 0, stats: new IngestStats(), backpressure: bp, lockWaitMs: 5000, onUnexpectedError: () => undefined });
  const bodies = ['a', 'b', 'x'.repeat(100), 'c'];
  const stream = entry('a');
  const outcomes = await Promise.all(
    bodies.map(
      (body, i) =>
        new Promise<string>((resolve) => {
          batcher.add(stream, 0, { ...record(i), body: Buffer.from(body) }, { appended: () => resolve('stored'), failed: (e) => resolve(e.code) });
        }),
    ),
  );
  assert.deepEqual(outcomes, ['stored', 'stored', 'HOPPER_BODY_TOO_LARGE', 'stored']);
  assert.deepEqual(calls.map((c) => c.n), [4, 1, 1, 1, 1], 'the batch of 4, then each request alone');
  bp.stop();
});
