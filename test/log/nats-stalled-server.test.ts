// A hung nats-server (SIGSTOP: the TCP connection stays up, nothing is read or
// answered) under a steady load of appends: what this process holds for it stays
// bounded (a publish whose PubAck timed out keeps its share of maxPendingBytes
// until a PING round trip proves its bytes left), every append is refused with a
// 503, and appends succeed again once the server resumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { isHopperError } from '../../src/errors.js';
import type { NatsLog } from '../../src/log/nats/nats-log.js';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';
import { makeRecord } from './conformance.js';

const MAX_PENDING_BYTES = 1024 * 1024;
const LOAD_MS = 6000;

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
  log = await openNatsLog(uniqueNatsPrefix(), { servers: server.servers, requestTimeoutMs: 300, maxPendingBytes: MAX_PENDING_BYTES });
  await log.ensureStream('s', { partitions: 1, retentionMaxAgeMs: 0, retentionMaxBytes: 0 });
  await log.append('s', 0, [makeRecord(0)], 'durable');

  await server.pause();
  const codes = new Map<string, number>();
  let acknowledged = 0;
  let maxQueuedBytes = 0;
  const body = 64 * 1024;
  for (const until = Date.now() + LOAD_MS; Date.now() < until; ) {
    for (let i = 0; i < 4; i++) {
      log.append('s', 0, [makeRecord(i, body)], 'durable').then(
        () => acknowledged++,
        (err: unknown) => {
          const code = isHopperError(err) ? err.code : String(err);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
      );
    }
    await new Promise((r) => setTimeout(r, 10));
    // Bytes written to the socket that the kernel did not take: they stay in this process.
    maxQueuedBytes = Math.max(maxQueuedBytes, socketOf(log)?.writableLength ?? 0);
  }
  t.diagnostic(`largest socket write queue: ${(maxQueuedBytes / 2 ** 20).toFixed(1)} MiB; answers ${JSON.stringify(Object.fromEntries(codes))}`);
  assert.equal(acknowledged, 0, 'nothing can be acknowledged while the server is hung');
  for (const code of codes.keys()) assert.ok(code === 'HOPPER_LOG_UNAVAILABLE' || code === 'HOPPER_BACKPRESSURE', `unexpected failure ${code}`);
  assert.ok(
    maxQueuedBytes <= 2 * MAX_PENDING_BYTES,
    `${maxQueuedBytes} bytes queued for a hung server, more than twice maxPendingBytes (${MAX_PENDING_BYTES})`,
  );

  server.resume();
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await log.append('s', 0, [makeRecord(1)], 'durable');
      break;
    } catch (err) {
      assert.ok(isHopperError(err), String(err));
      if (Date.now() > deadline) throw new Error(`appends still fail 15 s after the server resumed: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});
