// Limits on what one record may cost a worker to decode: at most MAX_CONTENT_CODINGS stacked
// codings, all layers' outputs together bounded, and maxDecodedBytes applied to the final
// bytes even when nothing is compressed; and a batch whose records together decode past
// maxBatchDecodedBytes is split instead of holding them all in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { isHopperError, type ErrorCode } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { startWorkers } from '../../src/work/worker-runtime.js';
import { createLogger } from '../../src/observe/logger.js';
import { defineProcessor } from '../../src/work/types.js';
import { fakeClock, record, testConfig, waitFor } from './work-helpers.js';

const MiB = 1024 * 1024;
const settings: DecodeSettings = { maxDecodedBytes: MiB, validate: null };

function rec(body: Buffer, contentEncoding: string): LogRecord {
  return { stream: 's', partition: 0, offset: 0, body, receivedAtUs: 0, contentType: 'application/json', contentEncoding, remoteAddress: '', requestId: '', idempotencyKey: '' };
}

function rejects(r: LogRecord, code: ErrorCode, reason: RegExp, s = settings): void {
  assert.throws(() => decodeRecord(r, s), (e) => isHopperError(e, code) && reason.test(e.message));
}

/** `layers` stored (level 0) gzip layers around `inner`, then br: small on the wire, every layer as big as `inner`. */
function stacked(inner: Buffer, layers: number): { body: Buffer; encoding: string } {
  let x = inner;
  for (let i = 0; i < layers; i++) x = gzipSync(x, { level: 0 });
  return { body: brotliCompressSync(x), encoding: [...Array(layers).fill('gzip'), 'br'].join(', ') };
}

test('more than 3 (MAX_CONTENT_CODINGS) stacked codings is refused before any decoding', () => {
  const ok = stacked(Buffer.from('{"a":1}'), 2); // 3 codings: the most allowed
  assert.deepEqual(decodeRecord(rec(ok.body, ok.encoding), settings), [{ a: 1 }]);
  // identity is no coding: it does not count.
  assert.deepEqual(decodeRecord(rec(ok.body, `identity, ${ok.encoding}, identity`), settings), [{ a: 1 }]);
  const many = stacked(Buffer.from(JSON.stringify(' '.repeat(MiB - 2))), 200);
  const started = performance.now();
  rejects(rec(many.body, many.encoding), 'HOPPER_DECODE_UNSUPPORTED', /^content encoding stacks 201 codings; Hopper undoes at most 3 \(MAX_CONTENT_CODINGS\)/);
  assert.ok(performance.now() - started < 1000, 'refused from the header, not after decoding');
  const four = stacked(Buffer.from('{"a":1}'), 3);
  rejects(rec(four.body, four.encoding), 'HOPPER_DECODE_UNSUPPORTED', /stacks 4 codings/);
});

test('all layers together are capped at 2 x maxDecodedBytes', () => {
  // Three layers of 0.8 MiB each: every one under maxDecodedBytes, 2.4 MiB in all.
  const inner = Buffer.from(JSON.stringify(' '.repeat(800 * 1024)));
  const wide = stacked(inner, 2);
  rejects(rec(wide.body, wide.encoding), 'HOPPER_DECODED_TOO_LARGE', /^the stacked content codings decompress to more than 2 x maxDecodedBytes \(2097152 bytes\) in all/);
  // Compressed inside compressed, as real stacks are: the inner layer is small.
  const real = gzipSync(gzipSync(inner));
  assert.equal((decodeRecord(rec(real, 'gzip, gzip'), settings)[0] as string).length, 800 * 1024);
});

test('maxDecodedBytes holds for a body sent without compression', () => {
  const text = Buffer.from(JSON.stringify('x'.repeat(1998)));
  const small: DecodeSettings = { maxDecodedBytes: 1024, validate: null };
  rejects(rec(text, ''), 'HOPPER_DECODED_TOO_LARGE', /^body is 2000 bytes, more than maxDecodedBytes \(1024 bytes\)$/, small);
  rejects(rec(text, 'identity'), 'HOPPER_DECODED_TOO_LARGE', /more than maxDecodedBytes/, small);
  rejects(rec(gzipSync(text), 'gzip'), 'HOPPER_DECODED_TOO_LARGE', /^gzip body decompresses to more than maxDecodedBytes \(1024 bytes\)$/, small);
  // Exactly at the limit decodes: the limit is "more than".
  assert.deepEqual(decodeRecord(rec(text, ''), { maxDecodedBytes: 2000, validate: null }), ['x'.repeat(1998)]);
});

test('a batch whose records decode past maxBatchDecodedBytes is split, not dead-lettered: every record processed, none at fault', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // Ten gzip bodies of a few hundred bytes, each 60 kB once decompressed: 600 kB for the batch of ten.
  const text = (i: number): string => `[${Array.from({ length: 30_000 }, () => i % 10).join(',')}]`;
  await log.append('s', 0, Array.from({ length: 10 }, (_, i) => ({ ...record(''), body: gzipSync(text(i)), contentEncoding: 'gzip' })), 'durable');
  const config = testConfig(dir, {
    pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'noop', batchMaxRecords: 10, batchMaxWaitMs: 0, maxDecodedBytes: 100_000, maxBatchDecodedBytes: 150_000 }],
  });
  const calls: { offsets: number[]; decodedBytes: number; completed: boolean }[] = [];
  const done = new Set<number>();
  const processor = defineProcessor({
    process(batch) {
      const call = { offsets: batch.items.map((i) => i.offset), decodedBytes: 0, completed: false };
      calls.push(call);
      for (const item of batch.items) {
        const events = item.events();
        call.decodedBytes += text(item.offset).length;
        assert.equal(events.length, 30_000);
      }
      for (const item of batch.items) done.add(item.offset);
      call.completed = true;
    },
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock(), processors: { p: processor } });
  t.after(() => workers.stop());
  await waitFor('the 10 records to be committed', async () => (await log.getPosition('g', 's', 0)) === 10);
  await workers.stop();
  assert.deepEqual([...done].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(calls.length > 1 && calls[0]!.offsets.length === 10, 'the whole batch first, then parts');
  const completed = calls.filter((c) => c.completed);
  assert.deepEqual(completed.flatMap((c) => c.offsets).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each record processed once in a call that completed');
  for (const c of completed) assert.ok(c.decodedBytes <= 150_000, JSON.stringify(c));
  const snapshot = workers.metrics.snapshot().pipelines.p!;
  assert.equal(snapshot.deadLetters, 0);
  assert.equal(snapshot.failures, 0, 'no attempt counted against the records');
});

test('the files sink, split for its decode budget, writes each event once', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // Four records of about 1 kB: a budget of 2.5 kB takes two at a time.
  await log.append('s', 0, Array.from({ length: 4 }, (_, i) => record(JSON.stringify({ n: i, pad: 'x'.repeat(1000) }))), 'durable');
  const config = testConfig(dir, {
    pipelines: [{ name: 'p', stream: 's', group: 'g', processor: 'files', batchMaxRecords: 10, batchMaxWaitMs: 0, maxDecodedBytes: 1500, maxBatchDecodedBytes: 2500 }],
  });
  const workers = await startWorkers(config, log, createLogger('silent'), { clock: fakeClock() });
  t.after(() => workers.stop());
  await waitFor('the 4 records to be committed', async () => (await log.getPosition('g', 's', 0)) === 4);
  await workers.stop();
  const outDir = join(dir, 'out', 's');
  const lines = readdirSync(outDir).flatMap((f) => readFileSync(join(outDir, f), 'utf8').trimEnd().split('\n'));
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { n: number }).n), [0, 1, 2, 3]);
  assert.equal(workers.metrics.snapshot().pipelines.p!.deadLetters, 0);
});
