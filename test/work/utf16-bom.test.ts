// charset=utf-16 was always read little-endian (TextDecoder's "utf-16"), so a big-endian body with its BOM
// (what Java's "UTF-16" encoder writes) decoded to CJK-looking garbage: text lines delivered as such, JSON a
// dead letter. The byte order mark decides, as RFC 2781 says; without one, little-endian as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRecord } from '../../src/work/decode/decode-record.js';
import type { LogRecord } from '../../src/log/types.js';

const bigEndian = (text: string): Buffer => Buffer.from(text, 'utf16le').swap16();
const BE_BOM = Buffer.from([0xfe, 0xff]);
const LE_BOM = Buffer.from([0xff, 0xfe]);

function decode(body: Buffer, contentType: string): unknown[] {
  const record: LogRecord = { stream: 's', partition: 0, offset: 0, body, receivedAtUs: 0, contentType, contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
  return decodeRecord(record, { maxDecodedBytes: 1 << 20, validate: null });
}

test('a big-endian UTF-16 body with its byte order mark decodes under charset=utf-16', () => {
  assert.deepEqual(decode(Buffer.concat([BE_BOM, bigEndian('héllo\nwörld\n')]), 'text/plain; charset=UTF-16'), ['héllo', 'wörld']);
  assert.deepEqual(decode(Buffer.concat([BE_BOM, bigEndian('{"a":"é"}')]), 'application/json; charset=utf-16'), [{ a: 'é' }]);
});

test('little-endian bodies, with or without the mark, and explicit byte orders decode as before', () => {
  assert.deepEqual(decode(Buffer.concat([LE_BOM, Buffer.from('a\nb', 'utf16le')]), 'text/plain; charset=utf-16'), ['a', 'b']);
  assert.deepEqual(decode(Buffer.from('a\nb', 'utf16le'), 'text/plain; charset=utf-16'), ['a', 'b']);
  assert.deepEqual(decode(bigEndian('a\nb'), 'text/plain; charset=utf-16be'), ['a', 'b']);
  assert.deepEqual(decode(Buffer.concat([BE_BOM, bigEndian('a')]), 'text/plain; charset=utf-16be'), ['a']);
});
