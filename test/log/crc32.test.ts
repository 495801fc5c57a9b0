// The log's own CRC-32 must equal zlib's for every input and range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32Range } from '../../src/log/embedded/crc32.js';

test('crc32Range equals zlib.crc32 on any byte range', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      assert.equal(crc32Range(buf, start, end), crc32(buf.subarray(start, end)));
    }),
    { numRuns: 2000 },
  );
});
