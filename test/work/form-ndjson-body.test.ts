// curl sends application/x-www-form-urlencoded unless told otherwise, so `curl --data-binary @events.ndjson`
// posts NDJSON under the form type, and `curl -d @events.ndjson` the same with its newlines dropped
// ({...}{...}). Both failed JSON.parse and were read as a form: one event whose only field was named by the
// whole text, delivered in silence. NDJSON is now decoded as NDJSON, and a brace-led body that is neither JSON
// nor NDJSON and holds no "=" is the HOPPER_DECODE_FAILED (a dead letter) its malformed JSON is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

const settings: DecodeSettings = { maxDecodedBytes: 1 << 20, validate: null };

function rec(body: string): LogRecord {
  return {
    stream: 's',
    partition: 0,
    offset: 0,
    body: Buffer.from(body),
    receivedAtUs: 0,
    contentType: 'application/x-www-form-urlencoded',
    contentEncoding: '',
    remoteAddress: '',
    requestId: '',
    idempotencyKey: '',
  };
}

test('NDJSON posted as a form decodes to its lines', () => {
  assert.deepEqual(decodeRecord(rec('{"a":1}\n{"b":2}\n'), settings), [{ a: 1 }, { b: 2 }]);
  assert.deepEqual(decodeRecord(rec('[1]\r\n\r\n[2]'), settings), [[1], [2]]);
});

test('a brace-led body that is neither JSON nor NDJSON and has no "=" is a decode failure', () => {
  const cases: [string, RegExp][] = [
    ['{"a":1}{"b":2}', /^malformed JSON: /],
    ['{"a":1,}', /^malformed JSON: /],
    ['{"a":1}\n{"b":', /^malformed NDJSON at line 2: /],
  ];
  for (const [body, reason] of cases) {
    assert.throws(() => decodeRecord(rec(body), settings), (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && reason.test(e.message), body);
  }
});

test('brace-led form fields are still form fields', () => {
  assert.deepEqual(decodeRecord(rec('{x=1&y=2'), settings), [{ '{x': '1', y: '2' }]);
  assert.deepEqual(decodeRecord(rec('[a]=1&b={"c":2}'), settings), [{ '[a]': '1', b: '{"c":2}' }]);
});
