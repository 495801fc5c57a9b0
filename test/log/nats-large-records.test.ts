// NATS: a nats-server disconnects a client it has more than max_pending bytes (64 MB by default) queued for
// ("Slow Consumer Detected"). Reads (128 STREAM.MSG.GET in flight) and group pulls (a batch of maxRecords
// messages) of large records asked it for more than that at once: the read could never succeed and every
// append on the connection failed with it, and a worker's pulled messages were redelivered, counted as
// delivered again, until records no worker failed on reached maxDeliveries. Both now bound the bytes asked for.
// The server here gets a max_pending of 12 MB, so that a few MB of records show it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const RECORDS = 48;
const BODY_BYTES = 512 * 1024;

test('nats: reads and group pulls of large records stay under the server max_pending (no slow-consumer disconnect)', { skip: natsServerMissing(), timeout: 120_000 }, async (t) => {
  const server = await TestNatsServer.start('max_pending: 12MB\n');
  const warnings: string[] = [];
  const log = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers, warn: (_o, msg) => warnings.push(msg) });
  t.after(async () => {
    await log.close().catch(() => undefined);
    await server.stop();
  });
  await log.ensureStream('big', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  for (let i = 0; i < RECORDS; i += 8) {
    await log.append('big', 0, Array.from({ length: 8 }, (_, j) => ({ ...makeRecord(i + j), body: Buffer.alloc(BODY_BYTES, i + j) })), 'durable');
  }
  const lost = (): string[] => warnings.filter((w) => w.includes('connection lost'));

  const first = await log.read('big', 0, 0, { maxRecords: 1000, maxBytes: BODY_BYTES });
  assert.deepEqual(first.records.map((r) => r.offset), [0]);
  const all = [];
  for (let offset = 0; offset < RECORDS; ) {
    const page = await log.read('big', 0, offset, { maxRecords: 1000 });
    assert.ok(page.records.length > 0, `read at ${offset}`);
    all.push(...page.records);
    offset = page.nextOffset;
  }
  all.forEach((r, i) => assert.ok(r.offset === i && r.body.equals(Buffer.alloc(BODY_BYTES, i)), `record ${i}`));
  assert.deepEqual(lost(), [], 'a read disconnected the log from NATS');

  const consumer = await log.openConsumer({ group: 'g', stream: 'big', consumerName: 'c', leaseTimeoutMs: 20_000 });
  const seen = new Set<number>();
  for (const until = Date.now() + 60_000; seen.size < RECORDS && Date.now() < until; ) {
    const d = await consumer.fetch(1000, 500);
    if (!d) continue;
    assert.equal(d.redeliveries, 0, `offsets ${d.records.map((r) => r.offset).join(',')} delivered again`);
    for (const r of d.records) seen.add(r.offset);
    await consumer.commit(d);
  }
  await consumer.close();
  assert.equal(seen.size, RECORDS);
  assert.deepEqual(lost(), [], 'a group pull disconnected the log from NATS');
});
