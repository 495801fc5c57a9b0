// Batches the appends of one event-loop turn: every write to the same stream and
// ack level that arrives before setImmediate fires goes to the log in one
// log.append call (the embedded log then group-commits across calls as well).
// One call per turn instead of one per request keeps per-request overhead low.
//
// A batch whose partition is still locked by the process this one replaces
// (rolling restart, or a crashed predecessor not yet reaped) is retried for up
// to lockWaitMs: the requests wait a little instead of being refused.

import { HopperError, isHopperError } from '../errors.js';
import { ACK_LEVELS, type AckLevel, type AppendResult, type Log, type RecordInput } from '../log/types.js';
import type { Backpressure } from './backpressure.js';
import type { IngestStats } from './ingest-stats.js';
import type { StreamEntry } from './stream-registry.js';

/** A batch is cut (and a new one started) past these, so one log.append never grows without bound. */
export const MAX_BATCH_RECORDS = 8192;
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;
const LOCK_RETRY_DELAY_MS = 50;

export interface AppendWaiter {
  /** The record is stored at `ack` (offset -1 when not known yet: `fast`). */
  appended(partition: number, offset: number, ack: AckLevel): void;
  failed(err: HopperError): void;
}

export class AppendBatch {
  readonly records: RecordInput[] = [];
  readonly waiters: AppendWaiter[] = [];
  bytes = 0;
  firstTryMs = 0;

  constructor(
    readonly entry: StreamEntry,
    readonly rank: number,
  ) {}
}

export interface AppendBatcherOptions {
  log: Log;
  partition: number;
  stats: IngestStats;
  backpressure: Backpressure;
  /** How long a batch waits for a partition held by another (exiting) process. */
  lockWaitMs: number;
  /** Called for failures that are not operating conditions (bugs, unknown errors). */
  onUnexpectedError(err: unknown): void;
}

export class AppendBatcher {
  private queued: AppendBatch[] = [];
  private scheduled = false;
  /** log.append calls not settled yet. */
  inFlight = 0;

  constructor(private readonly opts: AppendBatcherOptions) {}

  add(entry: StreamEntry, rank: number, record: RecordInput, waiter: AppendWaiter): void {
    let batch = entry.batches[rank];
    if (batch === null || batch === undefined) {
      batch = new AppendBatch(entry, rank);
      entry.batches[rank] = batch;
      this.queued.push(batch);
    }
    batch.records.push(record);
    batch.waiters.push(waiter);
    batch.bytes += record.body.length;
    if (batch.records.length >= MAX_BATCH_RECORDS || batch.bytes >= MAX_BATCH_BYTES) entry.batches[rank] = null;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batches = this.queued;
    this.queued = [];
    for (const b of batches) {
      if (b.entry.batches[b.rank] === b) b.entry.batches[b.rank] = null;
      b.firstTryMs = performance.now();
      this.send(b);
    }
    this.opts.backpressure.refreshLog();
  };

  private send(b: AppendBatch): void {
    const { log, partition, stats } = this.opts;
    this.inFlight++;
    stats.appendCalls++;
    let appended: Promise<AppendResult>;
    try {
      appended = log.append(b.entry.name, partition, b.records, ACK_LEVELS[b.rank]!);
    } catch (err) {
      appended = Promise.reject(err);
    }
    appended.then(
      (r) => this.settled(b, r),
      (err: unknown) => this.failed(b, err),
    );
  }

  private settled(b: AppendBatch, r: AppendResult): void {
    this.inFlight--;
    const { stats } = this.opts;
    stats.recordsAppended += b.records.length;
    stats.lastAppendError = null;
    const w = b.waiters;
    if (r.firstOffset < 0) {
      for (let i = 0; i < w.length; i++) w[i]!.appended(r.partition, -1, r.ack);
    } else {
      for (let i = 0; i < w.length; i++) w[i]!.appended(r.partition, r.firstOffset + i, r.ack);
    }
  }

  private failed(b: AppendBatch, err: unknown): void {
    this.inFlight--;
    if (isHopperError(err, 'HOPPER_PARTITION_LOCKED') && performance.now() - b.firstTryMs < this.opts.lockWaitMs) {
      setTimeout(() => this.send(b), LOCK_RETRY_DELAY_MS);
      return;
    }
    const { stats } = this.opts;
    let e: HopperError;
    if (err instanceof HopperError) {
      e = err;
    } else {
      this.opts.onUnexpectedError(err);
      e = new HopperError('HOPPER_LOG_UNAVAILABLE', `The log failed (${(err as Error)?.message ?? String(err)}): retry later.`, {
        cause: err,
        retryAfterSeconds: 1,
      });
    }
    stats.appendFailures++;
    stats.lastAppendError = { code: e.code, message: e.message, atMs: Date.now() };
    for (const w of b.waiters) w.failed(e);
  }
}
