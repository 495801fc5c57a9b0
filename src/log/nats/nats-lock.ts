// Log.acquireLock on NATS. The last message of subject {subjectPrefix}._locks.{name}
// (name parts escaped as in nats-names.ts, joined by '.') says who holds the lock: a
// heartbeat {holder, token, leaseMs}, or an empty message once released. The subjects
// live in one JetStream stream per prefix ({prefix}__locks) keeping one message per
// subject. Every change is a publish expecting the subject's last sequence to be the
// one this process read (Nats-Expected-Last-Subject-Sequence, JetStream's
// compare-and-set; KV's create/update work the same way), so of two processes changing
// one lock at once exactly one wins:
//
//   take a free lock        expect 0 (never held) or the sequence of the empty message a release left
//   renew (every lease/3)   expect our last heartbeat's sequence; refused: another process took it
//   take over a stale lock  expect the sequence of the dead holder's last heartbeat
//   release                 an empty message, expecting our last heartbeat's sequence
//
// A lock is stale when its last heartbeat is older than its holder's lease, both times
// from the server's clock (stored-message timestamps; "now" is that of a probe message on
// {subjectPrefix}._locks._clock), so a skewed clock here never takes a live holder's lock.
// `_locks` and `_clock` are no escaped name ('_' only appears as _5F or _2E), so these
// subjects never overlap a partition's or a lock's.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DiscardPolicy, RetentionPolicy, StorageType, jetstream } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { HopperError } from '../../errors.js';
import type { LogLock } from '../types.js';
import type { WarnFn } from '../embedded/partition-recovery.js';
import { JS_STREAM_NAME_IN_USE, JS_STREAM_NOT_FOUND, JS_WRONG_LAST_SEQUENCE, isJsApiError, natsUnavailable } from './nats-connection.js';
import { escapeName } from './nats-names.js';

/** Rounds of publish / look / take over before acquire gives up as contended (each loses only to another process's change). */
const MAX_ACQUIRE_ATTEMPTS = 8;

interface Heartbeat {
  holder: string;
  token: string;
  leaseMs: number;
}

/** The locks of one NatsLog: its lock stream, created on first use. */
export class NatsLocks {
  private readonly js: JetStreamClient;
  private ready: Promise<void> | null = null;
  readonly streamName: string;
  /**
   * Per lock subject, tokens of this process's acquire publishes that failed without an answer (a hung or
   * restarting server): such a publish may still have been stored, leaving a heartbeat that names this
   * process but that no NatsLock renews or releases. The next acquire here takes it at once instead of
   * reporting the lock held (by this very process) for a whole lease.
   */
  private readonly unanswered = new Map<string, Set<string>>();

  constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly subjectPrefix: string,
    private readonly replicas: number,
    private readonly leaseMs: number,
    timeoutMs: number,
    private readonly warn: WarnFn,
  ) {
    this.js = jetstream(nc, { timeout: timeoutMs });
    this.streamName = `${escapeName(subjectPrefix)}__locks`;
  }

  private ensureStream(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await this.jsm.streams.info(this.streamName);
        return;
      } catch (err) {
        if (!isJsApiError(err, JS_STREAM_NOT_FOUND)) throw err;
      }
      try {
        await this.jsm.streams.add({
          name: this.streamName,
          description: 'Hopper locks (Log.acquireLock): the last message of each subject is its holder',
          subjects: [`${this.subjectPrefix}._locks.>`],
          retention: RetentionPolicy.Limits,
          storage: StorageType.File,
          discard: DiscardPolicy.Old,
          max_msgs_per_subject: 1,
          num_replicas: this.replicas,
        });
      } catch (err) {
        if (!isJsApiError(err, JS_STREAM_NAME_IN_USE)) throw err; // another process created it meanwhile
      }
    })().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  async acquire(nameParts: string[], what: string, onRelease: (lock: NatsLock) => void): Promise<NatsLock> {
    const subject = `${this.subjectPrefix}._locks.${nameParts.map(escapeName).join('.')}`;
    const token = randomBytes(12).toString('hex');
    const heartbeat = JSON.stringify({ holder: `${hostname()}:${process.pid}`, token, leaseMs: this.leaseMs } satisfies Heartbeat);
    try {
      await this.ensureStream();
      let expect = 0;
      for (let attempt = 0; attempt < MAX_ACQUIRE_ATTEMPTS; attempt++) {
        let seq: number | null;
        try {
          seq = await this.publishIf(subject, heartbeat, expect);
        } catch (err) {
          const tokens = this.unanswered.get(subject) ?? new Set<string>();
          this.unanswered.set(subject, tokens.add(token));
          throw err;
        }
        if (seq !== null) {
          this.unanswered.delete(subject); // our heartbeat replaced whatever such a publish left
          return new NatsLock(this, subject, heartbeat, seq, this.leaseMs, this.warn, onRelease);
        }
        const last = await this.last(subject);
        if (last === null || last.data.length === 0) {
          expect = last?.seq ?? 0; // released (or never held): take it
          continue;
        }
        const held = parseHeartbeat(last);
        if (held !== null && this.unanswered.get(subject)?.has(held.token)) {
          expect = last.seq; // left by an acquire of ours that failed: nobody holds it
          continue;
        }
        const ageMs = (await this.serverNowMs()) - last.time.getTime();
        if (held !== null && ageMs <= held.leaseMs) {
          throw new HopperError(
            'HOPPER_LOCK_HELD',
            `${what} is locked by ${held.holder}: wait for it to finish, then try again (if it died, the lock frees itself within ${Math.ceil(held.leaseMs / 1000)} s).`,
          );
        }
        expect = last.seq; // its holder stopped renewing: take it over
      }
    } catch (err) {
      throw natsUnavailable(err, 'take a lock');
    }
    throw new HopperError('HOPPER_LOCK_HELD', `${what}: other processes keep taking and releasing this lock: try again.`);
  }

  /** Publishes if the subject's last sequence is `expect`: the new sequence, or null when it is not. */
  async publishIf(subject: string, data: string, expect: number): Promise<number | null> {
    try {
      return (await this.js.publish(subject, data, { expect: { lastSubjectSequence: expect } })).seq;
    } catch (err) {
      if (isJsApiError(err, JS_WRONG_LAST_SEQUENCE)) return null;
      throw err;
    }
  }

  /** The subject's last message, or null when it has none. */
  last(subject: string): Promise<StoredMsg | null> {
    return this.jsm.streams.getMessage(this.streamName, { last_by_subj: subject });
  }

  /** The server's clock: the timestamp of a probe message (the last one is at least as recent as ours). */
  private async serverNowMs(): Promise<number> {
    const subject = `${this.subjectPrefix}._locks._clock`;
    await this.js.publish(subject);
    const probe = await this.last(subject);
    if (probe === null) throw new Error('the lock clock probe was not stored');
    return probe.time.getTime();
  }
}

export class NatsLock implements LogLock {
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | null = null;
  private lost = false;
  private released = false;

  constructor(
    private readonly locks: NatsLocks,
    private readonly subject: string,
    private readonly heartbeat: string,
    /** Sequence of our last heartbeat: what every change of ours expects. */
    private seq: number,
    leaseMs: number,
    private readonly warn: WarnFn,
    private readonly onRelease: (lock: NatsLock) => void,
  ) {
    // unref: a lock must not keep a process alive that has nothing else to do.
    this.timer = setInterval(() => {
      this.renewing ??= this.renew().finally(() => (this.renewing = null));
    }, Math.max(1, Math.floor(leaseMs / 3)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.lost || this.released) return;
    try {
      if (await this.change(this.heartbeat)) return;
      if (this.released) return;
      this.lost = true;
      clearInterval(this.timer);
      this.warn({ subject: this.subject }, 'a lock this process held was taken over (NATS was unreachable from here for its whole lease): another process may hold it now');
    } catch (err) {
      // NATS unreachable for now: the next tick tries again while the lease lasts.
      this.warn({ err: String(err), subject: this.subject }, 'could not renew a lock (retrying)');
    }
  }

  /**
   * Publishes `data` expecting our last heartbeat: false when the lock is someone else's. A publish whose
   * answer was lost may have been stored: a last message with our token is ours, and we go on from it.
   */
  private async change(data: string): Promise<boolean> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const seq = await this.locks.publishIf(this.subject, data, this.seq);
      if (seq !== null) {
        this.seq = seq;
        return true;
      }
      const last = await this.locks.last(this.subject);
      if (last === null || last.data.length === 0 || parseHeartbeat(last)?.token !== tokenOf(this.heartbeat)) return false;
      this.seq = last.seq;
    }
    return false;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    this.onRelease(this);
    await this.renewing;
    if (this.lost) return;
    try {
      await this.change('');
    } catch (err) {
      this.warn({ err: String(err), subject: this.subject }, 'could not release a lock: it frees itself when its lease runs out');
    }
  }
}

function parseHeartbeat(msg: StoredMsg): Heartbeat | null {
  try {
    const v = msg.json<Partial<Heartbeat>>();
    if (typeof v.holder !== 'string' || typeof v.token !== 'string' || typeof v.leaseMs !== 'number') return null;
    return { holder: v.holder, token: v.token, leaseMs: v.leaseMs };
  } catch {
    return null;
  }
}

function tokenOf(heartbeat: string): string {
  return (JSON.parse(heartbeat) as Heartbeat).token;
}
