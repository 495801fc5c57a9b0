// NATS: a record over the server's max_payload (body plus encoded headers) makes
// its whole append fail with 413 HOPPER_BODY_TOO_LARGE before anything is
// published, at every ack level: none of the append's records is stored, and a
// `fast` append is refused rather than acknowledged and dropped. A record exactly
// at the limit is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MsgHdrsImpl } from '@nats-io/transport-node';
import { isHopperError } from '../../src/errors.js';
import { encodeHeaders } from '../../src/log/nats/nats-record-codec.js';
import { ACK_LEVELS, type RecordInput } from '../../src/log/types.js';
import { openNatsTestLog } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

/** A record whose NATS message (body and encoded headers) is exactly `messageBytes` long. */
function recordOfMessageBytes(base: RecordInput, messageBytes: number): RecordInput {
  const headerBytes = (encodeHeaders(base) as MsgHdrsImpl).encode().length;
  return { ...base, body: Buffer.alloc(messageBytes - headerBytes, 0x61) };
}

test('nats: an append holding a record over max_payload stores nothing and is refused with 413, at every ack level', async (t) => {
  const log = await openNatsTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const maxPayload = log.link.nc.info!.max_payload;

  for (const ack of ACK_LEVELS) {
    const over = recordOfMessageBytes(makeRecord(2), maxPayload + 1);
    await assert.rejects(
      log.append('s', 0, [makeRecord(1), over, makeRecord(3)], ack),
      (err) => isHopperError(err, 'HOPPER_BODY_TOO_LARGE') && err.status === 413 && /max_payload/.test(err.message),
      `${ack} append with an oversized record`,
    );
  }
  // Escaped metadata (control characters take 3 bytes each) counts as nats.js encodes it.
  const escaped = { ...makeRecord(4), requestId: 'req\u0001\u0002\u0003%%%', contentType: ' text/plain ' };
  await assert.rejects(log.append('s', 0, [recordOfMessageBytes(escaped, maxPayload + 1)], 'durable'), (err) => isHopperError(err, 'HOPPER_BODY_TOO_LARGE'));

  assert.equal(log.lostFastRecords(), 0, 'the refused fast append was not acknowledged');
  await new Promise((r) => setTimeout(r, 200)); // a stray publish would be stored by now
  assert.deepEqual((await log.read('s', 0, 0, { maxRecords: 100 })).records, [], 'no record of a refused append is stored');

  // At the limit exactly: stored, body intact.
  const atLimit = recordOfMessageBytes(escaped, maxPayload);
  const r = await log.append('s', 0, [makeRecord(5), atLimit], 'durable');
  assert.equal(r.firstOffset, 0);
  const { records } = await log.read('s', 0, 1, { maxRecords: 1 });
  assert.equal(records[0]?.body.length, atLimit.body.length);
  assert.equal(records[0]?.requestId, escaped.requestId);
});
