// The request head in memory. Header values are views into the head's text, so whatever keeps one keeps the whole
// head (up to ingest.maxHeaderBytes): a write waiting for its answer counts its head against
// ingest.maxPendingBytes, and a record handed to the log holds copies of its metadata, not views.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { AckLevel, AppendResult, Log, RecordInput } from '../../src/log/types.js';
import { errorCode, post, startIngest, type Reply } from './ingest-fixture.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const PAD = 'p'.repeat(60 * 1024);
const BIG_HEADS = { 'ingest.maxHeaderBytes': 128 * 1024 };

/** A log with its appends replaced: `append` decides what happens to each call. */
function withAppend(inner: Log, append: (records: RecordInput[], ack: AckLevel) => Promise<AppendResult>): Log {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') return (_s: string, _p: number, records: RecordInput[], ack: AckLevel) => append(records, ack);
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

test('a write waiting for the log counts its head against maxPendingBytes, not only its body', async (t) => {
  const gate: (() => void)[] = [];
  let stalled = false;
  const f = await startIngest(t, {
    overrides: { ...BIG_HEADS, 'ingest.maxPendingBytes': 256 * 1024, 'ingest.softPendingBytes': 256 * 1024 },
    wrapLog: (inner) =>
      withAppend(inner, (records, ack) =>
        stalled ? new Promise<void>((go) => gate.push(go)).then(() => inner.append('hm', 0, records, ack)) : inner.append('hm', 0, records, ack),
      ),
  });
  assert.equal((await post(f.port, 'hm', '{"warm":1}')).status, 202);
  stalled = true;
  const answers: Promise<Reply>[] = [];
  for (let i = 0; i < 10; i++) {
    answers.push(post(f.port, 'hm', `{"i":${i}}`, { 'x-pad': PAD }));
    await new Promise((r) => setTimeout(r, 30)); // one at a time into the handler
  }
  await new Promise((r) => setTimeout(r, 200));
  const admitted = f.server.handler.inFlight;
  assert.ok(admitted >= 2 && admitted <= 4, `${admitted} writes of 60 KiB heads admitted within 256 KiB (10 before: only their bodies counted)`);
  stalled = false;
  for (const go of gate.splice(0)) go();
  const replies = await Promise.all(answers);
  assert.equal(replies.filter((r) => r.status === 202).length, admitted);
  for (const r of replies.filter((x) => x.status !== 202)) assert.equal(errorCode(r), 'HOPPER_BACKPRESSURE');
});

test('records handed to the log hold copies of their metadata, not views that keep the request head', async (t) => {
  const queued: RecordInput[][] = [];
  let offset = 0;
  const f = await startIngest(t, {
    overrides: BIG_HEADS,
    // As the embedded log's queue in fast mode: answered at once, the records kept until written.
    wrapLog: (inner) =>
      withAppend(inner, (records, ack) => {
        queued.push(records);
        const firstOffset = offset;
        offset += records.length;
        return Promise.resolve({ partition: 0, firstOffset, ack });
      }),
  });
  assert.equal((await post(f.port, 'hm', '{"warm":1}')).status, 202);
  const writes = 300;
  await new Promise((r) => setTimeout(r, 100));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < writes; i += 10) {
    const batch = Array.from({ length: 10 }, (_, k) =>
      post(f.port, 'hm', `{"i":${i + k}}`, {
        'content-type': 'application/json; charset=utf-8',
        'idempotency-key': `key-${i + k}-0123456789abcdef`,
        'x-request-id': `request-${i + k}-0123456789`,
        'x-pad': PAD,
      }),
    );
    for (const r of await Promise.all(batch)) assert.equal(r.status, 202);
  }
  await new Promise((r) => setTimeout(r, 200)); // connections closed
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
  assert.equal(queued.flat().length, writes + 1);
  assert.equal(queued.flat()[writes]!.idempotencyKey, `key-${writes - 1}-0123456789abcdef`);
  // 300 heads of 60 KiB are 18 MB: the records alone hold a few hundred bytes each.
  assert.ok(grownMb < 6, `the heap grew by ${grownMb.toFixed(1)} MB holding ${writes} queued records`);
});

test('a chunked body the budget can hold alone is admitted on an idle server, its head counted only beside it', async (t) => {
  // maxBodyBytes = maxPendingBytes: a body of the whole budget fits alone; a Content-Length one is admitted (its head
  // is counted up to what the budget has room for beside it), and a chunked one must be too, not 503 for good.
  const f = await startIngest(t, { overrides: { ...BIG_HEADS, 'ingest.maxPendingBytes': 128 * 1024, 'ingest.softPendingBytes': 128 * 1024, 'ingest.maxBodyBytes': 128 * 1024 } });
  const body = `{"b":"${'x'.repeat(120 * 1024)}"}`;
  const headers = { 'x-pad': 'p'.repeat(30 * 1024) };
  assert.equal((await post(f.port, 'hm', body, headers)).status, 202, 'with a Content-Length');
  const chunked = await post(f.port, 'hm', body, { ...headers, 'transfer-encoding': 'chunked' });
  assert.equal(chunked.status, 202, `chunked: ${chunked.text}`);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(f.server.handler.inFlight, 0);
  assert.equal(f.server.backpressure.heldBytes, 0);
});
