// NATS record codec: metadata survives the trip through NATS headers (encoded to
// the wire format and parsed back) for any string, including CR/LF, '%' and edge spaces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { decodeMessage, encodeHeaders, recordBytes } from '../../src/log/nats/nats-record-codec.js';

const text = fc.string({ unit: 'binary', maxLength: 40, size: 'max' });

function roundTrip(rec: { body: Buffer; receivedAtUs: number; contentType: string; contentEncoding: string; remoteAddress: string; requestId: string; idempotencyKey: string }) {
  const wire = MsgHdrsImpl.decode((encodeHeaders(rec) as MsgHdrsImpl).encode());
  const back = decodeMessage(wire, rec.body, 's', 3, 7);
  return { ...back, body: Buffer.from(back.body) };
}

test('Unicode whitespace at either edge survives the header trim', () => {
  for (const v of [' ', '\u00a0', '\u2028x', 'x\ufeff', '\u3000 \u00a0', '%u00A0', 'a\u00a0b']) {
    const rec = { body: Buffer.alloc(0), receivedAtUs: 1, contentType: v, contentEncoding: v, remoteAddress: v, requestId: v, idempotencyKey: v };
    assert.deepEqual(roundTrip(rec), { ...rec, stream: 's', partition: 3, offset: 7 }, JSON.stringify(v));
  }
});

test('metadata round-trips through the header wire format', () => {
  fc.assert(
    fc.property(text, text, text, text, text, fc.integer({ min: 0, max: 2 ** 52 }), fc.uint8Array({ maxLength: 64, size: 'max' }), (ct, ce, ra, rq, ik, at, body) => {
      const rec = { body: Buffer.from(body), receivedAtUs: at, contentType: ct, contentEncoding: ce, remoteAddress: ra, requestId: rq, idempotencyKey: ik };
      assert.deepEqual(roundTrip(rec), { ...rec, stream: 's', partition: 3, offset: 7 });
    }),
    { numRuns: 2000 },
  );
});

test('metadata longer than 1024 bytes is refused', () => {
  const rec = { body: Buffer.alloc(1), receivedAtUs: 1, contentType: 'x'.repeat(1025), contentEncoding: '', remoteAddress: '', requestId: '', idempotencyKey: '' };
  assert.equal(recordBytes(rec), -1);
  assert.ok(recordBytes({ ...rec, contentType: 'x' }) > 0);
});
