// The nesting limit was checked after JSON.parse, which builds every level first: a 16 KB gzip body of
// 8 million "[" then "]" held a worker's event loop for about 6 s and ~1 GB of heap before its dead letter
// (a 64 MiB one, for minutes, if the heap held). The depth is now counted before anything is parsed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decodeRecord } from '../../src/work/decode/decode-record.js';
import { MAX_JSON_DEPTH, nestedTooDeep } from '../../src/work/decode/json-decoder.js';
import { isHopperError } from '../../src/errors.js';
import type { LogRecord } from '../../src/log/types.js';

function rec(body: Buffer, contentType: string, contentEncoding = ''): LogRecord {
  return { stream: 's', partition: 0, offset: 0, body, receivedAtUs: 0, contentType, contentEncoding, remoteAddress: '', requestId: '', idempotencyKey: '' };
}

test('a deeply nested body is refused without being parsed, under every JSON-reading type', (t) => {
  const levels = 1 << 20;
  const deep = Buffer.alloc(2 * levels, ']'.charCodeAt(0)).fill('['.charCodeAt(0), 0, levels);
  const parsed: number[] = [];
  const parse = JSON.parse;
  t.mock.method(JSON, 'parse', (text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) => {
    parsed.push(text.length);
    return parse(text, reviver);
  });
  for (const [contentType, what] of [
    ['application/json', /^JSON nests/],
    ['application/x-ndjson', /^NDJSON line 1 nests/],
    ['', /^JSON nests/],
    ['application/x-www-form-urlencoded', /^JSON nests/],
  ] as const) {
    assert.throws(
      () => decodeRecord(rec(gzipSync(deep), contentType, 'gzip'), { maxDecodedBytes: 4 << 20, validate: null }),
      (e) => isHopperError(e, 'HOPPER_DECODE_FAILED') && what.test(e.message) && e.message.includes(`deeper than ${MAX_JSON_DEPTH} levels`),
      contentType,
    );
  }
  assert.deepEqual(parsed.filter((n) => n >= deep.length), [], 'JSON.parse never saw the deep text');
});

test('the count skips brackets in strings, and text that is not JSON is left to JSON.parse', () => {
  const open = '['.repeat(MAX_JSON_DEPTH);
  const close = ']'.repeat(MAX_JSON_DEPTH);
  assert.equal(nestedTooDeep(`${open}"[[[[\\"[[[[${'['.repeat(3000)}"${close}`), false);
  assert.equal(nestedTooDeep(`${open}[${close}]`), true);
  // An unterminated string (not JSON): no hang, no verdict; JSON.parse reports it.
  assert.equal(nestedTooDeep(`${open}"${'x'.repeat(3000)}`), false);
  assert.equal(nestedTooDeep(`${open}"\\"${'x'.repeat(3000)}\\\\\\"`), false);
  assert.throws(() => decodeRecord(rec(Buffer.from(`${open}"${'x'.repeat(3000)}`), 'application/json'), { maxDecodedBytes: 1 << 20, validate: null }), /^HopperError|malformed JSON/);
});
