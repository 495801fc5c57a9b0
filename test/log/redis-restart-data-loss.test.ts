// Redis restarted without its data (no persistence, or a snapshot older than the
// stream) while a Log stays open: what was stored before is gone, as documented,
// but a record acknowledged after the restart must be in the stream listing and
// reach a consumer group, not sit in a key no worker ever reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isHopperError } from '../../src/errors.js';
import type { AppendResult } from '../../src/log/types.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { redisServerMissing, TestRedisServer } from '../helpers/redis-server.js';
import { openRedisLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

test('redis: a record acknowledged after a restart that lost the data is listed and delivered', { skip: redisServerMissing() }, async (t) => {
  const server = await TestRedisServer.start();
  const logs: RedisLog[] = [];
  t.after(async () => {
    for (const l of logs) await l.close().catch(() => undefined);
    await server.stop();
  });
  const ingest = await openRedisLog('loss:', { url: server.url, commandTimeoutMs: 2000 });
  logs.push(ingest);
  await ingest.ensureStream('events', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await ingest.append('events', 0, [makeRecord(0)], 'durable');

  await server.kill();
  // The restarted Redis has nothing, as with persistence off.
  for (const f of readdirSync(server.dir)) rmSync(join(server.dir, f), { recursive: true, force: true });
  await server.startProcess();

  const rec = makeRecord(1);
  let acked: AppendResult | null = null;
  for (let attempt = 0; attempt < 100 && !acked; attempt++) {
    try {
      acked = await ingest.append('events', 0, [rec], 'durable');
    } catch (err) {
      assert.ok(isHopperError(err, 'HOPPER_LOG_UNAVAILABLE'), `unexpected error ${String(err)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(acked, 'appends resume after the restart');

  // A worker started now (hopper work, hopper log read) finds the stream and its record.
  const worker = await openRedisLog('loss:', { url: server.url });
  logs.push(worker);
  assert.deepEqual(await worker.listStreams(), ['events']);
  assert.deepEqual(await worker.listPartitions('events'), [0]);
  const consumer = await worker.openConsumer({ group: 'g', stream: 'events', consumerName: 'w1', leaseTimeoutMs: 5000 });
  const delivery = await consumer.fetch(10, 2000);
  await consumer.close();
  assert.ok(delivery, 'the acknowledged record is delivered to a consumer group');
  assert.deepEqual(
    delivery.records.map((r) => [r.offset, r.requestId]),
    [[acked.firstOffset, rec.requestId]],
  );
});
