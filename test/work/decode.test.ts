// Each decoder: the events it yields, and the DecodeError (code and reason) for
// malformed, unsupported, oversized and schema-violating bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync, deflateSync, deflateRawSync, brotliCompressSync } from 'node:zlib';
import { decodeRecord, parseContentType, type DecodeSettings } from '../../src/work/decode/decode-record.js';
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

test('truncated gzip, a compression bomb and an unknown coding are decode failures with clear reasons', () => {
  const gz = gzipSync(JSON.stringify({ a: 'x'.repeat(1000) }));
  rejects(rec(gz.subarray(0, gz.length - 10), 'application/json', 'gzip'), 'HOPPER_DECODE_FAILED', /gzip body is damaged or truncated: unexpected end of file/);
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024));
  assert.ok(bomb.length < 100 * 1024, 'the bomb is small on the wire');
  rejects(rec(bomb, 'application/json', 'gzip'), 'HOPPER_DECODED_TOO_LARGE', /decompresses to more than maxDecodedBytes \(1048576 bytes\)/);
  rejects(rec('x', 'application/json', 'compress'), 'HOPPER_DECODE_UNSUPPORTED', /content encoding "compress" is not supported/);
});

// Made with the zstd CLI (v1.5.4), since Node 20 cannot compress zstd:
//   events.ndjson.zst  = (zstd of a 2-line file) + (printf '{"c":[3]}\n' | zstd): two frames, the second without a content size
//   bomb-sized.zst     = zstd -19 of a 4 MiB file of spaces (declares its 4 MiB content size)
//   bomb-streamed.zst  = head -c 4M /dev/zero | tr '\0' ' ' | zstd -19 (no content size: only decoding finds out)
function zstdFixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/zstd/${name}`, import.meta.url));
}

test('zstd: concatenated frames decode to the events; stacked with gzip too', () => {
  const body = zstdFixture('events.ndjson.zst');
  const expected = [{ a: 1 }, { b: 'two' }, { c: [3] }];
  assert.deepEqual(decodeRecord(rec(body, 'application/x-ndjson', 'zstd'), settings), expected);
  assert.deepEqual(decodeRecord(rec(gzipSync(body), 'application/x-ndjson', 'zstd, gzip'), settings), expected);
  // Exactly at the limit still decodes: the limit is "more than", as for gzip.
  const exact: DecodeSettings = { maxDecodedBytes: '{"a":1}\n{"b":"two"}\n{"c":[3]}\n'.length, validate: null };
  assert.deepEqual(decodeRecord(rec(body, 'application/x-ndjson', 'zstd'), exact), expected);
});

test('zstd: bombs, truncation, huge windows and dictionaries are decode failures with clear reasons', () => {
  const limit = /more than maxDecodedBytes \(1048576 bytes\)/;
  rejects(rec(zstdFixture('bomb-sized.zst'), 'application/json', 'zstd'), 'HOPPER_DECODED_TOO_LARGE', /^zstd body declares 4194304 bytes, more than maxDecodedBytes \(1048576 bytes\)$/);
  const streamed = zstdFixture('bomb-streamed.zst');
  assert.ok(streamed.length < 1024, 'the bomb is small on the wire');
  rejects(rec(streamed, 'application/json', 'zstd'), 'HOPPER_DECODED_TOO_LARGE', limit);
  const body = zstdFixture('events.ndjson.zst');
  rejects(rec(body.subarray(0, body.length - 5), 'application/x-ndjson', 'zstd'), 'HOPPER_DECODE_FAILED', /^zstd body is damaged or truncated: unexpected EOF$/);
  rejects(rec('{"a":1}', 'application/json', 'zstd'), 'HOPPER_DECODE_FAILED', /^zstd body is damaged or truncated: invalid zstd data$/);
  // A frame header declaring a 1 GiB window (window descriptor 0xA0) followed by one raw block "1":
  // refused before fzstd would allocate the window.
  const hugeWindow = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x09, 0x00, 0x00, 0x31]);
  rejects(rec(hugeWindow, 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', /^zstd frame needs a 1073741824-byte window; Hopper decodes zstd windows up to 8388608 bytes/);
  // The same frame with a 1 KiB window decodes, so the refusal above is about the window alone.
  const smallWindow = Buffer.from(hugeWindow);
  smallWindow[5] = 0x00;
  assert.deepEqual(decodeRecord(rec(smallWindow, 'application/json', 'zstd'), settings), [1]);
  // Dictionary ID 7 (one byte, flag 1): fzstd has no dictionaries, so say so instead of decoding garbage.
  const withDictionary = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x00, 0x07, 0x09, 0x00, 0x00, 0x31]);
  rejects(rec(withDictionary, 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', /zstd dictionaries are not supported/);
});

test('a stream schema makes failing events decode failures naming the path', () => {
  const validate = compileSchema('s', { type: 'object', required: ['item'], properties: { item: { type: 'integer' }, stars: { type: 'integer', maximum: 5 } } });
  const s: DecodeSettings = { ...settings, validate };
  assert.deepEqual(decodeRecord(rec('[{"item":1},{"item":2,"stars":5}]', 'application/json'), s), [{ item: 1 }, { item: 2, stars: 5 }]);
  rejects(rec('[{"item":1},{"item":2,"stars":9}]', 'application/json'), 'HOPPER_SCHEMA_INVALID', /^event 1 fails the stream schema: \/stars must be <= 5$/, s);
  rejects(rec('{"stars":1}', 'application/json'), 'HOPPER_SCHEMA_INVALID', /\(root\) must have required property 'item'/, s);
});
