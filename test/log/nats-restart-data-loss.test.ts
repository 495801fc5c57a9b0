// NATS restarted without its data (a store on a wiped disk, or in /tmp, nats-server's default, after a reboot)
// while a Log stays open: what was stored before is gone, as with Redis without persistence, but appends must
// work again without restarting Hopper, and what they store must reach a consumer group. The log used to keep
// publishing to partition streams that no longer existed: 503 for every append until the process restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import type { AppendResult } from '../../src/log/types.js';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

test('nats: appends work again after a restart that lost the data, and reach a consumer group', { skip: natsServerMissing(), timeout: 60_000 }, async (t) => {
  const server = await TestNatsServer.start();
  const prefix = uniqueNatsPrefix();
  const ingest = await openNatsLog(prefix, { servers: server.servers, requestTimeoutMs: 1000 });
  t.after(async () => {
    await ingest.close().catch(() => undefined);
    await server.stop();
  });
  await ingest.ensureStream('events', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await ingest.append('events', 1, [makeRecord(0)], 'durable');

  await server.restart(true);

  const rec = makeRecord(1);
  let acked: AppendResult | null = null;
  let lastError: unknown = null;
  for (const until = Date.now() + 20_000; !acked && Date.now() < until; ) {
    try {
      acked = await ingest.append('events', 1, [rec], 'durable');
    } catch (err) {
      assert.ok(isHopperError(err, 'HOPPER_LOG_UNAVAILABLE'), `unexpected error ${String(err)}`);
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(acked, `appends never resumed after the restart: ${String(lastError)}`);

  const worker = await openNatsLog(prefix, { servers: server.servers });
  t.after(() => worker.close());
  assert.deepEqual(await worker.listStreams(), ['events']);
  assert.deepEqual(await worker.listPartitions('events'), [0, 1]);
  const consumer = await worker.openConsumer({ group: 'g', stream: 'events', consumerName: 'w1', leaseTimeoutMs: 5000 });
  let delivery = null;
  for (const until = Date.now() + 10_000; !delivery && Date.now() < until; ) delivery = await consumer.fetch(10, 500);
  await consumer.close();
  assert.ok(delivery, 'the acknowledged record is delivered to a consumer group');
  assert.deepEqual(
    delivery.records.map((r) => [delivery.partition, r.offset, r.requestId]),
    [[1, acked.firstOffset, rec.requestId]],
  );
});
