// An empty body sent with Content-Encoding: zstd decoded to nothing, so a text or NDJSON record was
// committed with no events and no dead letter, where an empty gzip, deflate or br body (and `zstd -d`)
// report a truncated stream. A zstd stream holds at least one frame: empty is HOPPER_DECODE_FAILED too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord } from '../../src/work/decode/decode-record.js';
import { zstdDecompress } from '../../src/work/decode/zstd-decompress.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

test('an empty zstd body is a truncated stream, not zero events', () => {
  const record: LogRecord = { stream: 's', partition: 0, offset: 0, body: Buffer.alloc(0), receivedAtUs: 0, contentType: 'application/x-ndjson', contentEncoding: 'zstd', remoteAddress: '', requestId: '', idempotencyKey: '' };
  assert.throws(
    () => decodeRecord(record, { maxDecodedBytes: 1 << 20, validate: null }),
    (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /^zstd body is damaged or truncated: /.test(e.message),
  );
});

test('a zstd body of only a skippable frame is valid and empty, as libzstd reads it', () => {
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  assert.equal(zstdDecompress(skippable, 1 << 20).length, 0);
});
