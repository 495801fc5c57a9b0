// The embedded log's count of unfinished deliveries (src/log/embedded/delivery-count.ts): what hopper replay
// and a damaged count file do to it. The conformance suite covers the counting itself on every backend.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { openEmbedded, removeDir, tempDir } from '../helpers/embedded.js';
import { makeRecord } from './conformance.js';
import { deliveriesPath } from '../../src/log/embedded/delivery-count.js';
import type { Delivery, LogConsumer } from '../../src/log/types.js';
import type { EmbeddedLog } from '../../src/log/embedded/embedded-log.js';

const crash = (c: LogConsumer): void => (c as LogConsumer & { simulateCrash(): void }).simulateCrash();

async function fetchSome(c: LogConsumer): Promise<Delivery> {
  for (const until = Date.now() + 10_000; Date.now() < until; ) {
    const d = await c.fetch(10, 200);
    if (d) return d;
  }
  throw new Error('no delivery');
}

/** An embedded log in a temporary directory with stream `s` of one partition holding `records` records. */
async function logWithRecords(t: TestContext, records: number): Promise<EmbeddedLog> {
  const dir = tempDir();
  const log = openEmbedded(dir);
  t.after(async () => {
    await log.close();
    removeDir(dir);
  });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, Array.from({ length: records }, (_, i) => makeRecord(i)), 'durable');
  return log;
}

test('embedded: a position stored by hopper replay, or an unreadable count, starts the count afresh', async (t) => {
  const log = await logWithRecords(t, 5);
  const member = (name: string): Promise<LogConsumer> => log.openConsumer({ group: 'g', stream: 's', consumerName: name, leaseTimeoutMs: 300 });

  const m0 = await member('m0');
  assert.equal((await fetchSome(m0)).redeliveries, 0);
  crash(m0);
  const m1 = await member('m1');
  const again = await fetchSome(m1);
  assert.deepEqual([again.records.length, again.redeliveries], [5, 1], 'counted after a death');
  crash(m1);

  await log.commitPosition('g', 's', 0, 0); // hopper replay --from 0
  const m2 = await member('m2');
  const replayed = await fetchSome(m2);
  assert.deepEqual([replayed.records.length, replayed.redeliveries], [5, 0], 'records replayed on purpose are new deliveries');
  crash(m2);

  writeFileSync(deliveriesPath(log.groupDir('g', 's'), 0), '{"offset":0,"deliv'); // torn in a power cut
  const m3 = await member('m3');
  const afterTorn = await fetchSome(m3);
  assert.deepEqual([afterTorn.records.length, afterTorn.redeliveries], [5, 0], 'an unreadable count counts as none');
  await m3.commit(afterTorn);
  await m3.close();
  for (const c of [m0, m1, m2]) await c.close();
});

test('embedded: a member whose lease ran out during a read neither hands the records out nor overwrites the new owner’s count', async (t) => {
  const log = await logWithRecords(t, 20);
  const leaseTimeoutMs = 1000;
  const member = (name: string): Promise<LogConsumer> => log.openConsumer({ group: 'g', stream: 's', consumerName: name, leaseTimeoutMs });
  const a = await member('a');
  const first = await a.fetch(50, 5000); // all 20: no read ahead
  assert.ok(first && first.records.length === 20);
  await a.commit(first);
  await log.append('s', 0, Array.from({ length: 5 }, (_, i) => makeRecord(20 + i)), 'durable');
  // a's disk stalls: its lease renewals get nowhere, and its next read takes longer than what is left of its lease.
  (a as unknown as { refresh: () => Promise<void> }).refresh = () => Promise.resolve();
  const read = log.read.bind(log);
  let stall = true;
  log.read = async (...args: Parameters<typeof log.read>) => {
    if (stall) {
      stall = false;
      await new Promise((r) => setTimeout(r, leaseTimeoutMs * 1.6));
    }
    return read(...args);
  };
  const late = a.fetch(50, 100);
  await new Promise((r) => setTimeout(r, leaseTimeoutMs * 1.1));
  const b = await member('b');
  const taken = await fetchSome(b);
  assert.equal(taken.records[0]!.offset, 20);
  const path = deliveriesPath(log.groupDir('g', 's'), 0);
  const marked = readFileSync(path, 'utf8');
  assert.equal(await late, null, 'a delivery handed out by a member whose lease ran out');
  assert.equal(readFileSync(path, 'utf8'), marked, 'the new owner’s count was overwritten');
  await b.close();
  await a.close();
});
