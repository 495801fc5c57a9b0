// deflate and br streams have an end of their own: node:zlib stopped there and dropped whatever followed,
// so two concatenated streams (one per appended chunk) decoded to the first one's events only, in silence.
// Bytes left after the end are now HOPPER_DECODE_FAILED; gzip members and zstd frames still concatenate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { decompress } from '../../src/work/decode/decompress.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

const settings: DecodeSettings = { maxDecodedBytes: 1 << 20, validate: null };
const first = Buffer.from('{"n":1}\n');
const second = Buffer.from('{"n":2}\n');

function rec(body: Buffer, contentEncoding: string): LogRecord {
  return { stream: 's', partition: 0, offset: 0, body, receivedAtUs: 0, contentType: 'application/x-ndjson', contentEncoding, remoteAddress: '', requestId: '', idempotencyKey: '' };
}

for (const [coding, format, compress] of [
  ['deflate', 'zlib', deflateSync],
  ['deflate', 'raw', deflateRawSync],
  ['br', 'brotli', brotliCompressSync],
] as const) {
  test(`${coding} (${format}): concatenated streams are a decode failure, not the first stream's events`, () => {
    const body = Buffer.concat([compress(first), compress(second)]);
    assert.throws(
      () => decodeRecord(rec(body, coding), settings),
      (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && new RegExp(`^${coding} body has ${compress(second).length} bytes after the end of its compressed data`).test(e.message),
    );
  });

  test(`${coding} (${format}): a whole stream decodes, small or large`, () => {
    assert.deepEqual(decodeRecord(rec(compress(first), coding), settings), [{ n: 1 }]);
    const big = randomBytes(700_000);
    assert.ok(decompress(compress(big), coding, 1 << 20).equals(big));
  });
}

test('gzip members still concatenate (RFC 1952), and so do stacked codings', () => {
  assert.deepEqual(decodeRecord(rec(Buffer.concat([gzipSync(first), gzipSync(second)]), 'gzip'), settings), [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(decodeRecord(rec(gzipSync(brotliCompressSync(first)), 'br, gzip'), settings), [{ n: 1 }]);
});

test('gzip: zero padding after the last member is ignored, as gzip(1) does, but a member after a zero byte is not dropped', () => {
  assert.deepEqual(decodeRecord(rec(Buffer.concat([gzipSync(first), Buffer.alloc(7)]), 'gzip'), settings), [{ n: 1 }]);
  // node:zlib stops at a zero byte after a member and returned the first member's data only.
  const padded = Buffer.concat([gzipSync(first), Buffer.alloc(1), gzipSync(second)]);
  assert.throws(
    () => decodeRecord(rec(padded, 'gzip'), settings),
    (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && new RegExp(`^gzip body has ${padded.length - gzipSync(first).length} bytes after the end of its compressed data`).test(e.message),
  );
  assert.throws(() => decodeRecord(rec(Buffer.concat([gzipSync(first), Buffer.from([0, 0x41])]), 'x-gzip'), settings), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED'));
});
