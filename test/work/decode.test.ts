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
//   blocks.ndjson.zst  = blockLines() piped to zstd -19: one streamed frame, 8 MiB window, 30 compressed blocks
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

/** The 6,320 lines (200,020 bytes) in blocks.ndjson.zst. */
function blockLines(): string {
  let text = '';
  for (let i = 0; i < 6320; i++) text += JSON.stringify({ seq: i, msg: `event ${i}` }) + '\n';
  return text;
}

// Hand-made zstd (RFC 8878): a frame header without content size or checksum, then blocks.
// Window descriptors: 0x00 = 1 KiB, 0x38 = 128 KiB, 0x68 = 8 MiB.
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const WINDOW_1_KIB = 0x00;
const WINDOW_128_KIB = 0x38;
const WINDOW_8_MIB = 0x68;
function zstdBlock(type: 'raw' | 'rle' | 'compressed', size: number, last: boolean, payload: number[]): number[] {
  const header = (size << 3) | ({ raw: 0, rle: 1, compressed: 2 }[type] << 1) | (last ? 1 : 0);
  return [header & 0xff, (header >> 8) & 0xff, header >> 16, ...payload];
}
/** One frame whose blocks are the given pieces of text, each a raw block. */
function rawFrame(windowDescriptor: number, pieces: string[]): number[] {
  return [...ZSTD_MAGIC, 0x00, windowDescriptor, ...pieces.flatMap((p, i) => zstdBlock('raw', p.length, i === pieces.length - 1, [...Buffer.from(p)]))];
}
/** One frame of `count` compressed blocks that decode to nothing (raw literals of size 0, no sequences). */
function emptyCompressedFrame(windowDescriptor: number, count: number): number[] {
  return [...ZSTD_MAGIC, 0x00, windowDescriptor, ...Array.from({ length: count }, (_, i) => zstdBlock('compressed', 2, i === count - 1, [0x00, 0x00])).flat()];
}
/** A frame declaring its content size (single segment: the window is the content), one raw block. */
function sizedFrame(text: string): number[] {
  return [...ZSTD_MAGIC, 0x20, text.length, ...zstdBlock('raw', text.length, true, [...Buffer.from(text)])];
}
const zstdBody = (...frames: number[][]): Buffer => Buffer.from(frames.flat());
const tooCostly = (budget: string, bytes: number, fix: string): RegExp =>
  new RegExp(`^zstd body is too costly to decode: fzstd would .* more than ${bytes} bytes \\(${budget} budget: \\d+ × max\\(maxDecodedBytes, 33554432\\)\\); ${fix}$`);

test('zstd: bodies that would cost fzstd far more than their size are refused from their headers', () => {
  // With maxDecodedBytes 1 MiB the budgets are counted from 32 MiB: 64 MiB of frame windows,
  // 16 GiB of window moves, 256 MiB of block buffers; and 1024 frames whatever the limit.
  // (a) Many 10-byte frames, each declaring an 8 MiB window fzstd would allocate and fill.
  for (const frames of [100, 1000]) {
    const body = zstdBody(...Array.from({ length: frames }, () => rawFrame(WINDOW_8_MIB, ['1'])));
    assert.equal(body.length, frames * 10);
    rejects(rec(body, 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', tooCostly('frame-window', 64 * 1024 * 1024, 'use fewer, larger frames'));
  }
  // The same frames decode when there are few of them: the refusal is about their number.
  assert.deepEqual(decodeRecord(rec(zstdBody(rawFrame(WINDOW_8_MIB, ['1']), rawFrame(WINDOW_8_MIB, ['2'])), 'application/json', 'zstd'), settings), [12]);
  // Tiny frames with 1 KiB windows are cheap, but more than ZSTD_MAX_FRAMES are refused (skippable ones count too).
  const tiny = Array.from({ length: 1025 }, () => rawFrame(WINDOW_1_KIB, ['1\n']));
  const manyFrames = /^zstd body has more than 1024 frames \(ZSTD_MAX_FRAMES\): concatenate fewer, larger frames$/;
  rejects(rec(zstdBody(...tiny), 'application/x-ndjson', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', manyFrames);
  const skippable = [0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0];
  rejects(rec(zstdBody(...Array.from({ length: 1024 }, () => skippable), tiny[0]!), 'application/x-ndjson', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED', manyFrames);
  // (b) One frame of 4,000 one-byte raw blocks (16 KB) moving an 8 MiB window after each.
  const digits = Array.from({ length: 4000 }, (_, i) => String(i % 10));
  rejects(rec(zstdBody(rawFrame(WINDOW_8_MIB, digits)), 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED',
    tooCostly('window-move', 16 * 1024 * 1024 * 1024, 'compress the body in one go instead of flushing often'));
  assert.deepEqual(decodeRecord(rec(zstdBody(rawFrame(WINDOW_8_MIB, ['1', '2', '3', '4'])), 'application/json', 'zstd'), settings), [1234]);
  // One frame of 20,000 empty compressed blocks (100 KB), each a fresh 128 KiB buffer in fzstd.
  rejects(rec(zstdBody(emptyCompressedFrame(WINDOW_128_KIB, 20000), rawFrame(WINDOW_1_KIB, ['1'])), 'application/json', 'zstd'), 'HOPPER_DECODE_UNSUPPORTED',
    tooCostly('block-buffer', 256 * 1024 * 1024, 'use fewer, larger blocks'));
  assert.deepEqual(decodeRecord(rec(zstdBody(emptyCompressedFrame(WINDOW_128_KIB, 100), rawFrame(WINDOW_1_KIB, ['1'])), 'application/json', 'zstd'), settings), [1]);
});

test('zstd: real multi-block and multi-frame bodies under the limit still decode', () => {
  // (c) 30 real compressed blocks with an 8 MiB window, alone and followed by more frames.
  const lines = blockLines();
  const expected = lines.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
  const blocks = zstdFixture('blocks.ndjson.zst');
  assert.deepEqual(decodeRecord(rec(blocks, 'application/x-ndjson', 'zstd'), settings), expected);
  const events = zstdFixture('events.ndjson.zst');
  const multiFrame = Buffer.concat([blocks, events, blocks, events]);
  const eventValues = [{ a: 1 }, { b: 'two' }, { c: [3] }];
  assert.deepEqual(decodeRecord(rec(multiFrame, 'application/x-ndjson', 'zstd'), settings), [...expected, ...eventValues, ...expected, ...eventValues]);
  // Exactly ZSTD_MAX_FRAMES frames declaring their sizes, and one frame of 5,000 small raw blocks and RLE blocks.
  const sized = Array.from({ length: 1024 }, (_, i) => sizedFrame(`${i}\n`));
  assert.deepEqual(decodeRecord(rec(zstdBody(...sized), 'application/x-ndjson', 'zstd'), settings), Array.from({ length: 1024 }, (_, i) => i));
  const smallBlocks = [...ZSTD_MAGIC, 0x00, WINDOW_1_KIB];
  for (let i = 0; i < 2500; i++) smallBlocks.push(...zstdBlock('raw', 2, false, [...Buffer.from(`${i % 10}\n`)]), ...zstdBlock('rle', 3, i === 2499, [0x20]));
  assert.deepEqual(decodeRecord(rec(Buffer.from(smallBlocks), 'application/x-ndjson', 'zstd'), settings), Array.from({ length: 2500 }, (_, i) => i % 10));
});

test('a stream schema makes failing events decode failures naming the path', () => {
  const validate = compileSchema('s', { type: 'object', required: ['item'], properties: { item: { type: 'integer' }, stars: { type: 'integer', maximum: 5 } } });
  const s: DecodeSettings = { ...settings, validate };
  assert.deepEqual(decodeRecord(rec('[{"item":1},{"item":2,"stars":5}]', 'application/json'), s), [{ item: 1 }, { item: 2, stars: 5 }]);
  rejects(rec('[{"item":1},{"item":2,"stars":9}]', 'application/json'), 'HOPPER_SCHEMA_INVALID', /^event 1 fails the stream schema: \/stars must be <= 5$/, s);
  rejects(rec('{"stars":1}', 'application/json'), 'HOPPER_SCHEMA_INVALID', /\(root\) must have required property 'item'/, s);
});
