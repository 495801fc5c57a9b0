// NATS: byte retention never deletes a record as it is acknowledged. JetStream's
// max_bytes with discard old deletes the oldest messages while the stream holds
// more than max_bytes, the message just stored included: a record larger than a
// partition's share of retentionMaxBytes was answered with a PubAck and deleted at
// once, so an append acknowledged `durable` left nothing to read and no group ever
// saw it. Such a record is now refused with 413 before anything of its append is
// published, like one over max_payload; a record that fits is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import { ACK_LEVELS } from '../../src/log/types.js';
import { openNatsLog, openNatsTestLog } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

test('nats: a record that byte retention would delete at once is refused with 413, not acknowledged and lost', async (t) => {
  const log = await openNatsTestLog(t);
  if (!log) return;
  // 4 partitions share 100 kB: 25 kB each.
  await log.ensureStream('small', { partitions: 4, retentionMaxAgeMs: 0, retentionMaxBytes: 100_000 });
  const big = { ...makeRecord(1), body: Buffer.alloc(30_000, 0x62) };
  for (const ack of ACK_LEVELS) {
    await assert.rejects(
      log.append('small', 1, [makeRecord(2), big, makeRecord(3)], ack),
      (err) => isHopperError(err, 'HOPPER_BODY_TOO_LARGE') && err.status === 413 && /retentionMaxBytes/.test(err.message),
      `${ack} append holding a 30 kB record in a 25 kB partition`,
    );
  }
  assert.equal(log.lostFastRecords(), 0);
  await new Promise((r) => setTimeout(r, 200)); // a stray publish would be stored by now
  assert.deepEqual((await log.read('small', 1, 0, { maxRecords: 10 })).records, [], 'nothing of a refused append is stored');

  // A record that fits the partition's share is kept, byte for byte, and retention still deletes older ones.
  const fits = { ...makeRecord(4), body: Buffer.alloc(20_000, 0x63) };
  const first = await log.append('small', 1, [fits], 'durable');
  const second = await log.append('small', 1, [fits], 'durable');
  const { records } = await log.read('small', 1, 0, { maxRecords: 10 });
  assert.deepEqual(records.map((r) => r.offset), [second.firstOffset], `offset ${first.firstOffset} went to retention`);
  assert.ok(records[0]!.body.equals(fits.body));

  // Another process (no ensureStream of its own: the partition's limit comes from JetStream) refuses it too.
  const other = await openNatsLog(log.opts.subjectPrefix);
  t.after(() => other.close());
  await assert.rejects(other.append('small', 2, [big], 'durable'), (err) => isHopperError(err, 'HOPPER_BODY_TOO_LARGE'));
  assert.equal((await other.append('small', 2, [fits], 'durable')).firstOffset, 0);
  assert.equal((await other.read('small', 2, 0, { maxRecords: 10 })).records.length, 1);

  // Without byte retention nothing changes: a large record is stored.
  await log.ensureStream('unbounded', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const r = await log.append('unbounded', 0, [{ ...big, body: Buffer.alloc(500_000, 0x64) }], 'durable');
  assert.equal((await log.read('unbounded', 0, r.firstOffset, { maxRecords: 1 })).records[0]?.body.length, 500_000);
});
