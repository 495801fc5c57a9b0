// A group's durable consumer deleted on the server under a running member (`nats consumer rm`, or the partition's
// stream deleted and created again, as after NATS lost its data): nats-server answers a pull for a consumer that
// does not exist with nothing at all, no 409 or 503. The member used to send such pulls for ever, each fetch
// waiting requestTimeoutMs for nothing: records appended afterwards never reached it until it was restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery } from '../../src/log/types.js';
import { openNatsTestLog } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const STREAM_OPTIONS = { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

async function fetchUntil(fetch: () => Promise<Delivery | null>, ms: number): Promise<Delivery | null> {
  for (const until = Date.now() + ms; Date.now() < until; ) {
    const d = await fetch();
    if (d) return d;
  }
  return null;
}

for (const what of ['its consumer', 'its stream'] as const) {
  test(`nats: a running group member gets new records after ${what} was deleted on the server`, { timeout: 60_000 }, async (t) => {
    const log = await openNatsTestLog(t, { requestTimeoutMs: 1000 });
    if (!log) return;
    await log.ensureStream('events', STREAM_OPTIONS);
    await log.append('events', 0, [makeRecord(0)], 'durable');
    const consumer = await log.openConsumer({ group: 'g', stream: 'events', consumerName: 'w1', leaseTimeoutMs: 5000 });
    t.after(() => consumer.close());
    const first = await fetchUntil(() => consumer.fetch(10, 500), 5000);
    assert.ok(first);
    await consumer.commit(first);

    const name = log.streamName('events', 0);
    if (what === 'its consumer') {
      await log.jsm.consumers.delete(name, 'g');
    } else {
      await log.jsm.streams.delete(name);
      await log.ensureStream('events', STREAM_OPTIONS);
    }
    const rec = makeRecord(1);
    const acked = await log.append('events', 0, [rec], 'durable');

    // The consumer is created again from the start of the partition: a record it had committed may come again.
    const seen: string[] = [];
    await fetchUntil(async () => {
      const d = await consumer.fetch(10, 500);
      if (!d) return null;
      await consumer.commit(d);
      seen.push(...d.records.map((r) => r.requestId ?? ''));
      return seen.includes(rec.requestId!) ? d : null;
    }, 15_000);
    assert.ok(seen.includes(rec.requestId!), `record at offset ${acked.firstOffset} never delivered (got ${JSON.stringify(seen)})`);
  });
}

// A partition whose stream is gone for good (no append created it again) is checked and found missing: the
// member's other partitions are still read, and fetch does not fail for it.
test('nats: a group member goes on reading its other partitions while one partition stream is gone', { timeout: 60_000 }, async (t) => {
  const log = await openNatsTestLog(t, { requestTimeoutMs: 1000 });
  if (!log) return;
  await log.ensureStream('events', { ...STREAM_OPTIONS, partitions: 2 });
  const consumer = await log.openConsumer({ group: 'g', stream: 'events', consumerName: 'w1', leaseTimeoutMs: 5000 });
  t.after(() => consumer.close());
  await log.jsm.streams.delete(log.streamName('events', 1));
  const started = Date.now();
  for (let i = 0; i < 6; i++) {
    const rec = makeRecord(i);
    await log.append('events', 0, [rec], 'durable');
    const d = await fetchUntil(() => consumer.fetch(10, 500), 5000);
    assert.ok(d, `record ${i} delivered`);
    assert.deepEqual(d.records.map((r) => r.requestId), [rec.requestId]);
    await consumer.commit(d);
  }
  // One pull to the missing partition goes unanswered (requestTimeoutMs), then it is checked and left alone.
  assert.ok(Date.now() - started < 3000, `six records took ${Date.now() - started} ms`);
});
