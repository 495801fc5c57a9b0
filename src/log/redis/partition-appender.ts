// Group commit for one Redis partition: appends that arrive in the same event
// loop turn (or while earlier batches are in flight) go out as one EVALSHA of
// APPEND_SCRIPT, which XADDs them all atomically, so a batch gets consecutive
// offsets even with many Hopper processes writing the same partition, and one
// round trip carries hundreds of records. Batches are pipelined on the shared
// connection (Redis answers them in order); at most MAX_IN_FLIGHT_BATCHES per
// partition, so a busy partition sends fewer, larger batches.

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HopperError } from '../../errors.js';
import type { AckLevel, AppendResult, RecordInput } from '../types.js';
import type { PendingBudget } from '../pending-budget.js';
import { idSequence } from './redis-keys.js';
import { FIELDS_PER_RECORD, pushRecordArgs, recordBytes } from './redis-record-codec.js';
import { isReplyError, redisUnavailable } from './redis-connection.js';
import type { WarnFn } from '../embedded/partition-recovery.js';

/**
 * KEYS[1] = partition key; ARGV[1] = approximate MAXLEN to trim to ('0' = none);
 * then FIELDS_PER_RECORD values per record. Returns the ID of the first entry.
 * `0-*` makes Redis pick the next sequence number after the stream's last ID.
 */
export const APPEND_SCRIPT = `
local key = KEYS[1]
local first = nil
for i = 2, #ARGV, ${FIELDS_PER_RECORD} do
  local id = redis.call('XADD', key, '0-*', 'at', ARGV[i], 'ct', ARGV[i + 1], 'ce', ARGV[i + 2], 'ra', ARGV[i + 3], 'rq', ARGV[i + 4], 'ik', ARGV[i + 5], 'b', ARGV[i + 6])
  if first == nil then first = id end
end
if ARGV[1] ~= '0' then redis.call('XTRIM', key, 'MAXLEN', '~', ARGV[1]) end
return first
`;
const APPEND_SHA = createHash('sha1').update(APPEND_SCRIPT).digest('hex');

const MAX_IN_FLIGHT_BATCHES = 2;

export interface AppenderContext {
  redis: Redis;
  budget: PendingBudget;
  maxBatchBytes: number;
  /** Whether Redis fsyncs before it answers (appendfsync always): then every write is durable. */
  durableIsFsync: () => boolean;
  warn: WarnFn;
}

interface PendingAppend {
  records: RecordInput[];
  bytes: number;
  ack: AckLevel;
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

export class PartitionAppender {
  private queue: PendingAppend[] = [];
  private scheduled = false;
  private inFlight = 0;
  private drainWaiters: (() => void)[] = [];
  /** Approximate MAXLEN applied with every batch, set by retention from the stream's byte budget (0 = none). */
  maxLen = 0;
  /** Records acknowledged `fast` whose write then failed: the loss `fast` accepts. */
  lostFastRecords = 0;

  constructor(
    private readonly key: string,
    private readonly partition: number,
    private readonly ctx: AppenderContext,
  ) {}

  append(records: RecordInput[], ack: AckLevel): Promise<AppendResult> {
    let bytes = 0;
    for (const r of records) {
      const b = recordBytes(r);
      if (b < 0) return Promise.reject(new HopperError('HOPPER_METADATA_TOO_LARGE'));
      bytes += b;
    }
    try {
      this.ctx.budget.reserve(bytes, records.length);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const result = new Promise<AppendResult>((resolve, reject) => this.queue.push({ records, bytes, ack, resolve, reject }));
    this.schedule();
    if (ack === 'fast') {
      result.catch(() => undefined); // counted in lostFastRecords, never reported to the caller
      return Promise.resolve({ partition: this.partition, firstOffset: -1, ack: 'fast' });
    }
    return result;
  }

  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0;
  }

  /** Resolves once everything queued so far was answered (or failed). */
  flush(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiters.push(resolve);
      this.send();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT_BATCHES) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.send();
    });
  }

  private send(): void {
    while (this.queue.length > 0 && this.inFlight < MAX_IN_FLIGHT_BATCHES) {
      let bytes = 0;
      let n = 0;
      while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.bytes <= this.ctx.maxBatchBytes)) bytes += this.queue[n++]!.bytes;
      this.sendBatch(this.queue.splice(0, n), bytes);
    }
  }

  private sendBatch(batch: PendingAppend[], bytes: number): void {
    let count = 0;
    const args: (string | Buffer)[] = [String(this.maxLen)];
    for (const p of batch) {
      count += p.records.length;
      for (const r of p.records) pushRecordArgs(args, r);
    }
    this.inFlight++;
    this.evalAppend(args).then(
      (firstId) => {
        const first = idSequence(firstId) - 1;
        const reached: AckLevel = this.ctx.durableIsFsync() ? 'durable' : 'written';
        let rel = 0;
        for (const p of batch) {
          const ack = p.ack === 'durable' ? 'durable' : reached;
          p.resolve({ partition: this.partition, firstOffset: first + rel, ack });
          rel += p.records.length;
        }
      },
      (err: unknown) => {
        const error = redisUnavailable(err, 'append');
        for (const p of batch) {
          if (p.ack === 'fast') this.lostFastRecords += p.records.length;
          p.reject(error);
        }
        if (batch.some((p) => p.ack === 'fast')) this.ctx.warn({ err: error.message, partition: this.partition }, 'redis append failed; fast-acknowledged records lost');
      },
    ).finally(() => {
      this.ctx.budget.release(bytes, count);
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
      else if (this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
    });
  }

  private async evalAppend(args: (string | Buffer)[]): Promise<string> {
    try {
      return (await this.ctx.redis.evalsha(APPEND_SHA, 1, this.key, ...args)) as string;
    } catch (err) {
      // After a Redis restart the script cache is empty: EVAL loads it (same atomic script, no double write).
      if (!isReplyError(err, 'NOSCRIPT')) throw err;
      return (await this.ctx.redis.eval(APPEND_SCRIPT, 1, this.key, ...args)) as string;
    }
  }
}
