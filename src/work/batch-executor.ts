// Runs one delivery through a processor until every record is either processed
// or settled as a dead letter, or shutdown makes us abandon it (uncommitted).
//
//   1. call process(batch); success => done (items it names in `failed`, and items whose
//      events() threw even if the processor caught the error => dead letters)
//   2. it threw and some items failed to decode => those are dead letters at once,
//      the rest is retried immediately (not counted as an attempt)
//   3. it threw a retriable error (RetriableError, network errors) => retry after
//      backoff, without counting: the records are not at fault
//   4. any other error => retry after backoff, up to maxAttempts calls; then bisect:
//      each half gets one call, halving again on failure, and a single record gets
//      maxAttempts calls of its own. So a record becomes a dead letter only after it
//      failed maxAttempts times alone, and a batch with k poison records costs
//      about k * log2(n) extra calls.
//   5. the call ran past processTimeoutMs => its ctx.signal aborts; a batch is split in halves at once and
//      a single record retried after backoff, never counted: a call too slow for the limit (a large
//      batch to a slow destination) gets through in parts, and a hang, more often the destination's
//      than the records', never makes dead letters
//   6. events() found the call's decode budget (maxBatchDecodedBytes) spent => the batch is split in
//      halves at once, their decoded events dropped, each half processed on its own: no attempt counted.

import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Batch, BatchItem, ProcessContext, Processor, ProcessResult } from './types.js';
import type { Clock } from './clock.js';
import { backoffMs, type BackoffPolicy } from './backoff.js';
import { isRetriable } from './retriable-error.js';
import { thrownMessage } from './thrown-message.js';
import type { RecordItem } from './batch-item.js';
import { DecodeBudget } from './decode/decode-record.js';
import type { DeadLetterKind } from './dead-letter.js';
import type { PipelineCounters } from './worker-metrics.js';
import { HopperError } from '../errors.js';

/**
 * The errors of calls that ran past processTimeoutMs, told apart by identity: a processor may throw anything,
 * and even `instanceof` throws on a revoked Proxy.
 */
const timeouts = new WeakSet<object>();

export interface RetryPolicy extends BackoffPolicy {
  maxAttempts: number;
}

export interface ExecutorEnv {
  processor: Processor;
  ctx: ProcessContext;
  policy: RetryPolicy;
  clock: Clock;
  random: () => number;
  /** Aborted when shutdown starts: retries stop and the delivery is abandoned. */
  stopping: AbortSignal;
  counters: PipelineCounters;
  logger: Logger;
  /** Decompressed bytes one processor call may decode (at least the pipeline's maxDecodedBytes). */
  maxBatchDecodedBytes: number;
  /** Longest one processor call may run (0: no limit). */
  processTimeoutMs: number;
}

export interface SettledDeadLetter {
  item: RecordItem;
  kind: DeadLetterKind;
  code?: string;
  reason: string;
}

export type BatchOutcome = { settled: true; deadLetters: SettledDeadLetter[] } | { settled: false };

interface TryResult {
  ok: boolean;
  error?: unknown;
  /** The processor threw and items that failed to decode were taken out: retry the rest at once. */
  decodeFailures: boolean;
  /** The call's decode budget ran out: split the batch, whatever the processor did. */
  overBudget?: boolean;
  remaining: RecordItem[];
}

/**
 * The `failed` list of what process() returned. User code may return anything: a `failed` that is not an
 * array of objects ({ failed: item }, [null]) would otherwise fail with "object is not iterable" or "cannot
 * read properties of null", a reason that does not say the processor's return value is at fault. Throwing
 * here (inside the call's try) makes it a failed call like any other: retried, then dead letters whose
 * reason names the problem; nothing is committed as delivered on a result the runtime cannot read.
 */
function failedOf(result: ProcessResult | void): NonNullable<ProcessResult['failed']> {
  const failed: unknown = result?.failed;
  if (failed === undefined || failed === null) return [];
  if (Array.isArray(failed) && failed.every((f) => typeof f === 'object' && f !== null)) return failed as NonNullable<ProcessResult['failed']>;
  throw new Error('the processor returned an invalid result: "failed" must be an array of { item, reason } objects (or absent)');
}

/** Stream, partition and offset of what a processor named in `failed` (user code: any value, getters that throw). */
function placeOf(named: unknown): { stream: unknown; partition: unknown; offset: number } | null {
  try {
    if (typeof named !== 'object' || named === null) return null;
    const { stream, partition, offset } = named as Partial<BatchItem>;
    return typeof offset === 'number' ? { stream, partition, offset } : null;
  } catch {
    return null;
  }
}

/** The call's records decoded past its budget: split, whatever the processor did (one record alone always fits). */
function overBudget(items: RecordItem[]): boolean {
  return items.length > 1 && items.some((i) => i.overBudget);
}

export class BatchRun {
  readonly deadLetters: SettledDeadLetter[] = [];
  private readonly dead = new Set<RecordItem>();

  constructor(
    private readonly stream: string,
    private readonly partition: number,
    private readonly env: ExecutorEnv,
  ) {}

  async run(items: RecordItem[]): Promise<BatchOutcome> {
    const ok = await this.settle(items, this.env.policy.maxAttempts);
    return ok ? { settled: true, deadLetters: this.deadLetters } : { settled: false };
  }

  private addDead(item: RecordItem, kind: DeadLetterKind, reason: string, code?: string): void {
    if (this.dead.has(item)) return;
    this.dead.add(item);
    if (item.firstFailureAtMs === 0) item.noteFailure(this.env.clock.nowMs(), reason);
    this.deadLetters.push(code === undefined ? { item, kind, reason } : { item, kind, reason, code });
  }

  private addDecodeDead(item: RecordItem, reason?: string): void {
    const err = item.decodeError!;
    this.addDead(item, err.code === 'HOPPER_SCHEMA_INVALID' ? 'schema' : 'decode', reason ?? err.message, err.code);
  }

  /** Returns false when shutdown interrupted it. */
  private async settle(initial: RecordItem[], attemptsAllowed: number): Promise<boolean> {
    const { policy, clock, stopping, random } = this.env;
    let items = initial;
    let counted = 0;
    let retriableStreak = 0;
    for (;;) {
      if (stopping.aborted) return false;
      const r = await this.tryOnce(items, counted + retriableStreak + 1);
      items = r.remaining;
      const timedOut = typeof r.error === 'object' && r.error !== null && timeouts.has(r.error);
      // The abandoned call keeps its items: the next calls get fresh ones, whichever way they follow it.
      if (timedOut) items = items.map((i) => i.fork());
      if (r.overBudget === true && items.length > 1) return this.settleInParts(items, attemptsAllowed - counted);
      if (r.ok || items.length === 0) return true;
      if (r.decodeFailures) continue;
      // Shutdown came while it ran (a processor or sink aborted by ctx.signal, say): the failure may be the
      // abort's, not the records'. Abandoned (delivered again by the next run), never counted towards a dead letter.
      if (stopping.aborted) return false;
      if (timedOut) {
        if (items.length > 1) {
          this.env.logger.warn({ code: 'HOPPER_PROCESS_TIMEOUT', err: thrownMessage(r.error), records: items.length }, 'processor call timed out: splitting the batch in halves');
          return this.settleInParts(items, attemptsAllowed - counted);
        }
      }
      if (isRetriable(r.error)) {
        retriableStreak++;
        const code = typeof r.error === 'object' && r.error !== null && timeouts.has(r.error) ? 'HOPPER_PROCESS_TIMEOUT' : undefined;
        this.env.logger.warn({ code, err: thrownMessage(r.error), attempt: retriableStreak }, 'retriable processor failure: retrying after backoff');
        await clock.sleep(backoffMs(retriableStreak, policy, random), stopping);
        continue;
      }
      counted++;
      if (counted >= attemptsAllowed) break;
      await clock.sleep(backoffMs(counted, policy, random), stopping);
    }
    if (items.length === 1) {
      const item = items[0]!;
      this.addDead(item, 'processor', item.lastError);
      return true;
    }
    const mid = items.length >>> 1;
    for (const half of [items.slice(0, mid), items.slice(mid)]) {
      if (!(await this.settle(half, half.length === 1 ? policy.maxAttempts : 1))) return false;
    }
    return true;
  }

  /** A batch over its decode budget, or too slow for processTimeoutMs: each half on its own, the events decoded so far dropped first. */
  private async settleInParts(items: RecordItem[], attemptsAllowed: number): Promise<boolean> {
    for (const item of items) item.releaseEvents();
    const mid = items.length >>> 1;
    for (const half of [items.slice(0, mid), items.slice(mid)]) {
      // A record alone gets maxAttempts calls of its own, as in bisection: never a dead letter after fewer.
      if (!(await this.settle(half, half.length === 1 ? this.env.policy.maxAttempts : Math.max(1, attemptsAllowed)))) return false;
      for (const item of half) item.releaseEvents(); // processed: its events need not stay in memory
    }
    return true;
  }

  /**
   * One processor call, bounded by processTimeoutMs: a call awaiting what never settles (a socket without a
   * timeout, a promise nobody resolves) stalled its partition for good, with nothing in the logs. Past the limit
   * the call's ctx.signal aborts, so that a processor that listens stops, and the call fails with a retriable
   * HOPPER_PROCESS_TIMEOUT; whatever it does later is ignored (the batch is delivered again: at least once).
   */
  private async call(batch: Batch): Promise<ProcessResult | void> {
    const { processor, ctx, processTimeoutMs: limitMs } = this.env;
    if (limitMs <= 0) return processor.process(batch, ctx);
    const timeout = new AbortController();
    // Sinks add a listener per request they make: a short-lived per-call signal needs no leak warning.
    setMaxListeners(0, timeout.signal);
    const forward = (): void => timeout.abort(ctx.signal.reason);
    if (ctx.signal.aborted) forward();
    else ctx.signal.addEventListener('abort', forward, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new HopperError(
          'HOPPER_PROCESS_TIMEOUT',
          `the processor call on ${batch.items.length} record(s) did not finish within processTimeoutMs (${limitMs} ms): it was aborted (a batch is split in halves, a single record retried after a backoff); raise the pipeline's processTimeoutMs if such calls are legitimate`,
        );
        timeouts.add(err);
        timeout.abort(err);
        reject(err);
      }, limitMs);
      // A hung call must not keep the process alive after the workers stopped.
      timer.unref();
    });
    const running = Promise.resolve().then(() => processor.process(batch, { ...ctx, signal: timeout.signal }));
    running.catch(() => undefined); // a call given up on may still fail later: nobody waits for it
    try {
      return await Promise.race([running, expired]);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', forward);
    }
  }

  private async tryOnce(items: RecordItem[], attempt: number): Promise<TryResult> {
    // The processor gets its own copy of the array: one that consumes batch.items as a queue (shift, splice)
    // must not empty the list this run settles, or its records would be committed without being delivered.
    const batch: Batch = { stream: this.stream, partition: this.partition, items: items.slice(), attempt };
    const budget = new DecodeBudget(this.env.maxBatchDecodedBytes);
    for (const item of items) {
      // events() hands out its cached objects, and processors may change them in place (amount *= 100): a call
      // after a failed one decodes again from the body, so a retry never sees what the failed call left.
      if (item.calls > 0) item.releaseEvents();
      item.calls++;
      item.budget = budget;
    }
    try {
      const result = await this.call(batch);
      if (overBudget(items)) return { ok: false, decodeFailures: false, overBudget: true, remaining: items };
      // The set of the batch's items is built only when the processor named failures (rare), not per batch.
      let inBatch: Set<RecordItem> | null = null;
      let byOffset: Map<number, RecordItem> | null = null;
      for (const f of failedOf(result)) {
        inBatch ??= new Set(items);
        let item = f.item as RecordItem;
        if (!inBatch.has(item)) {
          // An object standing for a batch item (Object.create(item) overriding events() for a sink, as the gps
          // example does): it was ignored, and its record committed as delivered. Its place finds the item.
          byOffset ??= new Map(items.map((i) => [i.offset, i]));
          const place = placeOf(f.item);
          const found = place?.stream === this.stream && place.partition === this.partition ? byOffset.get(place.offset) : undefined;
          if (found === undefined) {
            this.env.logger.warn({ offset: place?.offset }, 'processor named a failed item that is not in the batch: ignored');
            continue;
          }
          item = found;
        }
        // Not only strings: `failed.push({ item, reason: err })` with the caught Error lost what went wrong.
        const given: unknown = f.reason;
        const reason =
          typeof given === 'string' && given !== ''
            ? given
            : given === undefined || given === null || given === ''
              ? 'rejected by the processor'
              : typeof given === 'object'
                ? thrownMessage(given)
                : String(given); // a code given as a number: the reason as given, nothing was thrown
        if (item.decodeError) this.addDecodeDead(item, reason);
        else this.addDead(item, 'rejected', reason);
      }
      // A record whose events() threw is a dead letter whatever the processor did with the error: one that
      // caught it and returned must not get the record committed as if it had been delivered.
      for (const item of items) {
        if (item.decodeError !== null) this.addDecodeDead(item);
      }
      return { ok: true, decodeFailures: false, remaining: items };
    } catch (error) {
      if (overBudget(items)) return { ok: false, error, decodeFailures: false, overBudget: true, remaining: items };
      this.env.counters.failures++;
      const undecodable = items.filter((i) => i.decodeError !== null);
      if (undecodable.length > 0) {
        for (const item of undecodable) this.addDecodeDead(item);
        return { ok: false, error, decodeFailures: true, remaining: items.filter((i) => i.decodeError === null) };
      }
      const now = this.env.clock.nowMs();
      const text = thrownMessage(error);
      for (const item of items) item.noteFailure(now, text);
      return { ok: false, error, decodeFailures: false, remaining: items };
    }
  }
}
