// The one NATS connection of a NatsLog: reconnects forever (to any server of
// the list, with a short wait), and tracks whether it is up so that appends
// fail at once with HOPPER_LOG_UNAVAILABLE while it is down instead of being
// buffered by the client and timing out later. Also maps NATS errors to Hopper's.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { HopperError, isHopperError } from '../../errors.js';
import type { WarnFn } from '../embedded/partition-recovery.js';

export interface NatsConnectionOptions {
  servers: string;
  connectTimeoutMs: number;
}

const RECONNECT_WAIT_MS = 250;
/** JetStream API error codes Hopper reacts to. */
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_CONSUMER_NOT_FOUND = 10014;
/** Stream name already in use (with another configuration). */
export const JS_STREAM_NAME_IN_USE = 10058;
/** num_replicas above 1 on a server that is not in a JetStream cluster. */
export const JS_REPLICAS_NOT_SUPPORTED = 10074;
/** A publish expecting another last sequence for its subject (Nats-Expected-Last-Subject-Sequence): locks' compare-and-set. */
export const JS_WRONG_LAST_SEQUENCE = 10071;

export class NatsLink {
  connected = true;

  private constructor(
    readonly nc: NatsConnection,
    warn: WarnFn,
  ) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.connected = false;
          warn({ server: s.server }, 'nats connection lost (reconnecting)');
        } else if (s.type === 'reconnect') {
          this.connected = true;
          warn({ server: s.server }, 'nats connection restored');
        }
      }
    })().catch(() => undefined);
  }

  static async open(opts: NatsConnectionOptions, warn: WarnFn): Promise<NatsLink> {
    const servers = opts.servers.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      const nc = await connect({
        servers,
        name: 'hopper',
        timeout: opts.connectTimeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: RECONNECT_WAIT_MS,
        waitOnFirstConnect: false,
      });
      return new NatsLink(nc, warn);
    } catch (err) {
      throw new HopperError(
        'HOPPER_LOG_UNAVAILABLE',
        `Cannot connect to NATS at ${withoutCredentials(servers.join(','))} (${(err as Error).message}): start nats-server -js or set log.nats.servers.`,
        { cause: err },
      );
    }
  }

  /** Drains, or past `timeoutMs` (a hung server never answers the drain) closes without it. */
  async close(timeoutMs: number): Promise<void> {
    if (this.nc.isClosed()) return;
    const drained = await withinMs(this.nc.drain().then(() => true, () => false), timeoutMs);
    if (drained !== true && !this.nc.isClosed()) await this.nc.close();
  }
}

/** The promise's value, or undefined once `ms` passed first (the promise is left to settle on its own). */
export async function withinMs<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Server URLs with their user:password@ (or token@) masked, for error lines and logs, as the Redis backend masks its URL. */
export function withoutCredentials(servers: string): string {
  return servers.replace(/(^|,|\/\/)[^@,/]*@/g, '$1***@');
}

export function isJsApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Wraps a failed NATS call as the retriable error ingest turns into 503 (or 413 for an oversized message). */
export function natsUnavailable(err: unknown, what: string): HopperError {
  if (isHopperError(err)) return err;
  const message = (err as Error)?.message ?? String(err);
  if (message.includes('max_payload size exceeded')) {
    return new HopperError(
      'HOPPER_BODY_TOO_LARGE',
      "The record is larger than the NATS server's max_payload: raise max_payload in the nats-server config (up to 64 MB) or lower ingest.maxBodyBytes.",
      { cause: err },
    );
  }
  return new HopperError('HOPPER_LOG_UNAVAILABLE', `NATS JetStream could not ${what} (${message}): retry later.`, { cause: err, retryAfterSeconds: 1 });
}
