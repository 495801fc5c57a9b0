// A hung nats-server (SIGSTOP: the TCP connection stays up, nothing is read or
// answered) under a steady load of appends: what this process holds for it stays
// bounded (a publish whose PubAck timed out keeps its share of maxPendingBytes
// until a PING round trip proves its bytes left), every append is refused with a
// 503, and appends succeed again once the server resumes; and closing the log does not wait for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { NatsLog } from '../../src/log/nats/nats-log.js';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { runStalledServerScenario } from '../helpers/stalled-server-scenario.js';

const MAX_PENDING_BYTES = 1024 * 1024;

/** The client's socket (nats.js keeps it private): what it could not hand to the kernel stays in this process. */
function socketOf(log: NatsLog): Socket | undefined {
  return (log.link.nc as unknown as { protocol?: { transport?: { socket?: Socket } } }).protocol?.transport?.socket;
}

test('nats hung (SIGSTOP): memory queued for it stays bounded, appends get 503, and recover after', { skip: natsServerMissing() }, async (t) => {
  const server = await TestNatsServer.start();
  let log: NatsLog | null = null;
  t.after(async () => {
    await server.stop(); // resumes it first
    await log?.close().catch(() => undefined);
  });
  const opened = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers, requestTimeoutMs: 300, maxPendingBytes: MAX_PENDING_BYTES });
  log = opened;
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await runStalledServerScenario(t, log, server, () => socketOf(opened)?.writableLength ?? 0, MAX_PENDING_BYTES);
});

test('closing the log while the nats-server hangs ends within requestTimeoutMs, a consumer open or not', { skip: natsServerMissing(), timeout: 30_000 }, async (t) => {
  const server = await TestNatsServer.start();
  t.after(() => server.stop()); // resumes it first
  for (const withConsumer of [false, true]) {
    const log = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers, requestTimeoutMs: 300 });
    await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
    if (withConsumer) await log.openConsumer({ group: 'g', stream: 's', consumerName: 'c', leaseTimeoutMs: 3000 });
    await server.pause();
    const started = Date.now();
    await log.close();
    const ms = Date.now() - started;
    server.resume();
    assert.ok(ms < 3000, `close took ${ms} ms (consumer: ${withConsumer})`);
  }
});
