// Redis consumer groups: a takeover counts a delivery of every entry it claims (XCLAIM), so it claims only what
// goes out next. Entries claimed and left waiting in the member's buffer while a slow delivery is processed go
// stale there (never handed out) and are claimed again later: each such claim counted a delivery that never
// happened, until records no worker ever died on were over maxDeliveries (dead letters without a call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, LogConsumer } from '../../src/log/types.js';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

test('redis: entries taken over from a dead member are counted once per delivery, not per claim, while deliveries are slow', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const s = `claimcount${Date.now()}`;
  const partitions = 3;
  await log.ensureStream(s, { partitions, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < partitions; p++) await log.append(s, p, [makeRecord(p)], 'durable');
  const leaseTimeoutMs = 600;
  const member = (name: string): Promise<LogConsumer> => log.openConsumer({ group: 'g', stream: s, consumerName: name, leaseTimeoutMs });
  const fetchSome = async (c: LogConsumer): Promise<Delivery> => {
    for (const until = Date.now() + 15_000; Date.now() < until; ) {
      const d = await c.fetch(10, 100);
      if (d) return d;
    }
    throw new Error('no delivery');
  };
  const m0 = await member('m0');
  for (let held = 0; held < partitions; ) held += (await fetchSome(m0)).records.length;
  (m0 as LogConsumer & { simulateCrash(): void }).simulateCrash();
  const m1 = await member('m1');
  const seen = new Map<number, number>();
  while (seen.size < partitions) {
    const d = await fetchSome(m1);
    seen.set(d.partition, d.redeliveries);
    await new Promise((r) => setTimeout(r, leaseTimeoutMs * 0.9)); // a slow batch (renewed meanwhile)
    await m1.commit(d);
  }
  for (const [p, redeliveries] of seen) assert.equal(redeliveries, 1, `partition ${p}: delivered once before (by m0), got ${redeliveries}`);
  await m1.close();
  await m0.close();
});
