// A 3-node NATS cluster (started here) loses nodes under a load of durable
// appends to a 3-replica partition, one Log open throughout: first the
// partition's stream leader, then (after that node came back) the node the
// client is connected to. Each time appends keep succeeding once JetStream
// re-elects or the client reconnects, failures in between are
// HOPPER_LOG_UNAVAILABLE, and every acknowledged record is there byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import { NatsLog } from '../../src/log/nats/nats-log.js';
import { NatsCluster, natsServerMissing } from '../helpers/nats-cluster.js';
import { TEST_NATS_OPTIONS } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const APPENDERS = 8;

test('nats cluster loses a node under load: no acknowledged write lost, appends keep succeeding', { skip: natsServerMissing() }, async (t) => {
  const cluster = await NatsCluster.start(3);
  let log: NatsLog | null = null;
  t.after(async () => {
    await log?.close().catch(() => undefined);
    await cluster.stop();
  });
  log = await NatsLog.open({
    ...TEST_NATS_OPTIONS,
    servers: cluster.servers,
    subjectPrefix: 'hopper',
    replicas: 3,
    requestTimeoutMs: 2000,
  });
  const streamName = log.streamName('load', 0);
  await log.ensureStream('load', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  const info = await log.jsm.streams.info(streamName);
  assert.equal(info.config.num_replicas, 3);
  const leader = info.cluster?.leader;
  assert.ok(leader, 'the partition stream has a leader');

  const acked: { offset: number; body: Buffer; atMs: number }[] = [];
  const failures: { code: string; atMs: number }[] = [];
  let stop = false;
  let seq = 0;
  const appender = async (): Promise<void> => {
    while (!stop) {
      const rec = makeRecord(seq++, 200);
      try {
        const r = await log!.append('load', 0, [rec], 'durable');
        acked.push({ offset: r.firstOffset, body: rec.body, atMs: Date.now() });
      } catch (err) {
        assert.ok(isHopperError(err), `unexpected error ${String(err)}`);
        failures.push({ code: err.code, atMs: Date.now() });
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  const load = Promise.all(Array.from({ length: APPENDERS }, appender));
  const ackedSince = (ms: number): number => acked.filter((a) => a.atMs > ms).length;

  try {
    await waitFor(() => acked.length >= 300, 15_000, 'appends before the first kill');
    await cluster.kill(leader);
    const firstKillMs = Date.now();
    await waitFor(() => ackedSince(firstKillMs) >= 300, 25_000, 'appends after the leader was killed');
    const newLeader = (await log.jsm.streams.info(streamName)).cluster?.leader;
    assert.ok(newLeader && newLeader !== leader, 'a new leader took over');

    cluster.restart(leader);
    await waitFor(async () => {
      const replicas = (await log!.jsm.streams.info(streamName).catch(() => null))?.cluster?.replicas ?? [];
      return replicas.length === 2 && replicas.every((r) => r.current && !r.offline);
    }, 25_000, 'the restarted node to catch up');
    const connectedTo = log.link.nc.info?.server_name;
    assert.ok(connectedTo);
    await cluster.kill(connectedTo);
    const secondKillMs = Date.now();
    await waitFor(() => ackedSince(secondKillMs) >= 300, 25_000, 'appends after the connected node was killed');
  } finally {
    stop = true;
    await load;
  }

  for (const f of failures) assert.equal(f.code, 'HOPPER_LOG_UNAVAILABLE');
  const stored = new Map<number, Buffer>();
  for (let offset = 0; ; ) {
    const { records, nextOffset } = await log.read('load', 0, offset, { maxRecords: 1000 });
    if (records.length === 0) break;
    for (const r of records) stored.set(r.offset, r.body);
    offset = nextOffset;
  }
  assert.equal(new Set(acked.map((a) => a.offset)).size, acked.length, 'two appends acknowledged with the same offset');
  for (const a of acked) {
    const body = stored.get(a.offset);
    assert.ok(body, `acknowledged offset ${a.offset} is missing after the node losses`);
    assert.ok(body.equals(a.body), `acknowledged offset ${a.offset} differs after the node losses`);
  }
});

async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
