// A form body that is JSON (curl -d '{...}') nesting past MAX_JSON_DEPTH fell back to form parsing: the
// record became one event whose only field name was the whole JSON text, where the JSON and NDJSON types
// make it a dead letter naming the limit. It is now HOPPER_DECODE_FAILED as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { MAX_JSON_DEPTH } from '../../src/work/decode/json-decoder.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

const settings: DecodeSettings = { maxDecodedBytes: 1 << 20, validate: null };
const FORM = 'application/x-www-form-urlencoded';
const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

function rec(body: string): LogRecord {
  return { stream: 's', partition: 0, offset: 0, body: Buffer.from(body), receivedAtUs: 0, contentType: FORM, contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
}

test('JSON sent as a form that nests too deep is a decode failure naming the limit', () => {
  for (const body of [nested(MAX_JSON_DEPTH + 1), `{"deep":${nested(5000)}}`]) {
    assert.throws(
      () => decodeRecord(rec(body), settings),
      (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && /deeper than 1000 levels \(MAX_JSON_DEPTH\)/.test(e.message),
    );
  }
});

test('JSON at the limit is still JSON, and a brace that is not JSON is still a form field', () => {
  assert.equal(decodeRecord(rec(`{"a":${nested(MAX_JSON_DEPTH - 1)}}`), settings).length, 1);
  assert.deepEqual(decodeRecord(rec('{x=1&y=2'), settings), [{ '{x': '1', y: '2' }]);
  assert.deepEqual(decodeRecord(rec('[a]=1'), settings), [{ '[a]': '1' }]);
});
