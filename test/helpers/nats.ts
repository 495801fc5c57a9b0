// Test access to NATS JetStream: the shared server (HOPPER_TEST_NATS_URL or
// 127.0.0.1:4222), a probe that says how to start it when absent, and cleanup
// of every JetStream stream under a subject prefix.
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { NatsLog, type NatsLogOptions } from '../../src/log/nats/nats-log.js';
import { skipOutsideCi } from './service-skip.js';

export const NATS_TEST_SERVERS = process.env.HOPPER_TEST_NATS_URL ?? '127.0.0.1:4222';

export const TEST_NATS_OPTIONS = {
  replicas: 1,
  connectTimeoutMs: 1000,
  requestTimeoutMs: 5000,
  maxPendingBytes: 64 * 1024 * 1024,
  maxPendingRecords: 200_000,
};

/** null when NATS with JetStream answers, else the reason to skip with (in CI: an error). */
export async function natsSkipReason(servers = NATS_TEST_SERVERS): Promise<string | null> {
  const how = 'start it with `nats-server -js` or set HOPPER_TEST_NATS_URL';
  let nc;
  try {
    nc = await connect({ servers: servers.split(','), timeout: 500, maxReconnectAttempts: 0 });
  } catch (err) {
    return skipOutsideCi(`NATS is not reachable at ${servers} (${(err as Error).message}): ${how}`);
  }
  try {
    await jetstreamManager(nc, { timeout: 1000 });
    return null;
  } catch (err) {
    return skipOutsideCi(`NATS at ${servers} has no JetStream (${(err as Error).message}): ${how}`);
  } finally {
    await nc.close();
  }
}

/** A subject prefix (and so a set of JetStream stream names) unique to this test run. */
export function uniqueNatsPrefix(): string {
  return `hoppertest${process.pid}x${randomBytes(4).toString('hex')}`;
}

export function openNatsLog(subjectPrefix: string, overrides: Partial<NatsLogOptions> = {}): Promise<NatsLog> {
  return NatsLog.open({ servers: NATS_TEST_SERVERS, subjectPrefix, ...TEST_NATS_OPTIONS, ...overrides });
}

/** Deletes every JetStream stream holding subjects under the prefix. */
export async function deleteNatsPrefix(subjectPrefix: string, servers = NATS_TEST_SERVERS): Promise<void> {
  const nc = await connect({ servers: servers.split(','), timeout: 1000, maxReconnectAttempts: 0 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    const names: string[] = [];
    for await (const name of jsm.streams.names(`${subjectPrefix}.>`)) names.push(name);
    for (const name of names) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/**
 * A NatsLog on a prefix of its own, closed and its data deleted after the test; null when NATS is absent
 * (the test is then skipped, saying why).
 */
export async function openNatsTestLog(t: Pick<TestContext, 'after' | 'skip'>, overrides: Partial<NatsLogOptions> = {}): Promise<NatsLog | null> {
  const reason = await natsSkipReason();
  if (reason) {
    t.skip(reason);
    return null;
  }
  const prefix = uniqueNatsPrefix();
  const log = await openNatsLog(prefix, overrides);
  t.after(async () => {
    await log.close().catch(() => undefined);
    await deleteNatsPrefix(prefix);
  });
  return log;
}
