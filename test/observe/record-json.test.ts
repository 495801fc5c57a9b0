// The record object of `hopper log read` and the records API (public interface): the body as UTF-8
// text when its bytes are valid UTF-8, a leading byte-order mark kept, else base64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordToJson } from '../../src/observe/record-json.js';
import type { LogRecord } from '../../src/log/types.js';

function rec(body: Buffer): LogRecord {
  return { stream: 's', partition: 0, offset: 7, body, receivedAtUs: 1_700_000_000_000_001, contentType: 'text/plain', contentEncoding: '', remoteAddress: '::1', requestId: 'r', idempotencyKey: '' };
}

test('body: UTF-8 text with its BOM kept, or base64 for other bytes; the bytes always come back whole', () => {
  const cases = [Buffer.from('hello'), Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0x00, 0x41]), Buffer.alloc(0)];
  for (const body of cases) {
    const out = recordToJson(rec(body));
    const back = typeof out.body === 'string' ? Buffer.from(out.body, 'utf8') : Buffer.from(out.bodyBase64 as string, 'base64');
    assert.deepEqual(back, body, body.toString('hex'));
  }
  assert.equal(recordToJson(rec(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0x69]))).body, '\ufeffhi');
});
