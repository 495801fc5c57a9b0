// Each decoder: the events it yields, and the DecodeError (code and reason) for
// malformed, unsupported, oversized and schema-violating bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync, deflateSync, deflateRawSync, brotliCompressSync } from 'node:zlib';
import { decodeRecord, parseContentType, type DecodeSettings } from '../../src/work/decode/decode-record.js';
import { ZSTD_AVAILABLE } from '../../src/work/decode/decompress.js';
import { compileSchema } from '../../src/work/decode/schema-check.js';
import { isDecodeError } from '../../src/work/decode/decode-error.js';
import type { LogRecord } from '../../src/log/types.js';
import type { ErrorCode } from '../../src/errors.js';

const settings: DecodeSettings = { maxDecodedBytes: 1024 * 1024, validate: null };

function rec(body: Buffer | string, contentType: string, contentEncoding = ''): LogRecord {
  return {
    stream: 's',
    partition: 0,
    offset: 0,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    receivedAtUs: 0,
    contentType,
    contentEncoding,
    remoteAddress: '',
    requestId: '',
    idempotencyKey: '',
  };
}

function rejects(r: LogRecord, code: ErrorCode, reason: RegExp, s: DecodeSettings = settings): void {
  assert.throws(
    () => decodeRecord(r, s),
    (e: unknown) => isDecodeError(e) && e.code === code && reason.test(e.message),
  );
}

test('JSON: an object is one event, an array is a batch', () => {
  assert.deepEqual(decodeRecord(rec('{"a":1}', 'application/json'), settings), [{ a: 1 }]);
  assert.deepEqual(decodeRecord(rec('[{"a":1},{"a":2}]', 'application/json; charset=utf-8'), settings), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(decodeRecord(rec('[]', 'application/json'), settings), []);
  assert.deepEqual(decodeRecord(rec('"x"', 'application/vnd.api+json'), settings), ['x']);
  rejects(rec('{"a":', 'application/json'), 'HOPPER_DECODE_FAILED', /^malformed JSON: /);
  rejects(rec('', 'application/json'), 'HOPPER_DECODE_FAILED', /malformed JSON: empty body/);
});

test('NDJSON: one event per non-blank line, CRLF accepted, the bad line is named', () => {
  assert.deepEqual(decodeRecord(rec('{"a":1}\r\n\n{"a":2}\n', 'application/x-ndjson'), settings), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(decodeRecord(rec('1\n2', 'application/jsonl'), settings), [1, 2]);
  rejects(rec('{"a":1}\n{"a":\n', 'application/x-ndjson'), 'HOPPER_DECODE_FAILED', /malformed NDJSON at line 2/);
});

test('form: fields as an object, repeated fields as arrays, JSON sent by curl -d as JSON', () => {
  assert.deepEqual(decodeRecord(rec('a=1&b=x+y&c=%C3%A9&a=2', 'application/x-www-form-urlencoded'), settings), [{ a: ['1', '2'], b: 'x y', c: 'é' }]);
  assert.deepEqual(decodeRecord(rec('', 'application/x-www-form-urlencoded'), settings), [{}]);
  assert.deepEqual(decodeRecord(rec('{"vote":5}', 'application/x-www-form-urlencoded'), settings), [{ vote: 5 }]);
  assert.deepEqual(decodeRecord(rec('{x=1', 'application/x-www-form-urlencoded'), settings), [{ '{x': '1' }]);
});

test('text: one string per non-blank line; no content type is sniffed', () => {
  assert.deepEqual(decodeRecord(rec('first line\r\n\nsecond\n', 'text/plain; charset=utf-8'), settings), ['first line', 'second']);
  assert.deepEqual(decodeRecord(rec(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'text/plain; charset=iso-8859-1'), settings), ['caf\u00e9']);
  assert.deepEqual(decodeRecord(rec('{"a":1}', ''), settings), [{ a: 1 }]);
  assert.deepEqual(decodeRecord(rec('{"a":1}\n{"a":2}', ''), settings), [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(decodeRecord(rec('hello', ''), settings), ['hello']);
  rejects(rec(Buffer.from([0x68, 0xff, 0xfe]), 'text/plain'), 'HOPPER_DECODE_FAILED', /not valid utf-8 text/);
  rejects(rec('x', 'text/plain; charset=klingon'), 'HOPPER_DECODE_UNSUPPORTED', /charset "klingon"/);
  rejects(rec('x', 'application/octet-stream'), 'HOPPER_DECODE_UNSUPPORTED', /no decoder for content type "application\/octet-stream"/);
  assert.deepEqual(parseContentType('Application/JSON ; Charset="UTF-8"'), { mediaType: 'application/json', charset: 'utf-8' });
});

test('compressed bodies: gzip, deflate (zlib and raw), br, stacked codings', () => {
  const body = JSON.stringify([{ a: 1 }, { b: 2 }]);
  const expected = [{ a: 1 }, { b: 2 }];
  assert.deepEqual(decodeRecord(rec(gzipSync(body), 'application/json', 'gzip'), settings), expected);
  assert.deepEqual(decodeRecord(rec(gzipSync(body), 'application/json', 'x-gzip'), settings), expected);
  assert.deepEqual(decodeRecord(rec(deflateSync(body), 'application/json', 'deflate'), settings), expected);
  assert.deepEqual(decodeRecord(rec(deflateRawSync(body), 'application/json', 'deflate'), settings), expected);
  assert.deepEqual(decodeRecord(rec(brotliCompressSync(body), 'application/json', 'br'), settings), expected);
  assert.deepEqual(decodeRecord(rec(brotliCompressSync(gzipSync(body)), 'application/json', 'gzip, br'), settings), expected);
  assert.deepEqual(decodeRecord(rec(body, 'application/json', 'identity'), settings), expected);
});

test('truncated gzip, a compression bomb and zstd (on Node without it) are decode failures with clear reasons', () => {
  const gz = gzipSync(JSON.stringify({ a: 'x'.repeat(1000) }));
  rejects(rec(gz.subarray(0, gz.length - 10), 'application/json', 'gzip'), 'HOPPER_DECODE_FAILED', /gzip body is damaged or truncated: unexpected end of file/);
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
  assert.ok(bomb.length < 100 * 1024, 'the bomb is small on the wire');
  rejects(rec(bomb, 'application/json', 'gzip'), 'HOPPER_DECODED_TOO_LARGE', /decompresses to more than maxDecodedBytes \(1048576 bytes\)/);
  rejects(rec('x', 'application/json', 'compress'), 'HOPPER_DECODE_UNSUPPORTED', /content encoding "compress" is not supported/);
  if (!ZSTD_AVAILABLE) rejects(rec('x', 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', /"zstd" is not supported \(zstd needs Node >= 22.15/);
});

test('a stream schema makes failing events decode failures naming the path', () => {
  const validate = compileSchema('s', { type: 'object', required: ['item'], properties: { item: { type: 'integer' }, stars: { type: 'integer', maximum: 5 } } });
  const s: DecodeSettings = { ...settings, validate };
  assert.deepEqual(decodeRecord(rec('[{"item":1},{"item":2,"stars":5}]', 'application/json'), s), [{ item: 1 }, { item: 2, stars: 5 }]);
  rejects(rec('[{"item":1},{"item":2,"stars":9}]', 'application/json'), 'HOPPER_SCHEMA_INVALID', /^event 1 fails the stream schema: \/stars must be <= 5$/, s);
  rejects(rec('{"stars":1}', 'application/json'), 'HOPPER_SCHEMA_INVALID', /\(root\) must have required property 'item'/, s);
});
