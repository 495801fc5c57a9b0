// Redis: batches with more arguments than V8 lets a call spread (about 100k; 7
// per record) are stored: appends merged into one script call, one append larger
// than a script call (split, and still atomic against another writer), and a
// consumer's commit and close of a delivery of that size (XACK, XCLAIM id lists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordInput } from '../../src/log/types.js';
import type { RedisLog } from '../../src/log/redis/redis-log.js';
import { openRedisLog, uniqueRedisPrefix } from '../helpers/redis.js';
import { TestRedisServer, redisServerMissing } from '../helpers/redis-server.js';

/** More IDs or records than a spread call survives (V8 overflows its stack at about 120k arguments). */
const OVER_SPREAD_LIMIT = 160_000;

function tiny(i: number, body = Buffer.alloc(0)): RecordInput {
  return { body, receivedAtUs: i, contentType: '', contentEncoding: '', remoteAddress: '', requestId: `t${i}`, idempotencyKey: '' };
}

/**
 * A redis-server of the test's own: appends of 160k records in one script, and their reads, keep Redis busy for
 * a while, and on the shared server other test files running meanwhile timed out (a 1 s connect, a lease).
 */
async function setup(t: { after: (fn: () => Promise<void>) => void; skip: (m: string) => void }): Promise<{ log: RedisLog; prefix: string; url: string } | null> {
  const missing = redisServerMissing();
  if (missing) {
    t.skip(missing);
    return null;
  }
  const server = await TestRedisServer.start();
  t.after(() => server.stop());
  const prefix = uniqueRedisPrefix();
  const log = await openRedisLog(prefix, { url: server.url, maxBatchBytes: 4 * 1024 * 1024 });
  t.after(async () => {
    await log.close().catch(() => undefined);
  });
  return { log, prefix, url: server.url };
}

test('redis: thousands of small appends queued together are all stored (one script call would spread ~170k arguments)', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { log } = s;
  await log.ensureStream('many', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  // The ingest shape: appends of 8 records with 100-byte bodies, queued in one event-loop turn.
  const appends = 3000;
  const results = await Promise.allSettled(
    Array.from({ length: appends }, (_, a) => log.append('many', 0, Array.from({ length: 8 }, (_, i) => tiny(a * 8 + i, Buffer.alloc(100, 0x7b))), 'durable')),
  );
  const refused = results.filter((r) => r.status === 'rejected');
  assert.equal(refused.length, 0, `appends refused: ${refused.length}, first: ${String((refused[0] as PromiseRejectedResult | undefined)?.reason)}`);
  const offsets = results.map((r) => (r as PromiseFulfilledResult<{ firstOffset: number }>).value.firstOffset);
  assert.deepEqual(offsets, Array.from({ length: appends }, (_, a) => a * 8), 'appends are stored in order, 8 offsets each');
  const { records } = await log.read('many', 0, appends * 8 - 1, { maxRecords: 10 });
  assert.equal(records.length, 1);
  assert.equal(records[0]!.requestId, `t${appends * 8 - 1}`);
});

test('redis: one append larger than a script call gets consecutive offsets while another process writes the partition', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { log, prefix, url } = s;
  await log.ensureStream('big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const other = await openRedisLog(prefix, { url });
  t.after(() => other.close());

  const n = OVER_SPREAD_LIMIT;
  let stop = false;
  const otherOffsets: number[] = [];
  const otherWriter = (async () => {
    for (let i = 0; !stop && i < 100_000; i++) {
      const r = await other.append('big', 0, [{ ...tiny(i), requestId: `other-${i}` }], 'written');
      otherOffsets.push(r.firstOffset);
    }
  })();
  await new Promise((r) => setTimeout(r, 50)); // the other writer is under way
  let result;
  try {
    result = await log.append('big', 0, Array.from({ length: n }, (_, i) => tiny(i)), 'durable');
  } finally {
    stop = true; // also when the append fails: the writer must not outlive the test's cleanup
    await otherWriter;
  }

  assert.ok(otherOffsets.length > 0, 'the other writer appended meanwhile');
  for (const o of otherOffsets) {
    assert.ok(o < result.firstOffset || o >= result.firstOffset + n, `the other writer's record at ${o} landed inside the big append`);
  }
  for (let from = result.firstOffset; from < result.firstOffset + n; ) {
    const { records, nextOffset } = await log.read('big', 0, from, { maxRecords: 20_000 });
    for (const r of records) {
      if (r.offset >= result.firstOffset + n) break;
      assert.equal(r.requestId, `t${r.offset - result.firstOffset}`, `offset ${r.offset}`);
    }
    from = nextOffset;
  }
});

test('redis: a consumer releases (close) and commits a delivery of more records than a spread call survives', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { log } = s;
  await log.ensureStream('ids', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const n = OVER_SPREAD_LIMIT;
  await log.append('ids', 0, Array.from({ length: n }, (_, i) => tiny(i)), 'durable');

  // A long lease: only close()'s release (an XCLAIM of every held ID) lets the next member have them now.
  const leaseTimeoutMs = 60_000;
  const first = await log.openConsumer({ group: 'g', stream: 'ids', consumerName: 'first', leaseTimeoutMs });
  const held = await first.fetch(n, 5000);
  assert.equal(held?.records.length, n, 'one delivery holds every record');
  await first.close();

  const second = await log.openConsumer({ group: 'g', stream: 'ids', consumerName: 'second', leaseTimeoutMs });
  t.after(() => second.close());
  let got = 0;
  for (const deadline = Date.now() + 10_000; got < n && Date.now() < deadline; ) {
    const d = await second.fetch(n, 200);
    if (!d) continue;
    got += d.records.length;
    await second.commit(d); // one XACK of every ID of the delivery
  }
  assert.equal(got, n, 'the released records go to the next member at once');
  assert.equal(await log.getPosition('g', 'ids', 0), n, 'the commit acknowledged every record');
});
