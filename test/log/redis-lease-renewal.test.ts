// Redis consumer groups: a live member keeps what it holds however long it takes
// to process, without calling fetch() meanwhile (the pipeline does not fetch while
// its slots are busy): renewals run on a timer. And a delivery's lease clock runs
// from when Redis delivered (or handed over) its entries, not from when fetch()
// handed it out, so one that waited in the member's buffer is renewed in time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deliveryKeys, pollGroup } from '../helpers/group-poller.js';
import { openRedisTestLog } from '../helpers/redis.js';
import { makeRecord } from './conformance.js';

const LEASE_MS = 1000;

test('redis: a member processing one batch for longer than the lease, without fetching, keeps it', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('long', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('long', 0, Array.from({ length: 5 }, (_, i) => makeRecord(i)), 'durable');
  const busy = await log.openConsumer({ group: 'g', stream: 'long', consumerName: 'busy', leaseTimeoutMs: LEASE_MS });
  const other = await log.openConsumer({ group: 'g', stream: 'long', consumerName: 'other', leaseTimeoutMs: LEASE_MS });
  t.after(async () => {
    await busy.close();
    await other.close();
  });

  const held = await busy.fetch(10, 1000);
  assert.equal(held?.records.length, 5);
  const poller = pollGroup(other);
  t.after(() => poller.stop());
  await new Promise((r) => setTimeout(r, 2.5 * LEASE_MS)); // "processing": no fetch, no commit
  await busy.commit(held);
  await new Promise((r) => setTimeout(r, LEASE_MS / 2));
  await poller.stop();
  const stolen = poller.got.filter((k) => deliveryKeys(held).includes(k));
  assert.deepEqual(stolen, [], 'another member got records the busy member was still processing');
});

test('redis: a delivery taken over together with others and handed out later is renewed from its takeover, not its hand-out', async (t) => {
  const log = await openRedisTestLog(t);
  if (!log) return;
  await log.ensureStream('buf', { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (const p of [0, 1]) await log.append('buf', p, Array.from({ length: 5 }, (_, i) => makeRecord(p * 10 + i)), 'durable');

  // A member takes a delivery from each partition, then dies (no fetch, commit or close).
  const dead = await log.openConsumer({ group: 'g', stream: 'buf', consumerName: 'dead', leaseTimeoutMs: LEASE_MS });
  const a = await dead.fetch(10, 500);
  const b = await dead.fetch(10, 500);
  assert.deepEqual([a?.partition, b?.partition].sort(), [0, 1]);
  (dead as { simulateCrash?: () => void }).simulateCrash?.(); // its renewal timer stops, as in a killed process
  t.after(() => dead.close());
  await new Promise((r) => setTimeout(r, LEASE_MS + 100));

  // The heir takes both over in one go (XAUTOCLAIM at its first fetch): the second waits in its buffer.
  const heir = await log.openConsumer({ group: 'g', stream: 'buf', consumerName: 'heir', leaseTimeoutMs: LEASE_MS });
  t.after(() => heir.close());
  const first = await heir.fetch(10, 500);
  assert.ok(first && first.redeliveries === 1, 'the heir took over a delivery of the dead member');
  await new Promise((r) => setTimeout(r, 0.5 * LEASE_MS));
  await heir.commit(first);
  const second = await heir.fetch(10, 0);
  assert.ok(second && second.partition !== first.partition && second.redeliveries === 1, 'the other taken-over delivery, from the buffer');

  // The heir processes it for 0.7 lease more (1.2 leases after the takeover), without fetching.
  // Redis's lease clock is the entries' idle time: it must never reach the lease, or any member's
  // XAUTOCLAIM takes them over mid-processing; another live member polls meanwhile.
  const other = await log.openConsumer({ group: 'g', stream: 'buf', consumerName: 'other', leaseTimeoutMs: LEASE_MS });
  t.after(() => other.close());
  const poller = pollGroup(other);
  t.after(() => poller.stop());
  const key = log.key('buf', second.partition);
  let maxIdleMs = 0;
  for (const until = Date.now() + 0.7 * LEASE_MS; Date.now() < until; ) {
    const pending = (await log.redis.xpending(key, 'g', '-', '+', 100)) as [string, string, number, number][];
    for (const [, owner, idleMs] of pending) if (owner === 'heir') maxIdleMs = Math.max(maxIdleMs, idleMs);
    await new Promise((r) => setTimeout(r, 25));
  }
  await heir.commit(second);
  await poller.stop();
  t.diagnostic(`longest idle time of the held entries: ${maxIdleMs} ms`);
  assert.ok(maxIdleMs < LEASE_MS * 0.8, `the held entries went ${maxIdleMs} ms without a renewal (lease ${LEASE_MS} ms)`);
  const stolen = poller.got.filter((k) => deliveryKeys(second).includes(k));
  assert.deepEqual(stolen, [], 'another member got records the heir was still processing');
});
