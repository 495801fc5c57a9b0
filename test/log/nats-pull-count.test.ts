// NATS consumer groups: a pull counts a delivery of every message it brings (JetStream's delivery count), handed
// out or not. A member that pulls a batch while messages a dead member abandoned come due gets them all at once;
// when it dies on the first one (a record that brings its worker down), the others were counted as delivered
// again though never handed out, and they climb towards maxDeliveries as fast as the record at fault.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Delivery, Log, LogConsumer } from '../../src/log/types.js';
import { deleteNatsPrefix, natsSkipReason, openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

/** A NATS log under a prefix of its own with stream `s` of one partition holding `records` records; null: skipped. */
async function natsStream(t: TestContext, s: string, records: number): Promise<Log | null> {
  const reason = await natsSkipReason();
  if (reason) {
    t.skip(reason);
    return null;
  }
  const prefix = uniqueNatsPrefix();
  const log = await openNatsLog(prefix);
  t.after(async () => {
    await log.close();
    await deleteNatsPrefix(prefix);
  });
  await log.ensureStream(s, { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append(s, 0, Array.from({ length: records }, (_, i) => makeRecord(i)), 'durable');
  return log;
}

test('nats: messages pulled with one a member died on are not counted as delivered again', async (t) => {
  const s = 'pullcount';
  const log = await natsStream(t, s, 5);
  if (!log) return;
  const leaseTimeoutMs = 3000;
  const member = (name: string): Promise<LogConsumer> => log.openConsumer({ group: 'g', stream: s, consumerName: name, leaseTimeoutMs });
  const fetchSome = async (c: LogConsumer): Promise<Delivery> => {
    for (const until = Date.now() + 20_000; Date.now() < until; ) {
      const d = await c.fetch(10, 200);
      if (d) return d;
    }
    throw new Error('no delivery');
  };
  // As a killed process: no renewals, and its open pulls take nothing more (its subscription is gone).
  const crash = (c: LogConsumer): void => {
    (c as LogConsumer & { simulateCrash(): void }).simulateCrash();
    (c as unknown as { sub: { unsubscribe(): void } }).sub.unsubscribe();
  };
  const holdAll = async (c: LogConsumer): Promise<void> => {
    for (let held = 0; held < 5; ) held += (await fetchSome(c)).records.length;
    crash(c);
  };
  const members: LogConsumer[] = [];
  for (const name of ['m0', 'm1']) {
    const m = await member(name);
    members.push(m);
    await holdAll(m); // two deaths in a row with the five records: from now on they come one by one
  }
  let next = 10;
  const counts: number[] = [];
  /** Most deliveries before of each record other than 0, as handed out. */
  const innocent = new Map<number, number>();
  const takeUntilZero = async (m: LogConsumer): Promise<Delivery> => {
    for (;;) {
      const d = await fetchSome(m);
      if (d.records.some((r) => r.offset === 0)) return d;
      for (const r of d.records) innocent.set(r.offset, Math.max(innocent.get(r.offset) ?? 0, d.redeliveries));
      await m.commit(d);
    }
  };
  for (const name of ['m2', 'm3', 'm4']) {
    // Live traffic: each member has a new record to process besides; it is handed record 0 alone and dies on it.
    const m = await member(name);
    members.push(m);
    await log.append(s, 0, [makeRecord(next++)], 'durable');
    const d = await takeUntilZero(m);
    assert.equal(d.records.length, 1);
    counts.push(d.redeliveries);
    crash(m);
  }
  assert.deepEqual(counts, [2, 3, 4], 'record 0 counts each death');
  const m5 = await member('m5');
  members.push(m5);
  await m5.commit(await takeUntilZero(m5)); // dead-lettered by the pipeline
  while (![1, 2, 3, 4].every((o) => innocent.has(o))) {
    const d = await fetchSome(m5);
    for (const r of d.records) innocent.set(r.offset, Math.max(innocent.get(r.offset) ?? 0, d.redeliveries));
    await m5.commit(d);
  }
  for (const o of [1, 2, 3, 4]) assert.ok(innocent.get(o)! <= 2, `record ${o}, handed out twice before (m0, m1), came counted ${innocent.get(o)} times`);
  for (const m of members) await m.close();
});

test('nats: a member taking a partition with nothing delivered and unacknowledged pulls batches at once', async (t) => {
  const s = 'pullbatch';
  const log = await natsStream(t, s, 50);
  if (!log) return;
  // A lease far longer than the test: were the one-message window on, every delivery would hold one record.
  const m = await log.openConsumer({ group: 'g', stream: s, consumerName: 'm', leaseTimeoutMs: 60_000 });
  t.after(() => m.close());
  const sizes: number[] = [];
  for (let got = 0; got < 50; ) {
    const d = await m.fetch(20, 2000);
    assert.ok(d, 'every record is delivered');
    assert.equal(d.redeliveries, 0);
    sizes.push(d.records.length);
    got += d.records.length;
    await m.commit(d);
  }
  assert.ok(sizes.length <= 5, `50 new records came in ${sizes.length} deliveries (${sizes.join(', ')}): one message per pull`);
});
