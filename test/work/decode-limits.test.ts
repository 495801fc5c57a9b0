// Limits on what one record may cost a worker to decode: at most MAX_CONTENT_CODINGS stacked
// codings, all layers' outputs together bounded, and maxDecodedBytes applied to the final
// bytes even when nothing is compressed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { isHopperError, type ErrorCode } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

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
