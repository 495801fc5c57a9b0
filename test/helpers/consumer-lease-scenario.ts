// A consumer-group member that stops (killed: no close, no commit) while holding
// a delivery: after leaseTimeoutMs another member gets every record of it,
// marked as redelivered (and every other record), and once that member commits
// nobody gets them again.
// Shared by the redis and nats lease tests (the conformance suite covers clean handovers).
import assert from 'node:assert/strict';
import type { Log, LogConsumer } from '../../src/log/types.js';
import { makeRecord } from '../log/conformance.js';

export async function abandonedDeliveriesAreRedelivered(log: Log, stream: string, leaseTimeoutMs: number): Promise<void> {
  await log.ensureStream(stream, { partitions: 2, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (const p of [0, 1]) await log.append(stream, p, Array.from({ length: 10 }, (_, i) => makeRecord(p * 100 + i)), 'durable');

  const dead = await log.openConsumer({ group: 'lease', stream, consumerName: 'dead', leaseTimeoutMs });
  const first = await dead.fetch(100, 1000);
  assert.ok(first && first.records.length > 0, 'the first member gets records');
  assert.equal(first.redeliveries, 0);
  const heldAtMs = Date.now();
  // From here on the first member does nothing: no fetch, no commit, no close; and, as a killed process,
  // no renewal either (members renew on a timer, which simulateCrash() stops in this process).
  (dead as LogConsumer & { simulateCrash(): void }).simulateCrash();

  const heir = await log.openConsumer({ group: 'lease', stream, consumerName: 'heir', leaseTimeoutMs });
  const held = new Set(first.records.map((r) => `${first.partition}:${r.offset}`));
  const got = new Map<string, { redeliveries: number; atMs: number }>();
  for (const deadline = Date.now() + leaseTimeoutMs * 4 + 5000; got.size < 20 && Date.now() < deadline; ) {
    const d = await heir.fetch(100, 200);
    if (!d) continue;
    for (const r of d.records) {
      const key = `${d.partition}:${r.offset}`;
      assert.ok(!got.has(key), `${key} delivered twice to the same member`);
      got.set(key, { redeliveries: d.redeliveries, atMs: Date.now() });
    }
    await heir.commit(d);
  }
  assert.equal(got.size, 20, 'every record reaches the other member, those the dead member held included');
  for (const key of held) {
    const g = got.get(key)!;
    assert.equal(g.redeliveries, 1, `${key} is marked as delivered once before`);
    assert.ok(g.atMs - heldAtMs >= leaseTimeoutMs * 0.8, `${key} was taken over after ${g.atMs - heldAtMs} ms, before the lease of ${leaseTimeoutMs} ms ran out`);
  }
  // Records the dead member had read but not handed out may count as delivered once; none more.
  for (const [key, g] of got) assert.ok(g.redeliveries <= 1, `${key} counted ${g.redeliveries} redeliveries`);

  const late = await log.openConsumer({ group: 'lease', stream, consumerName: 'late', leaseTimeoutMs });
  for (const until = Date.now() + leaseTimeoutMs * 1.5; Date.now() < until; ) {
    const d = await late.fetch(100, 200);
    assert.equal(d, null, 'committed records are not delivered again');
  }
  await late.close();
  await heir.close();
  await dead.close();
}
