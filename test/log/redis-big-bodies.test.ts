// Redis consumer groups: appends list bodies over BIG_BODY_BYTES per partition, and a group read is a plain
// XREADGROUP (of at most FETCH_MAX_BYTES / BIG_BODY_BYTES entries) only when none is listed ahead of it, else it is
// measured in Redis. Since d87aa6d reads were planned from the largest body the member had seen: large bodies
// after small ones went out 96 x 1 MiB in one delivery (6 times the limit), a takeover claimed all a dead member
// held as well, a blocking first read planned from one body, and after one large body small ones alternated
// 1000 and 16 a read, half of them measured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { FETCH_MAX_BYTES } from '../../src/log/redis/redis-group-consumer.js';
import { bigKey, bigSinceKey } from '../../src/log/redis/redis-keys.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import type { Delivery, LogConsumer } from '../../src/log/types.js';
import { countMemberCommands, openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const MIB = 1024 * 1024;


async function appendMany(log: RedisLog, stream: string, from: number, count: number, bodyBytes: number): Promise<void> {
  const per = Math.max(1, Math.min(1000, Math.floor(4 * MIB / bodyBytes)));
  for (let i = 0; i < count; i += per) {
    await log.append(stream, 0, Array.from({ length: Math.min(per, count - i) }, (_, j) => makeRecord(from + i + j, bodyBytes)), 'durable');
  }
}

/** Fetches and commits until `total` records came, asserting each delivery is within the limit; returns the delivery sizes. */
async function drain(consumer: LogConsumer, total: number, largest: number, check?: (d: Delivery) => void): Promise<{ sizes: number[]; offsets: number[] }> {
  const sizes: number[] = [];
  const offsets: number[] = [];
  for (const until = Date.now() + 30_000; offsets.length < total && Date.now() < until; ) {
    const d = await consumer.fetch(1000, 100);
    if (!d) continue;
    const bytes = d.records.reduce((sum, r) => sum + r.body.length, 0);
    assert.ok(bytes <= FETCH_MAX_BYTES + largest, `a delivery of ${d.records.length} records, ${bytes} bytes (limit ${FETCH_MAX_BYTES} + one body)`);
    check?.(d);
    sizes.push(d.records.length);
    offsets.push(...d.records.map((r) => r.offset));
    await consumer.commit(d);
  }
  return { sizes, offsets };
}

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('redis: large bodies after small ones go out within FETCH_MAX_BYTES a delivery', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 10, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  const first = await drain(c, 10, 200);
  await appendMany(log, 's', 10, 40, MIB);
  const counts = countMemberCommands(c);
  const { offsets } = await drain(c, 40, MIB);
  assert.deepEqual([...first.offsets, ...offsets], range(0, 50));
  assert.equal(counts.get('XREADGROUP') ?? 0, 0, 'no plain read while big bodies are ahead');
});

test('redis: a takeover of large bodies claims within FETCH_MAX_BYTES, also by a member that read small ones', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const leaseTimeoutMs = 1000;
  const next = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'next', leaseTimeoutMs });
  await appendMany(log, 's', 0, 10, 200);
  await drain(next, 10, 200);
  await appendMany(log, 's', 10, 40, MIB);
  const dead = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'dead', leaseTimeoutMs });
  for (let held = 0; held < 40; ) held += (await dead.fetch(1000, 500))?.records.length ?? 0;
  (dead as unknown as { simulateCrash(): void }).simulateCrash();
  t.after(async () => {
    await next.close();
    await dead.close();
  });
  const { offsets } = await drain(next, 40, MIB, (d) => assert.equal(d.redeliveries, 1));
  assert.deepEqual(offsets, range(10, 40));
});

test('redis: a first read that blocked for one small body is followed by reads within FETCH_MAX_BYTES', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  const waiting = c.fetch(1000, 5000);
  await new Promise((r) => setTimeout(r, 300));
  await log.append('s', 0, [makeRecord(0, 200)], 'durable');
  const d = await waiting;
  assert.equal(d?.records.length, 1);
  await c.commit(d);
  await appendMany(log, 's', 1, 40, MIB);
  const { offsets } = await drain(c, 40, MIB);
  assert.deepEqual(offsets, range(1, 40));
});

test('redis: small bodies after large ones are plain reads of maxRecords once the large ones are behind', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 1, MIB);
  await appendMany(log, 's', 1, 5000, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  const counts = countMemberCommands(c);
  const { sizes, offsets } = await drain(c, 5001, MIB);
  assert.deepEqual(offsets, range(0, 5001));
  assert.deepEqual(sizes, [1000, 1000, 1000, 1000, 1000, 1]);
  assert.equal(counts.get('EVAL_XREADGROUP'), 1, 'only the first read (the large body ahead) is measured');
  assert.equal(counts.get('XREADGROUP'), 5);
});

test('redis: a partition whose large bodies are not listed (written by an older Hopper) is read measured', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 10, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  await drain(c, 10, 200);
  await appendMany(log, 's', 10, 40, MIB);
  const key = log.key('s', 0);
  await log.redis.del(bigKey(key), bigSinceKey(key)); // as an older Hopper wrote them
  await appendMany(log, 's', 50, 10, 200); // listed from here on: bigsince is past the large bodies
  assert.match((await log.redis.get(bigSinceKey(key))) ?? '', /^51 /);
  const { offsets } = await drain(c, 50, MIB);
  assert.deepEqual(offsets, range(10, 50));
});

test('redis: a group position set back (replay) makes its members measure again', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 40, MIB);
  await appendMany(log, 's', 40, 2000, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  await drain(c, 2040, MIB);
  await log.commitPosition('g', 's', 0, 0);
  const { offsets } = await drain(c, 2040, MIB);
  assert.deepEqual(offsets, range(0, 2040));
});

test('redis: a member that read far before Redis lost its data measures once another member made the group again', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 2000, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  await drain(c, 2000, 200);
  // Redis restarted without its data; another member made the group again before this one read.
  const key = log.key('s', 0);
  await log.redis.del(key, bigKey(key), bigSinceKey(key));
  await log.redis.xgroup('CREATE', key, 'g', '0', 'MKSTREAM');
  await appendMany(log, 's', 0, 40, MIB); // offsets start over at 0, far below what the member last read
  await appendMany(log, 's', 40, 10, 200);
  const { offsets } = await drain(c, 50, MIB);
  assert.deepEqual(offsets, range(0, 50));
});

test('redis: retention removes trimmed entries from the list of large bodies', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 512 * 1024 });
  await appendMany(log, 's', 0, 40, 64 * 1024);
  const big = bigKey(log.key('s', 0));
  assert.equal(await log.redis.zcard(big), 40);
  await log.enforceRetention();
  const { start, end } = await log.bounds('s', 0);
  assert.ok(start > 0 && end === 40, `retention trimmed to ${start}..${end}`);
  const listed = await log.redis.zrange(big, 0, -1);
  assert.deepEqual(listed, range(start, end - start).map((o) => `0-${o + 1}`));
});

test('redis: large bodies appended between a read\'s check of the list and its XREADGROUP stay within FETCH_MAX_BYTES', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 10, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  await drain(c, 10, 200);
  await appendMany(log, 's', 10, 10, 200);
  // An ingest append lands right after the member looked at the list of large bodies (nothing listed ahead).
  const conn = (c as unknown as { conn: Redis }).conn;
  const call = conn.call.bind(conn) as (...args: unknown[]) => Promise<unknown>;
  let appended = false;
  (conn as unknown as Record<string, unknown>).call = async (name: string, ...rest: unknown[]) => {
    const reply = await call(name, ...rest);
    if (name.toUpperCase() === 'ZRANGEBYSCORE' && !appended) {
      appended = true;
      await appendMany(log, 's', 20, 40, MIB);
    }
    return reply;
  };
  const { offsets } = await drain(c, 50, MIB);
  assert.ok(appended, 'the member looked at the list before reading');
  assert.deepEqual(offsets, range(10, 50));
});

test('redis: a member reading right as a replay sets the group back stays within FETCH_MAX_BYTES', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await appendMany(log, 's', 0, 40, MIB);
  await appendMany(log, 's', 40, 2000, 200);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => c.close());
  await drain(c, 2040, MIB);
  await drain(c, 0, MIB); // a plain read planned: the member knows bigsince
  // The member reads as soon as Redis answered the replay's XGROUP SETID, before anything else the replay sends.
  const send = log.redis.sendCommand.bind(log.redis) as (command: { name: string; args: unknown[]; promise: Promise<unknown>; inTransaction: boolean }, ...rest: unknown[]) => unknown;
  let raced = null as Promise<Delivery | null> | null; // set in the hook: not narrowed to null
  (log.redis as unknown as Record<string, unknown>).sendCommand = (command: { name: string; args: unknown[]; promise: Promise<unknown>; inTransaction: boolean }, ...rest: unknown[]) => {
    if (command.name === 'del' && raced && !command.inTransaction) {
      // Whatever the replay sends after SETID arrives once that read is done.
      void raced.finally(() => send(command, ...rest));
      return command.promise;
    }
    const sent = send(command, ...rest);
    if (command.name === 'xgroup' && String(command.args[0]).toUpperCase() === 'SETID') {
      raced = command.promise.then(() => c.fetch(1000, 0));
    }
    return sent;
  };
  await log.commitPosition('g', 's', 0, 0);
  (log.redis as unknown as Record<string, unknown>).sendCommand = send;
  assert.ok(raced, 'the replay set the group back with XGROUP SETID');
  const d = await raced;
  const bytes = d?.records.reduce((sum, r) => sum + r.body.length, 0) ?? 0;
  assert.ok(bytes <= FETCH_MAX_BYTES + MIB, `a delivery of ${d?.records.length} records, ${bytes} bytes`);
});
