// The embedded log's frame codec: any record written with writeFrame is checked
// by inspectFrame and decoded by decodeFrame to the same values, whatever its
// metadata strings hold (ASCII, which takes the in-JavaScript path, or any
// Unicode, short or long), and the frame is exactly frameBytes long.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FRAME_OK, decodeFrame, frameBytes, inspectFrame, newFrameFacts, writeFrame } from '../../src/log/embedded/record-frame.js';
import type { RecordInput } from '../../src/log/types.js';

const metadata = fc.oneof(fc.string({ maxLength: 80, size: 'max' }), fc.string({ unit: 'binary', maxLength: 80, size: 'max' }), fc.constant(''));
const record = fc.record({
  body: fc.uint8Array({ maxLength: 600, size: 'max' }).map((a) => Buffer.from(a)),
  receivedAtUs: fc.integer({ min: 0, max: 2 ** 52 }),
  contentType: metadata,
  contentEncoding: metadata,
  remoteAddress: metadata,
  requestId: metadata,
  idempotencyKey: metadata,
});

test('writeFrame / inspectFrame / decodeFrame round-trip any record, back to back', () => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 ** 40 }), (records: RecordInput[], firstOffset) => {
      const sizes = records.map(frameBytes);
      const buf = Buffer.alloc(sizes.reduce((a, b) => a + b, 0));
      let pos = 0;
      for (const [i, r] of records.entries()) {
        const end = writeFrame(buf, pos, r, firstOffset + i);
        assert.equal(end - pos, sizes[i], 'frameBytes is the frame size');
        pos = end;
      }
      const facts = newFrameFacts();
      pos = 0;
      for (const [i, r] of records.entries()) {
        assert.equal(inspectFrame(buf, pos, buf.length, facts), FRAME_OK, facts.reason);
        const d = decodeFrame(buf, pos, 's', 3);
        assert.deepEqual(
          [d.offset, d.receivedAtUs, d.contentType, d.contentEncoding, d.remoteAddress, d.requestId, d.idempotencyKey, Buffer.from(d.body)],
          [firstOffset + i, r.receivedAtUs, r.contentType, r.contentEncoding, r.remoteAddress, r.requestId, r.idempotencyKey, r.body],
        );
        pos = facts.end;
      }
      assert.equal(pos, buf.length);
    }),
    { numRuns: 500 },
  );
});

test('a non-ASCII character after ASCII ones is stored as UTF-8, not as a truncated byte', () => {
  const r: RecordInput = { body: Buffer.from('x'), receivedAtUs: 1, contentType: 'text/plain; charset=utf-8', contentEncoding: '', remoteAddress: '::1', requestId: 'abc-é-✓-😀', idempotencyKey: 'k' };
  const buf = Buffer.alloc(frameBytes(r));
  writeFrame(buf, 0, r, 7);
  assert.ok(buf.includes(Buffer.from('abc-é-✓-😀')), 'the UTF-8 bytes are in the frame');
  assert.equal(decodeFrame(buf, 0, 's', 0).requestId, 'abc-é-✓-😀');
});
