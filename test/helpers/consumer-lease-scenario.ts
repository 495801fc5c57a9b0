// A consumer-group member that stops (killed: no close, no commit) while holding
// deliveries: after leaseTimeoutMs another member gets every record it held,
// marked as redelivered, and once that member commits nobody gets them again.
// Shared by the redis and nats lease tests (the conformance suite covers clean handovers).
import assert from 'node:assert/strict';
import type { Log } from '../../src/log/types.js';
import { makeRecord } from '../log/conformance.js';

export async function abandonedDeliveriesAreRedelivered(log: Log, stream: string, leaseTimeoutMs: number): Promise<void> {
  await log.ensureStream(stream, { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (const p of [0, 1]) await log.append(stream, p, Array.from({ length: 10 }, (_, i) => makeRecord(p * 100 + i)), 'durable');

  const dead = await log.openConsumer({ group: 'lease', stream, consumerName: 'dead', leaseTimeoutMs });
  const first = await dead.fetch(100, 1000);
  assert.ok(first && first.records.length > 0, 'the first member gets records');
  assert.equal(first.redeliveries, 0);
  const heldAtMs = Date.now();
  // From here on the first member does nothing: no fetch (no renewal), no commit, no close.

  const heir = await log.openConsumer({ group: 'lease', stream, consumerName: 'heir', leaseTimeoutMs });
  const got = new Map<string, number>();
  let firstArrivalMs = 0;
  for (const deadline = Date.now() + leaseTimeoutMs * 4 + 5000; got.size < 20 && Date.now() < deadline; ) {
    const d = await heir.fetch(100, 200);
    if (!d) continue;
    if (firstArrivalMs === 0) firstArrivalMs = Date.now();
    for (const r of d.records) {
      const key = `${d.partition}:${r.offset}`;
      assert.ok(!got.has(key), `${key} delivered twice to the same member`);
      got.set(key, d.redeliveries);
    }
    await heir.commit(d);
  }
  assert.equal(got.size, 20, 'every record the dead member held reaches the other member');
  for (const [key, redeliveries] of got) assert.equal(redeliveries, 1, `${key} is marked as delivered once before`);
  assert.ok(firstArrivalMs - heldAtMs >= leaseTimeoutMs * 0.8, `taken over after ${firstArrivalMs - heldAtMs} ms, before the lease of ${leaseTimeoutMs} ms ran out`);

  const late = await log.openConsumer({ group: 'lease', stream, consumerName: 'late', leaseTimeoutMs });
  for (const until = Date.now() + leaseTimeoutMs * 1.5; Date.now() < until; ) {
    const d = await late.fetch(100, 200);
    assert.equal(d, null, 'committed records are not delivered again');
  }
  await late.close();
  await heir.close();
  await dead.close();
}
