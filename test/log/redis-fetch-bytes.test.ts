// Redis consumer groups: a fetch hands out about FETCH_MAX_BYTES of records at most, as a read of the embedded log
// does, not maxRecords whatever their size: XREADGROUP COUNT 1000 (the default batch) of 1 MB records brought
// 1 GB into the worker at once. Entries are handed to the member (pending) only when returned: none is left
// pending behind a fetch, to be taken over later and counted as delivered again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FETCH_MAX_BYTES } from '../../src/log/redis/redis-group-consumer.js';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const BODY_BYTES = 256 * 1024;
const RECORDS = Math.ceil((1.5 * FETCH_MAX_BYTES) / BODY_BYTES);

test('redis: a group fetch hands out about FETCH_MAX_BYTES of large records, each once', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 8) {
    const n = Math.min(8, RECORDS - i);
    await log.append('big', 0, Array.from({ length: n }, (_, j) => ({ ...makeRecord(i + j), body: Buffer.alloc(BODY_BYTES, (i + j) % 256) })), 'durable');
  }
  const consumer = await log.openConsumer({ group: 'g', stream: 'big', consumerName: 'c', leaseTimeoutMs: 1000 });
  t.after(() => consumer.close());
  const seen: number[] = [];
  for (const until = Date.now() + 20_000; seen.length < RECORDS && Date.now() < until; ) {
    const d = await consumer.fetch(1000, 200);
    if (!d) continue;
    const bytes = d.records.reduce((sum, r) => sum + r.body.length, 0);
    assert.ok(bytes <= FETCH_MAX_BYTES + BODY_BYTES, `a delivery of ${d.records.length} records, ${bytes} bytes`);
    assert.equal(d.redeliveries, 0);
    seen.push(...d.records.map((r) => r.offset));
    await consumer.commit(d);
  }
  assert.deepEqual(seen, Array.from({ length: RECORDS }, (_, i) => i));
  // Nothing was handed to the member without being returned: no takeover after the lease brings anything again.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await consumer.fetch(1000, 300), null);
  const p = (await log.stats()).streams.find((s) => s.stream === 'big')!.partitions[0]!;
  assert.deepEqual(p.groups, [{ group: 'g', position: RECORDS, lag: 0 }]);
});

test('redis: a takeover of what a dead member held hands out about FETCH_MAX_BYTES at a time', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 8) {
    const n = Math.min(8, RECORDS - i);
    await log.append('big', 0, Array.from({ length: n }, (_, j) => ({ ...makeRecord(i + j), body: Buffer.alloc(BODY_BYTES, (i + j) % 256) })), 'durable');
  }
  const leaseTimeoutMs = 1000;
  const dead = await log.openConsumer({ group: 'g', stream: 'big', consumerName: 'dead', leaseTimeoutMs });
  for (let held = 0; held < RECORDS; ) held += (await dead.fetch(1000, 500))?.records.length ?? 0;
  (dead as unknown as { simulateCrash(): void }).simulateCrash();
  const next = await log.openConsumer({ group: 'g', stream: 'big', consumerName: 'next', leaseTimeoutMs });
  t.after(async () => {
    await next.close();
    await dead.close();
  });
  const seen: number[] = [];
  for (const until = Date.now() + 20_000; seen.length < RECORDS && Date.now() < until; ) {
    const d = await next.fetch(1000, 200);
    if (!d) continue;
    const bytes = d.records.reduce((sum, r) => sum + r.body.length, 0);
    assert.ok(bytes <= FETCH_MAX_BYTES + BODY_BYTES, `a delivery of ${d.records.length} records, ${bytes} bytes`);
    assert.equal(d.redeliveries, 1);
    seen.push(...d.records.map((r) => r.offset));
    await next.commit(d);
  }
  assert.deepEqual(seen, Array.from({ length: RECORDS }, (_, i) => i));
});
