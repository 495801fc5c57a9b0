// A log backend whose server hangs (SIGSTOP: the TCP connection stays up, nothing
// is read or answered) under a steady load of appends: nothing is acknowledged,
// every append is refused with a 503, what the client queues for the server stays
// within twice maxPendingBytes, and appends succeed again once it resumes. The
// Redis and NATS tests run it, each with its own server and socket.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { isHopperError } from '../../src/errors.js';
import type { Log } from '../../src/log/types.js';
import { makeRecord } from '../log/conformance.js';

const LOAD_MS = 6000;
const BODY_BYTES = 64 * 1024;

export interface StalledServer {
  pause(): Promise<void>;
  resume(): void;
}

/** `log` holds stream 's' (one partition); `queuedBytes` reads what its socket could not hand to the kernel. */
export async function runStalledServerScenario(t: TestContext, log: Log, server: StalledServer, queuedBytes: () => number, maxPendingBytes: number): Promise<void> {
  await log.append('s', 0, [makeRecord(0)], 'durable');
  await server.pause();
  const codes = new Map<string, number>();
  let acknowledged = 0;
  let maxQueuedBytes = 0;
  for (const until = Date.now() + LOAD_MS; Date.now() < until; ) {
    for (let i = 0; i < 4; i++) {
      log.append('s', 0, [makeRecord(i, BODY_BYTES)], 'durable').then(
        () => acknowledged++,
        (err: unknown) => {
          const code = isHopperError(err) ? err.code : String(err);
          codes.set(code, (codes.get(code) ?? 0) + 1);
        },
      );
    }
    await new Promise((r) => setTimeout(r, 10));
    // Bytes written to the socket that the kernel did not take: they stay in this process.
    maxQueuedBytes = Math.max(maxQueuedBytes, queuedBytes());
  }
  t.diagnostic(`largest socket write queue: ${(maxQueuedBytes / 2 ** 20).toFixed(1)} MiB; answers ${JSON.stringify(Object.fromEntries(codes))}`);
  assert.equal(acknowledged, 0, 'nothing can be acknowledged while the server is hung');
  for (const code of codes.keys()) assert.ok(code === 'HOPPER_LOG_UNAVAILABLE' || code === 'HOPPER_BACKPRESSURE', `unexpected failure ${code}`);
  assert.ok(
    maxQueuedBytes <= 2 * maxPendingBytes,
    `${maxQueuedBytes} bytes queued for a hung server, more than twice maxPendingBytes (${maxPendingBytes})`,
  );

  server.resume();
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await log.append('s', 0, [makeRecord(1)], 'durable');
      return;
    } catch (err) {
      assert.ok(isHopperError(err), String(err));
      if (Date.now() > deadline) throw new Error(`appends still fail 15 s after the server resumed: ${err.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
