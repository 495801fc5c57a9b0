// NATS locks: an acquireLock whose take-over publish got no answer in time (a hung or
// restarting server) fails with a retriable 503, but the publish may still be stored:
// the lock then names this process as its holder with a token no NatsLock knows, so
// nothing renews or releases it, and this process's own next acquireLock saw "locked
// by <this host:pid>" (HOPPER_LOCK_HELD) for a whole lease. The next acquireLock in
// this process now recognises the heartbeat of its own failed attempt and takes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isHopperError } from '../../src/errors.js';
import type { NatsLog } from '../../src/log/nats/nats-log.js';
import { natsServerMissing } from '../helpers/nats-cluster.js';
import { TestNatsServer } from '../helpers/nats-server.js';
import { openNatsLog, uniqueNatsPrefix } from '../helpers/nats.js';

const LEASE_MS = 20_000;

test('nats: after an acquireLock whose answer was lost, this process takes the lock again at once; others still wait', { skip: natsServerMissing(), timeout: 30_000 }, async (t) => {
  const server = await TestNatsServer.start();
  const logs: NatsLog[] = [];
  t.after(async () => {
    await server.stop(); // resumes it first
    await Promise.all(logs.map((l) => l.close().catch(() => undefined)));
  });
  const prefix = uniqueNatsPrefix();
  const log = await openNatsLog(prefix, { servers: server.servers, requestTimeoutMs: 400, lockLeaseMs: LEASE_MS });
  const other = await openNatsLog(prefix, { servers: server.servers, requestTimeoutMs: 2000, lockLeaseMs: LEASE_MS });
  logs.push(log, other);
  await (await log.acquireLock('dlq/warm-up', 'another lock')).release(); // the lock stream exists; dlq/s was never held

  await server.pause();
  await assert.rejects(log.acquireLock('dlq/s', 'the dlq of s'), (err) => isHopperError(err, 'HOPPER_LOG_UNAVAILABLE'));
  server.resume();
  await new Promise((r) => setTimeout(r, 300)); // the server stores the publish it read late

  // The stored heartbeat is this process's: another process waits for its lease...
  await assert.rejects(other.acquireLock('dlq/s', 'the dlq of s'), (err) => isHopperError(err, 'HOPPER_LOCK_HELD'));
  // ...and this process takes it (before: HOPPER_LOCK_HELD, "locked by" itself, for LEASE_MS).
  const again = await log.acquireLock('dlq/s', 'the dlq of s');
  await assert.rejects(log.acquireLock('dlq/s', 'the dlq of s'), (err) => isHopperError(err, 'HOPPER_LOCK_HELD'), 'held: a second holder in this process waits');
  await again.release();
  await (await other.acquireLock('dlq/s', 'the dlq of s')).release();
});
