// Redis consumer groups: a fetch of more records than PLAIN_READ_MAX (1024) is read in steps, each asking Redis for
// at most that many entries. A batch of 160k small records was measured in one Lua script that held Redis for
// about a second, and every client's appends and commits waited behind it; a takeover of a dead member's entries
// listed and measured them all in one XPENDING and one script the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FETCH_MAX_BYTES } from '../../src/log/redis/redis-group-consumer.js';
import { BIG_BODY_BYTES } from '../../src/log/redis/redis-keys.js';
import type { LogConsumer } from '../../src/log/types.js';
import { Redis } from 'ioredis';
import { REDIS_TEST_URL, openRedisTestLog, watchMemberCommands, type MemberCommand } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const STEP_MAX_ENTRIES = 1024;

/** How many entries a command asks Redis for, for the commands that read or list entries (null: another command). */
function entriesAskedFor({ name, args }: MemberCommand): number | null {
  if (name === 'XREADGROUP') return Number(args[args.indexOf('COUNT') + 1]);
  if (name === 'EVAL_XREADGROUP') return Number(args[5]); // script, numkeys, key, group, member, max entries, ...
  if (name === 'XPENDING') return Number(args[args.length - 1]);
  if (name === 'EVAL' && String(args[0]).includes('ZRANGEBYSCORE')) return args.length - 7; // the claim count script's IDs
  return null;
}

function watchSteps(consumer: LogConsumer): MemberCommand[] {
  const commands: MemberCommand[] = [];
  watchMemberCommands(consumer, (c) => commands.push(c));
  return commands;
}

function assertStepsBounded(commands: MemberCommand[]): void {
  for (const c of commands) {
    const n = entriesAskedFor(c);
    if (n !== null) assert.ok(n <= STEP_MAX_ENTRIES, `${c.name} asked Redis for ${n} entries at once`);
  }
}

test('redis: a fetch of 20,000 small records comes whole, read in plain steps of at most 1024 entries', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const n = 20_000;
  await log.ensureStream('steps', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < n; i += 2000) await log.append('steps', 0, Array.from({ length: 2000 }, (_, j) => makeRecord(i + j, 200)), 'durable');
  const consumer = await log.openConsumer({ group: 'g', stream: 'steps', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const commands = watchSteps(consumer);

  const d = await consumer.fetch(n, 0);
  assert.equal(d?.records.length, n, 'one delivery of every record');
  assert.deepEqual(
    d.records.map((r) => r.offset),
    Array.from({ length: n }, (_, i) => i),
  );
  assertStepsBounded(commands);
  const measured = commands.filter((c) => c.name === 'EVAL_XREADGROUP').length;
  const plain = commands.filter((c) => c.name === 'XREADGROUP').length;
  assert.equal(measured, 1, 'only the first step, before the member read anything there, is measured');
  assert.ok(plain >= Math.ceil((n - STEP_MAX_ENTRIES) / STEP_MAX_ENTRIES), `${plain} plain steps`);
  await consumer.commit(d);
});

test('redis: a fetch in steps stays within FETCH_MAX_BYTES when every body is just under the big-body size', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const bodyBytes = BIG_BODY_BYTES - 100; // not listed as big: a plain step of 1024 of them is about FETCH_MAX_BYTES
  const n = 1500;
  await log.ensureStream('near-big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < n; i += 100) await log.append('near-big', 0, Array.from({ length: 100 }, (_, j) => makeRecord(i + j, bodyBytes)), 'durable');
  const consumer = await log.openConsumer({ group: 'g', stream: 'near-big', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const commands = watchSteps(consumer);

  const offsets: number[] = [];
  // The first fetch is measured (nothing read there yet); a small one, so that the big one after it starts plain.
  const first = await consumer.fetch(10, 0);
  assert.equal(first?.records.length, 10);
  offsets.push(...first.records.map((r) => r.offset));
  await consumer.commit(first);
  for (let i = 0; i < 3 && offsets.length < n; i++) {
    const d = await consumer.fetch(n, 0);
    assert.ok(d, `fetch ${i} returned nothing`);
    const bytes = d.records.reduce((sum, r) => sum + r.body.length, 0);
    assert.ok(bytes <= FETCH_MAX_BYTES + bodyBytes, `a delivery of ${d.records.length} records, ${bytes} bytes`);
    offsets.push(...d.records.map((r) => r.offset));
    await consumer.commit(d);
  }
  assert.deepEqual(offsets, Array.from({ length: n }, (_, i) => i));
  assertStepsBounded(commands);
  assert.ok(commands.some((c) => c.name === 'XREADGROUP'), 'some steps are plain');
});

test('redis: a takeover of 5,000 entries of a dead member comes as one delivery, listed and claimed in steps', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const n = 5000;
  const leaseTimeoutMs = 500;
  await log.ensureStream('takeover', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('takeover', 0, Array.from({ length: n }, (_, i) => makeRecord(i, 100)), 'durable');
  const dead = await log.openConsumer({ group: 'g', stream: 'takeover', consumerName: 'dead', leaseTimeoutMs });
  t.after(() => dead.close());
  const held = await dead.fetch(n, 0);
  assert.equal(held?.records.length, n);
  (dead as LogConsumer & { simulateCrash(): void }).simulateCrash();

  const heir = await log.openConsumer({ group: 'g', stream: 'takeover', consumerName: 'heir', leaseTimeoutMs });
  t.after(() => heir.close());
  const commands = watchSteps(heir);
  let d = null;
  for (const deadline = Date.now() + 10 * leaseTimeoutMs; !d && Date.now() < deadline; ) d = await heir.fetch(20_000, 200);
  assert.ok(d, 'the dead member’s entries were taken over');
  assert.equal(d.redeliveries, 1);
  assert.deepEqual(
    d.records.map((r) => r.offset),
    Array.from({ length: n }, (_, i) => i),
    'one delivery of every entry the dead member held',
  );
  assertStepsBounded(commands);
  assert.ok(commands.filter((c) => c.name === 'XPENDING').length >= Math.ceil(n / STEP_MAX_ENTRIES), 'listed in steps');
  await heir.commit(d);
});

test('redis: a member looks for abandoned entries once a maintenance round, not before every read, when none are pending', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const partitions = 8;
  await log.ensureStream('idle-pel', { partitions, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let p = 0; p < partitions; p++) await log.append('idle-pel', p, Array.from({ length: 200 }, (_, i) => makeRecord(i, 100)), 'durable');
  // A lease of 30 s: one maintenance round (every lease / 3) during the test, which lists each partition once.
  const consumer = await log.openConsumer({ group: 'g', stream: 'idle-pel', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const commands = watchSteps(consumer);
  let records = 0;
  for (let i = 0; i < 100; i++) {
    const d = await consumer.fetch(10, 0);
    assert.ok(d, `fetch ${i}`);
    records += d.records.length;
    await consumer.commit(d);
  }
  assert.equal(records, 1000);
  // XPENDING with IDLE walks the whole pending list of the group (6 ms for 100k entries held by live members):
  // sent for every partition before every read, it cost Redis more than the reads.
  const listed = commands.filter((c) => c.name === 'XPENDING').length;
  assert.ok(listed <= 2 * partitions, `${listed} XPENDING for 100 fetches on ${partitions} partitions`);
});

test('redis: entries read by the first steps of a fetch whose connection drops go out with the next fetch, not a lease later', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const n = 3000;
  await log.ensureStream('dropped', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('dropped', 0, Array.from({ length: n }, (_, i) => makeRecord(i, 100)), 'durable');
  // A lease of 30 s: what the first fetch read is taken over only long after the test's deadline.
  const consumer = await log.openConsumer({ group: 'g', stream: 'dropped', consumerName: 'c', leaseTimeoutMs: 30_000 });
  t.after(() => consumer.close());
  const admin = new Redis(REDIS_TEST_URL);
  t.after(() => admin.disconnect());
  // The member's connection is killed as the second step begins (its first GET, in planRead), after the first
  // step (measured: nothing read there yet) handed it 1024 entries.
  const conn = (consumer as unknown as { conn: Redis }).conn;
  const memberId = String(await conn.client('ID'));
  const send = conn.sendCommand.bind(conn) as (command: { name: string; promise: Promise<unknown> }, ...rest: unknown[]) => unknown;
  let gets = 0;
  (conn as unknown as Record<string, unknown>).sendCommand = (command: { name: string; promise: Promise<unknown> }, ...rest: unknown[]) => {
    if (command.name.toUpperCase() === 'GET' && ++gets === 2) {
      void admin.client('KILL', 'ID', memberId).then(() => {
        try {
          send(command, ...rest);
        } catch {
          // refused at once: the connection is down, as intended
        }
      });
      command.promise.catch(() => undefined);
      return command.promise;
    }
    return send(command, ...rest);
  };

  await assert.rejects(consumer.fetch(n, 0), /Redis could not read a consumer group/);
  const offsets: number[] = [];
  for (const deadline = Date.now() + 5000; offsets.length < n && Date.now() < deadline; ) {
    let d;
    try {
      d = await consumer.fetch(n, 100);
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // reconnecting
      continue;
    }
    if (!d) continue;
    assert.equal(d.redeliveries, 0, `records from offset ${d.records[0]?.offset} counted as delivered again`);
    offsets.push(...d.records.map((r) => r.offset));
    await consumer.commit(d);
  }
  assert.deepEqual(
    offsets.sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
    'every record, within seconds (the lease is 30 s)',
  );
});

test('redis: entries claimed by the first steps of a takeover whose connection drops go out with the next fetch, counted once', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  const n = 3000;
  const leaseTimeoutMs = 500;
  await log.ensureStream('dropped-claim', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('dropped-claim', 0, Array.from({ length: n }, (_, i) => makeRecord(i, 100)), 'durable');
  const dead = await log.openConsumer({ group: 'g', stream: 'dropped-claim', consumerName: 'dead', leaseTimeoutMs });
  t.after(() => dead.close());
  assert.equal((await dead.fetch(n, 0))?.records.length, n);
  (dead as LogConsumer & { simulateCrash(): void }).simulateCrash();

  const heir = await log.openConsumer({ group: 'g', stream: 'dropped-claim', consumerName: 'heir', leaseTimeoutMs });
  t.after(() => heir.close());
  const admin = new Redis(REDIS_TEST_URL);
  t.after(() => admin.disconnect());
  // The heir's connection is killed as the second step of its takeover begins (its second XPENDING), after the
  // first step claimed 1024 entries (XCLAIM counted their second delivery).
  const conn = (heir as unknown as { conn: Redis }).conn;
  const heirId = String(await conn.client('ID'));
  const send = conn.sendCommand.bind(conn) as (command: { name: string; promise: Promise<unknown> }, ...rest: unknown[]) => unknown;
  let listed = 0;
  (conn as unknown as Record<string, unknown>).sendCommand = (command: { name: string; promise: Promise<unknown> }, ...rest: unknown[]) => {
    if (command.name.toUpperCase() === 'XPENDING' && ++listed === 2) {
      void admin.client('KILL', 'ID', heirId).then(() => {
        try {
          send(command, ...rest);
        } catch {
          // refused at once: the connection is down, as intended
        }
      });
      command.promise.catch(() => undefined);
      return command.promise;
    }
    return send(command, ...rest);
  };

  await new Promise((r) => setTimeout(r, leaseTimeoutMs + 100)); // the dead member's entries are abandoned
  await assert.rejects(heir.fetch(n, 0), /Redis could not take over abandoned deliveries/);
  const offsets: number[] = [];
  for (const deadline = Date.now() + 5000; offsets.length < n && Date.now() < deadline; ) {
    let d;
    try {
      d = await heir.fetch(n, 100);
    } catch {
      await new Promise((r) => setTimeout(r, 50)); // reconnecting
      continue;
    }
    if (!d) continue;
    // Redis counted two deliveries of each (the dead member's and the heir's): redeliveries 1, not 2 after a second takeover.
    assert.equal(d.redeliveries, 1, `records from offset ${d.records[0]?.offset}`);
    offsets.push(...d.records.map((r) => r.offset));
    await heir.commit(d);
  }
  assert.deepEqual(
    offsets.sort((a, b) => a - b),
    Array.from({ length: n }, (_, i) => i),
  );
});
