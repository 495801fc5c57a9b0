// Group commit for one Redis partition: appends that arrive in the same event
// loop turn (or while earlier batches are in flight) go out as one EVAL of
// APPEND_SCRIPT, which XADDs them all atomically, so a batch gets consecutive
// offsets even with many Hopper processes writing the same partition, and one
// round trip carries hundreds of records. Batches are pipelined on the shared
// connection (Redis runs them in order); at most MAX_IN_FLIGHT_BATCHES per
// partition, so a busy partition sends fewer, larger batches.
//
// EVAL with the script text, never EVALSHA: when Redis has lost its script cache
// (SCRIPT FLUSH, restart, failover), a pipelined EVALSHA fails with NOSCRIPT, and
// if anything reloads the script before the next batch of the partition reaches
// Redis (another partition's EVAL on this connection, another process), that next
// batch is stored and the refused one, sent again, lands after it: the partition's
// appends out of order. A batch that carries its script cannot be refused alone.
// The text is a few hundred bytes next to hundreds of records; Redis caches the
// compiled script by its hash, so EVAL costs only that hash.
//
// Script arguments (7 per record) go to ioredis as one array, never spread into
// the call: past ~100k arguments a spread overflows V8's stack (RangeError) and
// every append of the batch fails. A script call carries at most
// MAX_RECORDS_PER_CALL records; one append of more is sent as several script
// calls inside one MULTI/EXEC, so it stays atomic.

import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { HopperError } from '../../errors.js';
import type { AckLevel, AppendResult, RecordInput } from '../types.js';
import type { PendingBudget } from '../pending-budget.js';
import { BIG_BODY_BYTES, bigKey, bigSinceKey, idSequence } from './redis-keys.js';
import { FIELDS_PER_RECORD, pushRecordArgs, recordBytes } from './redis-record-codec.js';
import { dropHungConnection, isCommandTimeout, redisNotReady, redisUnavailable } from './redis-connection.js';
import type { WarnFn } from '../embedded/partition-recovery.js';

/**
 * KEYS[1] = partition key, KEYS[2] = meta key, KEYS[3] = its big key, KEYS[4] = its bigsince key (redis-keys.ts);
 * ARGV[1] = approximate MAXLEN to trim to ('0' = none), ARGV[2] = Hopper stream, ARGV[3] = its settings (JSON),
 * ARGV[4] = a token no other script call has (BIGSINCE_TOKEN); then FIELDS_PER_RECORD values per record.
 * Returns the ID of the first entry. `0-*` makes Redis pick the next sequence number after the
 * stream's last ID. The settings are put back when missing: a Redis restarted without its data
 * (no persistence, or a snapshot older than the stream) has lost them, and without them the
 * records stored from then on are in no stream listing, so no worker would ever read them.
 * A body over BIG_BODY_BYTES is listed in the big key (scored by its ID's sequence number, offset + 1, taken
 * from the ID as text: Lua numbers print inexactly past 1e14), so group reads know whether one is ahead without
 * measuring the entries; bigsince keeps the sequence number of the first entry appended so (set once),
 * below which a partition written by an older Hopper may hold big bodies unlisted, and the token: a member that
 * read before bigsince was deleted and set again (Redis lost its data, a position was set back) finds another
 * value and does not trust what it read then. A small body costs one length comparison.
 */
export const APPEND_SCRIPT = `
local key = KEYS[1]
local first = nil
redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
for i = 5, #ARGV, ${FIELDS_PER_RECORD} do
  local id = redis.call('XADD', key, '0-*', 'at', ARGV[i], 'ct', ARGV[i + 1], 'ce', ARGV[i + 2], 'ra', ARGV[i + 3], 'rq', ARGV[i + 4], 'ik', ARGV[i + 5], 'b', ARGV[i + 6])
  if first == nil then first = id end
  if #ARGV[i + 6] > ${BIG_BODY_BYTES} then redis.call('ZADD', KEYS[3], string.sub(id, 3), id) end
end
redis.call('SET', KEYS[4], string.sub(first, 3) .. ' ' .. ARGV[4], 'NX')
if ARGV[1] ~= '0' then redis.call('XTRIM', key, 'MAXLEN', '~', ARGV[1]) end
return first
`;

/** This process's part of APPEND_SCRIPT's token, followed by a count of script calls. */
const BIGSINCE_TOKEN = randomBytes(8).toString('hex');
let scriptCalls = 0;

const MAX_IN_FLIGHT_BATCHES = 2;
/**
 * Records per script call. Appends queued together are merged up to this many;
 * a single larger append is split into calls of this size sent in one MULTI/EXEC.
 * Keeps each command's argument count (and Redis's Lua ARGV table) moderate.
 */
export const MAX_RECORDS_PER_CALL = 10_000;
/** Arguments of one script call: [script, numkeys, key, metaKey, bigKey, bigSinceKey, maxLen, stream, settings, token, ...FIELDS_PER_RECORD per record]. */
type ScriptCall = (string | Buffer | number)[];
const MAX_LEN_ARG = 6;

/** The Hopper stream a partition belongs to and where its settings live (redis-keys.ts). */
export interface StreamSettings {
  metaKey: string;
  stream: string;
  /** The settings as stored in the meta hash (JSON). */
  json: () => string;
}

export interface AppenderContext {
  redis: Redis;
  budget: PendingBudget;
  maxBatchBytes: number;
  /** Whether Redis fsyncs before it answers (appendfsync always): then every write is durable. */
  durableIsFsync: () => boolean;
  warn: WarnFn;
  settings: StreamSettings;
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
    // Without this, a `fast` append while Redis is down would be answered as queued and then lost for sure.
    if (this.ctx.redis.status !== 'ready') return Promise.reject(redisNotReady());
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
      let records = 0;
      let n = 0;
      for (; n < this.queue.length; n++) {
        const next = this.queue[n]!;
        const fits = bytes + next.bytes <= this.ctx.maxBatchBytes && records + next.records.length <= MAX_RECORDS_PER_CALL;
        if (n > 0 && !fits) break;
        bytes += next.bytes;
        records += next.records.length;
      }
      this.sendBatch(this.queue.splice(0, n), bytes);
    }
  }

  /** The batch's records as script calls of at most MAX_RECORDS_PER_CALL records (more than one only for one large append). */
  private scriptCalls(batch: PendingAppend[]): ScriptCall[] {
    const calls: ScriptCall[] = [];
    const { metaKey, stream, json } = this.ctx.settings;
    const settings = json();
    let call: ScriptCall | null = null;
    let inCall = 0;
    for (const p of batch) {
      for (const r of p.records) {
        if (call === null || inCall === MAX_RECORDS_PER_CALL) {
          call = [APPEND_SCRIPT, 4, this.key, metaKey, bigKey(this.key), bigSinceKey(this.key), '0', stream, settings, `${BIGSINCE_TOKEN}.${++scriptCalls}`];
          calls.push(call);
          inCall = 0;
        }
        pushRecordArgs(call, r);
        inCall++;
      }
    }
    calls[calls.length - 1]![MAX_LEN_ARG] = String(this.maxLen); // trim once, after the last XADD
    return calls;
  }

  private sendBatch(batch: PendingAppend[], bytes: number): void {
    let count = 0;
    for (const p of batch) count += p.records.length;
    this.inFlight++;
    // Room is given back before the callers hear: one that appends again at once must find it free.
    const done = (): void => this.ctx.budget.release(bytes, count);
    this.evalAppend(this.scriptCalls(batch)).then(
      (firstId) => {
        done();
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
        done();
        if (isCommandTimeout(err)) dropHungConnection(this.ctx.redis, this.ctx.warn);
        const error = redisUnavailable(err, 'append');
        for (const p of batch) {
          if (p.ack === 'fast') this.lostFastRecords += p.records.length;
          p.reject(error);
        }
        if (batch.some((p) => p.ack === 'fast')) this.ctx.warn({ err: error.message, partition: this.partition }, 'redis append failed; fast-acknowledged records lost');
      },
    ).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
      else if (this.inFlight === 0) for (const w of this.drainWaiters.splice(0)) w();
    });
  }

  /** Runs the script calls of one batch; resolves with the ID of the batch's first entry. */
  private async evalAppend(calls: ScriptCall[]): Promise<string> {
    if (calls.length === 1) return (await this.ctx.redis.call('EVAL', calls[0]!)) as string;
    // One append larger than a script call: MULTI/EXEC keeps its records consecutive with other writers.
    const tx = this.ctx.redis.multi();
    for (const call of calls) tx.call('EVAL', call);
    const replies = await tx.exec();
    if (!replies) throw new Error('the append transaction was aborted');
    for (const [err] of replies) if (err) throw err;
    return replies[0]![1] as string;
  }
}
