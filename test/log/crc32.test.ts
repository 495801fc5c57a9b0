// The log's own CRC-32 must equal zlib's for every input and range, on the JavaScript path and on the
// native one it switches to for long ranges and bodies, and when continued from the CRC of a head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32Range, crc32WithBody, crc32UpdateJs, NATIVE_MIN_BYTES, NATIVE_MIN_RANGE_BYTES } from '../../src/log/embedded/crc32.js';

/** Lengths around both thresholds, so that either path is taken on both sides of them. */
const MAX_BYTES = NATIVE_MIN_RANGE_BYTES * 3;

test('crc32Range and crc32UpdateJs equal zlib.crc32 on any byte range', () => {
  const seen = { native: 0, js: 0 };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: MAX_BYTES, size: 'max' }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const buf = Buffer.from(bytes);
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      const expected = crc32(buf.subarray(start, end));
      seen[end - start >= NATIVE_MIN_RANGE_BYTES ? 'native' : 'js']++;
      assert.equal(crc32Range(buf, start, end), expected);
      assert.equal(crc32UpdateJs(0, buf, start, end), expected);
    }),
    { numRuns: 2000 },
  );
  assert.ok(seen.native >= 100 && seen.js >= 100, `both sides of the threshold tried: ${JSON.stringify(seen)}`);
});

test('crc32WithBody, checksumming a long body from its own buffer, equals zlib.crc32 of head and body together', () => {
  const seen = { native: 0, js: 0 };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100, size: 'max' }), fc.uint8Array({ maxLength: NATIVE_MIN_BYTES * 3, size: 'max' }), fc.nat(20), (head, body, lead) => {
      const buf = Buffer.concat([Buffer.alloc(lead, 0xee), head, body, Buffer.alloc(3, 0xee)]);
      const bodyStart = lead + head.length;
      seen[body.length >= NATIVE_MIN_BYTES ? 'native' : 'js']++;
      assert.equal(crc32WithBody(buf, lead, bodyStart, Buffer.from(body)), crc32(buf.subarray(lead, bodyStart + body.length)));
    }),
    { numRuns: 2000 },
  );
  assert.ok(seen.native >= 100 && seen.js >= 100, `both sides of the threshold tried: ${JSON.stringify(seen)}`);
});

test('both paths agree on lengths just below and at each threshold', () => {
  for (const n of [NATIVE_MIN_BYTES - 1, NATIVE_MIN_BYTES, NATIVE_MIN_RANGE_BYTES - 1, NATIVE_MIN_RANGE_BYTES]) {
    const bytes = Buffer.from(Array.from({ length: n + 10 }, (_, i) => (i * 131 + 7) & 255));
    assert.equal(crc32Range(bytes, 5, 5 + n), crc32(bytes.subarray(5, 5 + n)), `range of ${n}`);
    assert.equal(crc32WithBody(bytes, 2, 5, bytes.subarray(5, 5 + n)), crc32(bytes.subarray(2, 5 + n)), `frame with a body of ${n}`);
  }
});
