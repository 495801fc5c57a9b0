// NATS: a publish no stream answered has the log create its stream's lost partitions again (4703d3b). It did so
// through ensureStream, which also updates every partition that still exists to the options this process was
// started with: a process whose retention was older than another's (a config change rolled out one process at a
// time) put the older retention back on the whole stream, and a shorter max_age or max_bytes has JetStream delete
// records at once. In a cluster it takes no lost partition: a member catching up can answer "stream not found"
// for a stream that exists. Only the partition streams that are gone are created now; the others are left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const HOUR_MS = 3_600_000;

test('nats: creating a lost partition again leaves the settings of the partitions that exist', { skip: natsServerMissing(), timeout: 60_000 }, async (t) => {
  const server = await TestNatsServer.start();
  const prefix = uniqueNatsPrefix();
  const older = await openNatsLog(prefix, { servers: server.servers, requestTimeoutMs: 1000, warn: () => undefined });
  const newer = await openNatsLog(prefix, { servers: server.servers, warn: () => undefined });
  const nc = await connect({ servers: server.servers });
  t.after(async () => {
    await older.close().catch(() => undefined);
    await newer.close().catch(() => undefined);
    await nc.close();
    await server.stop();
  });
  const jsm = await jetstreamManager(nc);
  await older.ensureStream('events', { partitions: 2, retentionMaxAgeMs: HOUR_MS, retentionMaxBytes: 0 });
  await newer.ensureStream('events', { partitions: 2, retentionMaxAgeMs: 24 * HOUR_MS, retentionMaxBytes: 0 });
  await jsm.streams.delete(older.streamName('events', 1));

  await assert.rejects(older.append('events', 1, [makeRecord(0)], 'durable'));
  let recreated = false;
  for (const until = Date.now() + 10_000; !recreated && Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    recreated = await jsm.streams.info(older.streamName('events', 1)).then(() => true, () => false);
  }
  assert.ok(recreated, 'the lost partition stream was created again');
  await older.append('events', 1, [makeRecord(1)], 'durable');
  const kept = (await jsm.streams.info(older.streamName('events', 0))).config.max_age;
  assert.equal(kept, 24 * HOUR_MS * 1_000_000, 'partition 0 keeps the retention the newer process set');
});
