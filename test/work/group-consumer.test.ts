// The embedded log's consumer group (src/log/embedded/group-consumer.ts), as the
// worker runtime relies on it: members share partitions, a killed member's
// partitions are taken over after the lease timeout (and not before), a member
// that lost its lease cannot move the position, a replayed position is noticed (also
// when the next batch was already read ahead), commits made at once land in order,
// an unreadable position file stops only its partition, and a position left past the
// end of a partition by a power cut is moved back to the end, and a position write that failed is made good
// at the next lease renewal.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import type { EmbeddedGroupConsumer } from '../../src/log/embedded/group-consumer.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';
import type { Delivery, LogConsumer, PartitionStats } from '../../src/log/types.js';
import { record, waitFor } from './work-helpers.js';

const LEASE_MS = 600;

/** Fetches and commits until `count` offsets of `partition` were delivered (only that partition may come). */
async function offsetsDelivered(consumer: LogConsumer, partition: number, count: number, what: string, maxRecords: number): Promise<number[]> {
  const offsets: number[] = [];
  await waitFor(what, async () => {
    const d = await consumer.fetch(maxRecords, 50);
    if (d) {
      assert.equal(d.partition, partition);
      offsets.push(...d.records.map((r) => r.offset));
      await consumer.commit(d);
    }
    return offsets.length >= count;
  }, LEASE_MS * 5);
  return offsets;
}
const STREAM_OPTS = { partitions: 4, retentionMaxAgeMs: 0, retentionMaxBytes: 0 };

async function setup(t: { after(fn: () => unknown): void }, perPartition: number) {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', STREAM_OPTS);
  for (let p = 0; p < 4; p++) await log.append('s', p, Array.from({ length: perPartition }, (_, i) => record(`{"p":${p},"i":${i}}`)), 'durable');
  const open = async (name: string) => (await log.openConsumer({ group: 'g', stream: 's', consumerName: name, leaseTimeoutMs: LEASE_MS })) as EmbeddedGroupConsumer;
  return { log, open };
}

async function drain(c: LogConsumer, seen: Map<string, string>, name: string, maxIdle = 4): Promise<void> {
  for (let idle = 0; idle < maxIdle; ) {
    const d = await c.fetch(7, 50);
    if (!d) {
      idle++;
      continue;
    }
    idle = 0;
    for (const r of d.records) {
      const key = `${d.partition}:${r.offset}`;
      assert.ok(!seen.has(key), `${key} delivered to ${seen.get(key)} and to ${name}`);
      seen.set(key, name);
    }
    await c.commit(d);
  }
}

test('two members rebalance to two partitions each and never deliver a record twice', async (t) => {
  const { log, open } = await setup(t, 40);
  const a = await open('a');
  t.after(() => a.close());
  assert.deepEqual(a.partitions(), [0, 1, 2, 3]);
  const b = await open('b');
  t.after(() => b.close());
  await waitFor('the partitions to be split 2/2', async () => {
    await a.fetch(0, 1).catch(() => null);
    await b.fetch(0, 1).catch(() => null);
    return a.partitions().length === 2 && b.partitions().length === 2;
  });
  assert.deepEqual([...a.partitions(), ...b.partitions()].sort(), [0, 1, 2, 3]);
  const seen = new Map<string, string>();
  await Promise.all([drain(a, seen, 'a'), drain(b, seen, 'b')]);
  assert.equal(seen.size, 160);
  for (let p = 0; p < 4; p++) assert.equal(await log.getPosition('g', 's', p), 40);
});

test("a killed member's partitions are taken over after the lease timeout, from its last commit", async (t) => {
  const { log, open } = await setup(t, 10);
  const a = await open('a');
  const first = await a.fetch(5, 100);
  assert.ok(first);
  await a.commit(first); // partition first.partition: position 5
  const uncommitted = await a.fetch(5, 100); // fetched, never committed
  assert.ok(uncommitted);
  a.simulateCrash();
  const killedAt = Date.now();
  const b = await open('b');
  t.after(() => b.close());
  assert.deepEqual(b.partitions(), [], 'leases of a live-looking owner are respected');
  const got = new Map<string, number>();
  while (got.size < 40 - 5) {
    const d = await b.fetch(100, 100);
    if (!d) {
      assert.ok(Date.now() - killedAt < LEASE_MS * 5, 'takeover took too long');
      continue;
    }
    if (got.size === 0) assert.ok(Date.now() - killedAt >= LEASE_MS - 50, `took over after ${Date.now() - killedAt} ms, before the lease expired`);
    for (const r of d.records) got.set(`${d.partition}:${r.offset}`, (got.get(`${d.partition}:${r.offset}`) ?? 0) + 1);
    await b.commit(d);
  }
  assert.deepEqual(b.partitions(), [0, 1, 2, 3]);
  for (const r of first.records) assert.ok(!got.has(`${first.partition}:${r.offset}`), 'committed records are not redelivered');
  for (const r of uncommitted.records) assert.equal(got.get(`${uncommitted.partition}:${r.offset}`), 1, 'uncommitted records are redelivered');
  // The dead member cannot move the position any more.
  await b.close();
  await log.commitPosition('g', 's', uncommitted.partition, 3);
  await a.commit(uncommitted);
  assert.equal(await log.getPosition('g', 's', uncommitted.partition), 3);
});

test('a position moved by hopper replay is noticed by the running member', async (t) => {
  const { log, open } = await setup(t, 10);
  const a = await open('a');
  t.after(() => a.close());
  let delivered = 0;
  while (delivered < 40) {
    const d: Delivery | null = await a.fetch(100, 100);
    if (!d) continue;
    delivered += d.records.length;
    await a.commit(d);
  }
  await log.commitPosition('g', 's', 2, 4);
  const again = await offsetsDelivered(a, 2, 6, 'partition 2 to be delivered again from offset 4', 100);
  assert.deepEqual(again, [4, 5, 6, 7, 8, 9]);
  assert.equal(await log.getPosition('g', 's', 2), 10);
});

test('a position write that failed is written again at the next renewal, so a partition being handed over is not stuck', async (t) => {
  const { log, open } = await setup(t, 2);
  const a = await open('a');
  t.after(() => a.close());
  const deliveries: Delivery[] = [];
  while (deliveries.length < 4) {
    const d = await a.fetch(10, 100);
    if (d) deliveries.push(d);
  }
  // The failed write is on partition 3: with two members, the first keeps partitions 0 and 1 and hands 2 and 3 over.
  const last = deliveries.find((d) => d.partition === 3)!;
  for (const d of deliveries) if (d !== last) await a.commit(d);
  // One position write fails (an I/O error), then the disk is fine again.
  const prepare = log.preparePosition.bind(log);
  log.preparePosition = async () => {
    log.preparePosition = prepare;
    throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  };
  await assert.rejects(a.commit(last), /EIO/);
  assert.equal(await log.getPosition('g', 's', last.partition), null);
  // A second member joins: the first must hand partition 3 over, which waits for its position to be stored.
  const b = await open('b');
  t.after(() => b.close());
  await new Promise((r) => setTimeout(r, LEASE_MS)); // a's next renewal is due: it sees b and starts releasing 3
  assert.equal(await a.fetch(10, 10), null);
  await log.append('s', last.partition, [record('{"new":1}')], 'durable');
  const seen = new Map<string, string>();
  await waitFor('the new record to be delivered', async () => {
    await drain(a, seen, 'a', 1);
    await drain(b, seen, 'b', 1);
    return seen.has(`${last.partition}:2`);
  }, LEASE_MS * 10);
  assert.equal(await log.getPosition('g', 's', last.partition), 3, 'the failed write was made good, and the new record committed');
  assert.deepEqual([...seen.keys()].sort(), [`${last.partition}:2`], 'nothing delivered twice or again');
});

test('a replay is noticed even when the next batch was already read ahead', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { ...STREAM_OPTS, partitions: 1 });
  await log.append('s', 0, Array.from({ length: 40 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  const a = (await log.openConsumer({ group: 'g', stream: 's', consumerName: 'a', leaseTimeoutMs: LEASE_MS })) as EmbeddedGroupConsumer;
  t.after(() => a.close());
  for (const expected of [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]) {
    const d = await a.fetch(5, 100); // a full batch: the next one is read ahead
    assert.deepEqual(d?.records.map((r) => r.offset), expected);
    await a.commit(d!);
  }
  await log.commitPosition('g', 's', 0, 2);
  await new Promise((r) => setTimeout(r, LEASE_MS)); // a renewal (every LEASE_MS / 3) notices the replay
  const d = await a.fetch(5, 100);
  assert.deepEqual(d?.records.map((r) => r.offset), [2, 3, 4, 5, 6], 'delivered from the replayed position, not the read ahead');
});

test('commits made at once are stored in order: the position only moves forward, to the last one', async (t) => {
  const { log, open } = await setup(t, 200);
  const a = await open('a');
  t.after(() => a.close());
  const deliveries: Delivery[] = [];
  for (let d = await a.fetch(3, 50); d; d = await a.fetch(3, 50)) deliveries.push(d);
  assert.equal(deliveries.reduce((n, d) => n + d.records.length, 0), 800);
  const seen: number[][] = [[], [], [], []];
  let committing = true;
  const watch = (async () => {
    while (committing) {
      for (let p = 0; p < 4; p++) seen[p]!.push((await log.getPosition('g', 's', p)) ?? 0);
    }
  })();
  await Promise.all(deliveries.map((d) => a.commit(d)));
  committing = false;
  await watch;
  for (let p = 0; p < 4; p++) {
    assert.equal(await log.getPosition('g', 's', p), 200);
    for (let i = 1; i < seen[p]!.length; i++) assert.ok(seen[p]![i]! >= seen[p]![i - 1]!, `partition ${p}: position went back to ${seen[p]![i]}`);
  }
});

test('an unreadable position file stops only its partition, with one warning, until a new position is committed', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const log = openEmbedded(dir, { warn: (fields, message) => void warnings.push({ fields, message }) });
  t.after(() => log.close());
  await log.ensureStream('s', { ...STREAM_OPTS, partitions: 3 });
  for (let p = 0; p < 3; p++) await log.append('s', p, Array.from({ length: 4 }, (_, i) => record(`{"p":${p},"i":${i}}`)), 'durable');
  await log.commitPosition('g', 's', 1, 1);
  writeFileSync(join(dir, 'groups', 'g', 's', '1.position'), '{"posit'); // damaged: getPosition throws HOPPER_LOG_CORRUPT

  // It made openConsumer throw for the whole group.
  const a = (await log.openConsumer({ group: 'g', stream: 's', consumerName: 'a', leaseTimeoutMs: LEASE_MS })) as EmbeddedGroupConsumer;
  t.after(() => a.close());
  assert.deepEqual(a.partitions(), [0, 2]);
  const seen = new Map<string, string>();
  await drain(a, seen, 'a');
  assert.deepEqual([...seen.keys()].sort(), ['0:0', '0:1', '0:2', '0:3', '2:0', '2:1', '2:2', '2:3']);
  await new Promise((r) => setTimeout(r, LEASE_MS)); // renewals retry the partition: still unreadable, no second warning
  await a.fetch(10, 10);
  const unreadable = warnings.filter((w) => w.message.includes('position file unreadable'));
  assert.equal(unreadable.length, 1, JSON.stringify(warnings));
  assert.deepEqual([unreadable[0]!.fields.partition, unreadable[0]!.fields.code], [1, 'HOPPER_LOG_CORRUPT']);

  // The remedy the error names (hopper replay commits a new position): the partition is taken at a renewal.
  await log.commitPosition('g', 's', 1, 2);
  const again = await offsetsDelivered(a, 1, 2, 'partition 1 to be delivered from the new position', 10);
  assert.deepEqual(again, [2, 3]);
  assert.deepEqual(a.partitions(), [0, 1, 2]);
});

test('log.stats lists an unreadable group position apart instead of failing', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const log = openEmbedded(dir);
  t.after(() => log.close());
  await log.ensureStream('s', { ...STREAM_OPTS, partitions: 3 });
  for (let p = 0; p < 3; p++) {
    await log.append('s', p, [record('{}'), record('{}')], 'durable');
    await log.commitPosition('g', 's', p, 1);
  }
  writeFileSync(join(dir, 'groups', 'g', 's', '1.position'), '');
  writeFileSync(join(dir, 'groups', 'g', 's', '2.position'), '{}'); // JSON, but no offset: not "no position"
  const [p0, p1, p2] = (await log.stats()).streams[0]!.partitions as (PartitionStats & { unreadableGroups?: { group: string; code: string }[] })[];
  assert.deepEqual(p0!.groups, [{ group: 'g', position: 1, lag: 1 }]);
  assert.equal(p0!.unreadableGroups, undefined, 'no new field when every position reads');
  for (const p of [p1!, p2!]) {
    assert.deepEqual(p.groups, []);
    assert.deepEqual(p.unreadableGroups?.map((u) => [u.group, u.code]), [['g', 'HOPPER_LOG_CORRUPT']]);
  }
  await assert.rejects(log.getPosition('g', 's', 2), /Position file of group g on s\/2 is unreadable/);
});

test('a position file damaged while a member owns the partition is rewritten with its position', async (t) => {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  const warnings: string[] = [];
  const log = openEmbedded(dir, { warn: (_, message) => void warnings.push(message) });
  t.after(() => log.close());
  await log.ensureStream('s', { ...STREAM_OPTS, partitions: 1 });
  await log.append('s', 0, Array.from({ length: 6 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  const a = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'a', leaseTimeoutMs: LEASE_MS });
  t.after(() => a.close());
  const d = await a.fetch(4, 100);
  await a.commit(d!);
  writeFileSync(join(dir, 'groups', 'g', 's', '0.position'), 'garbage');
  await waitFor('the position file to be rewritten', async () => {
    await a.fetch(0, 1).catch(() => null); // a renewal must not fail the member
    return (await log.getPosition('g', 's', 0).catch(() => null)) === 4;
  }, LEASE_MS * 5);
  assert.deepEqual(warnings.filter((m) => m.includes('position file unreadable')).length, 1);
  assert.deepEqual((await a.fetch(10, 100))?.records.map((r) => r.offset), [4, 5]);
});

/** A data dir in the state afterPowerCut() leaves, opened again with its warnings collected; removed after the test. */
async function reopenedAfterPowerCut(t: TestContext): Promise<{ dir: string; log: EmbeddedLog; warnings: string[] }> {
  const dir = tempDir();
  t.after(() => removeDir(dir));
  await afterPowerCut(dir);
  const warnings: string[] = [];
  const log = openEmbedded(dir, { warn: (_, message) => void warnings.push(message) });
  t.after(() => log.close());
  return { dir, log, warnings };
}

// The state a power cut leaves: a group in the writer's process read records written but not yet
// fsynced and committed past them (position 20); the disk kept only the first 10 records.
async function afterPowerCut(dir: string): Promise<void> {
  const log = openEmbedded(dir);
  await log.ensureStream('s', { ...STREAM_OPTS, partitions: 1 });
  await log.append('s', 0, Array.from({ length: 10 }, (_, i) => record(`{"i":${i}}`)), 'durable');
  await log.commitPosition('g', 's', 0, 20);
  await log.close();
}

test('after a power cut, a position past the recovered end is moved back when the writer opens the partition', async (t) => {
  const { log, warnings } = await reopenedAfterPowerCut(t);
  // Acknowledged after the restart, at the offsets of the records the power cut took: they were skipped.
  const acked = await log.append('s', 0, Array.from({ length: 5 }, (_, i) => record(`{"new":${i}}`)), 'durable');
  assert.equal(acked.firstOffset, 10);
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: LEASE_MS });
  t.after(() => c.close());
  const d = await c.fetch(100, 500);
  assert.deepEqual(d?.records.map((r) => r.offset), [10, 11, 12, 13, 14]);
  assert.ok(warnings.some((m) => m.includes('position past the recovered end')), warnings.join('\n'));
});

test('a member taking a partition moves a stored position past its end back to the end', async (t) => {
  const { dir, log, warnings } = await reopenedAfterPowerCut(t);
  // No writer in this process yet (hopper work beside hopper serve): the member sees the end in the files.
  const c = await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: LEASE_MS });
  t.after(() => c.close());
  assert.equal(await log.getPosition('g', 's', 0), 10);
  assert.ok(warnings.some((m) => m.includes('position past the end')), warnings.join('\n'));
  assert.equal(JSON.parse(readFileSync(join(dir, 'groups', 'g', 's', '0.position'), 'utf8')).position, 10);
  await log.append('s', 0, [record('{"new":0}')], 'durable');
  const d = await c.fetch(100, 500);
  assert.deepEqual(d?.records.map((r) => r.offset), [10]);
});
