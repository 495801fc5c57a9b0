// Redis consumer groups: measuring new entries before XREADGROUP (a Lua script that reads them with XRANGE, then
// XREADGROUPs them: every entry through Lua twice) cost Redis about 3.5 times a plain XREADGROUP on every read,
// main-thread time that delays appends on the same Redis. Appends list the partition's large bodies
// (BIG_BODY_BYTES), and a member reads with a plain XREADGROUP whenever none is listed ahead of what it last read,
// so a stream of small records is read with plain XREADGROUPs, and the FETCH_MAX_BYTES bound still holds when
// sizes change (redis-big-bodies.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FETCH_MAX_BYTES } from '../../src/log/redis/redis-group-consumer.js';
import { countMemberCommands, openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';


test('redis: reads of small records are plain XREADGROUPs of maxRecords, measured in a script only the first time', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('small', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < 5000; i += 1000) await log.append('small', 0, Array.from({ length: 1000 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  const consumer = await log.openConsumer({ group: 'g', stream: 'small', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const counts = countMemberCommands(consumer);
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await consumer.fetch(1000, 0);
    assert.equal(d?.records.length, 1000, `fetch ${i}`);
    seen.push(...d.records.map((r) => r.offset));
    await consumer.commit(d);
  }
  assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(counts.get('EVAL_XREADGROUP') ?? 0, 1, 'only the first read, before the member read anything there, is measured');
  assert.equal(counts.get('XREADGROUP'), 4, 'the other reads are plain XREADGROUPs');
});

test('redis: records far smaller after large ones still go maxRecords at a time, and every read stays within FETCH_MAX_BYTES', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const LARGE = 512 * 1024;
  const large = Math.ceil((1.1 * FETCH_MAX_BYTES) / LARGE);
  await log.ensureStream('mixed', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < large; i += 4) {
    await log.append('mixed', 0, Array.from({ length: Math.min(4, large - i) }, (_, j) => makeRecord(i + j, LARGE)), 'durable');
  }
  for (let i = 0; i < 3000; i += 1000) await log.append('mixed', 0, Array.from({ length: 1000 }, (_, j) => makeRecord(large + i + j, 200)), 'durable');
  const consumer = await log.openConsumer({ group: 'g', stream: 'mixed', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const seen: number[] = [];
  const sizes: number[] = [];
  for (const until = Date.now() + 20_000; seen.length < large + 3000 && Date.now() < until; ) {
    const d = await consumer.fetch(1000, 100);
    if (!d) continue;
    const bytes = d.records.reduce((sum, r) => sum + r.body.length, 0);
    assert.ok(bytes <= FETCH_MAX_BYTES + LARGE, `a delivery of ${d.records.length} records, ${bytes} bytes`);
    seen.push(...d.records.map((r) => r.offset));
    sizes.push(d.records.length);
    await consumer.commit(d);
  }
  assert.deepEqual(seen, Array.from({ length: large + 3000 }, (_, i) => i));
  assert.ok(sizes.includes(1000), `small records after large ones went ${sizes.join(', ')} at a time`);
});
