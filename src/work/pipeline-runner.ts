// Runs one pipeline: a consumer-group member fetching deliveries, up to
// `concurrency` batches processing at once (and a few more committing, or, on a log
// whose commits move a position, waiting for an earlier batch of their partition to
// be done before they commit), each batch
// settled by BatchRun, dead letters written before the commit. At least once:
// a delivery is committed only after it is processed or dead-lettered, so after
// a crash at most the batches in flight ((concurrency + COMMIT_WINDOW_BATCHES) x
// batchMaxRecords records) are processed again.
//
// A delivery of records delivered before and never finished (Delivery.redeliveries: the worker that had them
// crashed, was stopped, or lost its lease) runs alone: once the batches before it are committed, with nothing
// beside it, and committed before the next fetch. A record that brings its worker down then does so alone, and
// the log counts it; past maxDeliveries it becomes a dead letter without another call.
//
// Shutdown (stop): no more fetches; batches waiting for a retry are abandoned at
// once; running batches get until shutdownTimeoutMs, then ctx.signal fires and
// they are abandoned; abandoned batches are never committed (redelivered later).
// The processor's stop() gets shutdownTimeoutMs as well: past it the pipeline
// stops without waiting for it (a pool end waiting on a stuck query, say).

import { defaultMaxListeners, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Delivery, Log, LogConsumer } from '../log/types.js';
import type { ProcessContext, Processor } from './types.js';
import type { Clock } from './clock.js';
import type { ResolvedPipeline } from './pipeline-config.js';
import type { DecodeSettings } from './decode/decode-record.js';
import type { DeadLetterWriter } from './dead-letter-writer.js';
import type { WorkerMetrics, PipelineCounters } from './worker-metrics.js';
import { RecordItem } from './batch-item.js';
import { BatchRun, type BatchOutcome, type SettledDeadLetter } from './batch-executor.js';
import { encodeDeadLetter, withoutBody, type DeadLetterInfo } from './dead-letter.js';
import { isHopperError } from '../errors.js';
import { backoffMs } from './backoff.js';
import { ERROR_LINE_INTERVAL_MS, ThrottledErrorLog } from '../observe/throttled-error-log.js';

/** How long one fetch waits for records before the loop looks at its stop flag again. */
const FETCH_WAIT_MS = 500;
/** Pause after a failed fetch (backend down), so the loop does not spin. */
const FETCH_ERROR_PAUSE_MS = 1000;
/**
 * Processed batches that may wait for their position write at once, besides the
 * `concurrency` being processed. A position write costs an fsync (a few ms, far more
 * on a busy disk): the window keeps fetching while writes are in progress.
 */
export const COMMIT_WINDOW_BATCHES = 8;
/**
 * Abort listeners one running batch may hold on a pipeline's signals at once (its retry wait, its call's timeout
 * signal forwarding ctx.signal, a sink's own when there is no timeout), and the fetch loop (its fetch and its wait).
 */
const SIGNAL_LISTENERS_PER_BATCH = 3;
const SIGNAL_LISTENERS_OF_FETCH_LOOP = 2;

export interface RunnerDeps {
  log: Log;
  logger: Logger;
  metrics: WorkerMetrics;
  clock: Clock;
  random: () => number;
  deadLetters: DeadLetterWriter;
  decode: DecodeSettings;
  consumerName: string;
  leaseTimeoutMs: number;
  shutdownTimeoutMs: number;
  /** Called when the pipeline stops for good because of a bug (possibly more than once: one per failing batch). */
  onFatal: (err: Error) => void;
}

export class PipelineRunner {
  private readonly stopping = new AbortController();
  private readonly deadline = new AbortController();
  private readonly processing = new Set<Promise<void>>();
  private readonly committing = new Set<Promise<void>>();
  /**
   * Per partition, settled once its last fetched delivery is committed or given up: a batch's commit waits for the
   * ones before it. Committed at once, it did not move the position past an unfinished batch and left the window,
   * so the runner went on processing batches that a crash would all deliver again. Only where commits are in order.
   */
  private readonly partitionTails = new Map<number, Promise<void>>();
  /**
   * Commits waiting for the batches before them, let go at the shutdown deadline (those may be abandoned). A set of
   * the waiting ones, not a race with one promise per pipeline: every race would stay attached to it until then.
   */
  private readonly waitingForEarlier = new Set<() => void>();
  private wake: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();
  private abandonAll = false;
  private stopped: Promise<void> | null = null;
  private readonly counters: PipelineCounters;
  private readonly redeliveryLines: ThrottledErrorLog;
  readonly ctx: ProcessContext;
  private readonly logger: Logger;

  private constructor(
    readonly pipeline: ResolvedPipeline,
    private readonly processor: Processor,
    private readonly consumer: LogConsumer,
    private readonly deps: RunnerDeps,
  ) {
    this.logger = deps.logger.child({ pipeline: pipeline.name });
    this.counters = deps.metrics.pipeline(pipeline.name);
    this.redeliveryLines = new ThrottledErrorLog(this.logger, ERROR_LINE_INTERVAL_MS, undefined, 'warn');
    this.ctx = {
      logger: this.logger,
      metrics: deps.metrics.handle(pipeline.name),
      signal: this.deadline.signal,
      pipeline: pipeline.name,
      options: pipeline.options,
    };
    // Every running batch may listen on both at once (its retry wait on `stopping`, a sink's requests and waits on
    // ctx.signal), the fetch loop on `stopping` besides: past Node's default of 10, a pipeline with concurrency over
    // 10 printed "Possible EventTarget memory leak detected" whenever its batches waited together (a database down).
    const listeners = Math.max(defaultMaxListeners, SIGNAL_LISTENERS_PER_BATCH * pipeline.concurrency + SIGNAL_LISTENERS_OF_FETCH_LOOP);
    setMaxListeners(listeners, this.stopping.signal, this.deadline.signal);
  }

  static async start(pipeline: ResolvedPipeline, processor: Processor, deps: RunnerDeps): Promise<PipelineRunner> {
    const consumer = await deps.log.openConsumer({
      group: pipeline.group,
      stream: pipeline.stream,
      consumerName: deps.consumerName,
      leaseTimeoutMs: deps.leaseTimeoutMs,
    });
    const runner = new PipelineRunner(pipeline, processor, consumer, deps);
    try {
      await processor.start?.(runner.ctx);
    } catch (err) {
      await consumer.close().catch(() => undefined);
      throw err;
    }
    runner.loop = runner.fetchLoop().catch((err: Error) => runner.fatal(err));
    runner.logger.info({ stream: pipeline.stream, group: pipeline.group, processor: pipeline.processor }, 'pipeline started');
    return runner;
  }

  /** The runtime logs it: at fatal level under hopper work (which exits), at error level when it restarts the pipeline. */
  private fatal(err: Error): void {
    this.stopping.abort();
    this.notify();
    this.deps.onFatal(err);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async waitForSlot(): Promise<void> {
    const { concurrency } = this.pipeline;
    while ((this.processing.size >= concurrency || this.committing.size >= COMMIT_WINDOW_BATCHES) && !this.stopping.signal.aborted) {
      // stop() and fatal() call notify() after aborting, so no abort listener is needed here.
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private track(set: Set<Promise<void>>, task: Promise<void>): void {
    set.add(task);
    void task.finally(() => {
      set.delete(task);
      this.notify();
    });
  }

  private async fetchLoop(): Promise<void> {
    const { batchMaxRecords, batchMaxWaitMs } = this.pipeline;
    const signal = this.stopping.signal;
    // Partitions deliveries came from (bounded by the stream's partitions), and short deliveries since the last full one.
    const partitionsSeen = new Set<number>();
    let shortInRow = 0;
    while (!signal.aborted) {
      await this.waitForSlot();
      if (signal.aborted) break;
      let delivery: Delivery | null;
      try {
        delivery = await this.consumer.fetch(batchMaxRecords, FETCH_WAIT_MS, signal);
      } catch (err) {
        this.logger.error({ err }, 'fetch failed: retrying');
        await this.deps.clock.sleep(FETCH_ERROR_PAUSE_MS, signal);
        continue;
      }
      // A delivery fetched while stopping is left uncommitted: it is redelivered.
      if (!delivery || signal.aborted) continue;
      const alone = delivery.redeliveries > 0;
      if (alone) {
        await this.waitForIdle();
        if (signal.aborted) continue;
        // At most a line a second (with a count of the ones it stands for): after a second death the records come
        // one by one, thousands of them.
        this.redeliveryLines.error(
          { partition: delivery.partition, offset: delivery.records[0]?.offset, records: delivery.records.length, redeliveries: delivery.redeliveries },
          'record delivered again, never finished before (its worker crashed, was stopped, or lost its lease): processing it alone',
        );
      }
      // Only a commit that moves a position (embedded) waits for the batches before it: one acknowledged on its own
      // (redis, nats) is not delivered again, and held back it stopped every partition behind one slow batch.
      const inOrder = this.consumer.commitsInOrder;
      const before = inOrder ? (this.partitionTails.get(delivery.partition) ?? Promise.resolve()) : Promise.resolve();
      let settle!: () => void;
      const tail = new Promise<void>((resolve) => (settle = resolve));
      if (inOrder) this.partitionTails.set(delivery.partition, tail);
      this.track(
        this.processing,
        this.handle(delivery, before, settle).catch((err: Error) => {
          void before.then(settle);
          this.fatal(err);
        }),
      );
      // A short batch means the log is nearly drained: let records gather for the next one. Not while another
      // partition may still be behind: consumers take partitions in turn, so one partition's backlog comes between
      // the short batches of the others, and a wait after each of those drained it 40 times slower (20,000
      // records, 3 partitions trickling: 6 s instead of 0.13). So wait once every partition in turn gave a short one.
      partitionsSeen.add(delivery.partition);
      shortInRow = isShort(delivery, batchMaxRecords) ? shortInRow + 1 : 0;
      if (shortInRow >= partitionsSeen.size && batchMaxWaitMs > 0) await this.deps.clock.sleep(batchMaxWaitMs, signal);
      if (alone) await this.waitForIdle(); // processed and committed before anything else is fetched
    }
  }

  /** Until no batch is processing or committing (or the pipeline stops). */
  private async waitForIdle(): Promise<void> {
    while ((this.processing.size > 0 || this.committing.size > 0) && !this.stopping.signal.aborted) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** `before` settles once the partition's earlier deliveries are committed or given up; `settle` says this one is. */
  private async handle(delivery: Delivery, before: Promise<void>, settle: () => void): Promise<void> {
    const started = performance.now();
    const items = delivery.records.map((r) => new RecordItem(r, this.deps.decode));
    const run = new BatchRun(delivery.stream, delivery.partition, {
      processor: this.processor,
      ctx: this.ctx,
      policy: this.pipeline,
      clock: this.deps.clock,
      random: this.deps.random,
      stopping: this.stopping.signal,
      counters: this.counters,
      logger: this.logger,
      maxBatchDecodedBytes: Math.max(this.pipeline.maxBatchDecodedBytes, this.pipeline.maxDecodedBytes),
      processTimeoutMs: this.pipeline.processTimeoutMs,
    });
    const { maxDeliveries } = this.pipeline;
    const outcome = maxDeliveries > 0 && delivery.redeliveries >= maxDeliveries ? this.overDelivered(items, delivery.redeliveries) : await run.run(items);
    if (!outcome.settled || !(await this.writeDeadLetters(delivery.stream, outcome.deadLetters)) || this.abandonAll) {
      this.counters.abandoned++;
      void before.then(settle);
      return;
    }
    // Events of the records processed; a dead letter's events were not (its decode failed, or the processor refused them).
    let events = 0;
    for (const item of items) events += item.decodedEvents;
    for (const d of outcome.deadLetters) events -= d.item.decodedEvents;
    this.deps.metrics.observeBatch(this.pipeline.name, delivery.records.length, events, performance.now() - started);
    // Waiting for the batches before it (at most until the shutdown deadline), it stays in the commit window. Once
    // handed to the consumer, the next one may follow: position writes still coalesce, as without the wait.
    const commit = this.afterEarlier(before)
      .then(() => {
        const written = this.consumer.commit(delivery);
        settle();
        return written;
      })
      .catch((err: Error) => this.logger.error({ err, partition: delivery.partition }, 'commit failed: the batch may be delivered again (the embedded log writes the position again at its next lease renewal)'))
      .finally(settle);
    this.track(this.committing, commit);
  }

  /** Dead letters for records delivered maxDeliveries times and never finished: no call again, it may bring the worker down. */
  private overDelivered(items: RecordItem[], redeliveries: number): BatchOutcome {
    const nowMs = this.deps.clock.nowMs();
    const reason =
      `delivered ${redeliveries} times before and never finished (pipeline maxDeliveries ${this.pipeline.maxDeliveries}): the worker ` +
      'processing it crashed, was killed or stopped, or lost its lease each time; not processed again';
    return {
      settled: true,
      deadLetters: items.map((item) => {
        item.calls = redeliveries;
        item.noteFailure(nowMs, reason);
        return { item, kind: 'redelivery', code: 'HOPPER_REDELIVERY_LIMIT', reason };
      }),
    };
  }

  /** Settles with `before`, or at the shutdown deadline. */
  private afterEarlier(before: Promise<void>): Promise<void> {
    if (this.deadline.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waitingForEarlier.add(resolve);
      void before.then(() => {
        this.waitingForEarlier.delete(resolve);
        resolve();
      });
    });
  }

  /** Returns false when shutdown came before the dead letters could be stored. */
  private async writeDeadLetters(stream: string, letters: SettledDeadLetter[]): Promise<boolean> {
    if (letters.length === 0) return true;
    const nowUs = this.deps.clock.nowMs() * 1000;
    const records = letters.map((d) => encodeDeadLetter(this.deadLetterInfo(d), d.item.record.body, nowUs));
    const omitted = new Set<number>();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.deadLetters.write(stream, records);
        break;
      } catch (err) {
        if (isHopperError(err, 'HOPPER_BODY_TOO_LARGE')) {
          // Permanent: retrying the same letters would block the partition for good. The largest letter
          // still holding its body drops it (the source stream keeps the original until its retention).
          const largest = records.reduce((best, r, i) => (!omitted.has(i) && (best < 0 || r.body.length > records[best]!.body.length) ? i : best), -1);
          if (largest >= 0) {
            records[largest] = withoutBody(records[largest]!);
            omitted.add(largest);
            this.logger.warn({ offset: letters[largest]!.item.offset, bytes: letters[largest]!.item.record.body.length }, 'a dead letter is too large for the dead-letter stream: stored without the original body');
            continue;
          }
        }
        this.logger.error({ err, attempt }, 'cannot write dead letters: retrying (the batch stays uncommitted)');
        if (this.stopping.signal.aborted) return false;
        await this.deps.clock.sleep(backoffMs(attempt, this.pipeline, this.deps.random), this.stopping.signal);
        if (this.stopping.signal.aborted) return false;
      }
    }
    this.counters.deadLetters += letters.length;
    // One line per batch, not per record: a flood of bad input must not flood the log.
    const first = letters[0]!;
    this.logger.warn(
      { count: letters.length, partition: first.item.partition, firstOffset: first.item.offset, kind: first.kind, reason: first.reason },
      'records sent to the dead-letter stream (hopper dlq list --stream ' + stream + ')',
    );
    return true;
  }

  private deadLetterInfo(d: SettledDeadLetter): DeadLetterInfo {
    const r = d.item.record;
    const info: DeadLetterInfo = {
      v: 1,
      stream: r.stream,
      partition: r.partition,
      offset: r.offset,
      receivedAtUs: r.receivedAtUs,
      contentType: r.contentType,
      contentEncoding: r.contentEncoding,
      remoteAddress: r.remoteAddress,
      requestId: r.requestId,
      idempotencyKey: r.idempotencyKey,
      pipeline: this.pipeline.name,
      group: this.pipeline.group,
      kind: d.kind,
      reason: d.reason,
      attempts: d.item.calls,
      firstFailureAtMs: d.item.firstFailureAtMs,
      lastFailureAtMs: d.item.lastFailureAtMs,
    };
    if (d.code !== undefined) info.code = d.code;
    return info;
  }

  /** processor.stop(), for at most shutdownTimeoutMs: a stop() that hangs must not keep the process from exiting. */
  private async stopProcessor(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.deps.shutdownTimeoutMs)));
    try {
      const stopped = Promise.resolve().then(() => this.processor.stop?.(this.ctx));
      if ((await Promise.race([stopped, timedOut])) === 'timeout') {
        this.logger.warn({ timeoutMs: this.deps.shutdownTimeoutMs }, 'processor stop() did not return within work.shutdownTimeoutMs: stopping without it');
      }
    } catch (err) {
      this.logger.error({ err }, 'processor stop() failed');
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops fetching, lets running batches finish until the deadline, commits what finished, closes. A second call
   * (a stop during the runtime's start, then the runtime's stop) waits for the first: processor.stop() runs once.
   */
  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.stopping.abort();
    this.notify();
    await this.loop;
    if (this.processing.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.deps.shutdownTimeoutMs)));
      await Promise.race([Promise.allSettled([...this.processing]), deadline]);
      clearTimeout(timer);
    }
    if (this.processing.size > 0) {
      this.logger.warn({ batches: this.processing.size }, 'shutdown deadline reached: abandoning running batches (they will be redelivered)');
    }
    this.abandonAll = true;
    this.deadline.abort();
    for (const release of this.waitingForEarlier) release();
    this.waitingForEarlier.clear();
    await Promise.allSettled([...this.committing]);
    await this.stopProcessor();
    this.redeliveryLines.flush();
    await this.consumer.close();
    this.logger.info('pipeline stopped');
  }
}

/**
 * Below this many body bytes, a delivery with fewer records than asked for is short: the log is nearly drained.
 * Above it, the log's byte limit cut it (16 MiB embedded and Redis, 8 MiB a NATS pull): a backlog of large records,
 * which a batchMaxWaitMs wait after every delivery slowed down for nothing.
 */
const SHORT_DELIVERY_MAX_BYTES = 4 * 1024 * 1024;

function isShort(delivery: Delivery, batchMaxRecords: number): boolean {
  if (delivery.records.length >= batchMaxRecords) return false;
  let bytes = 0;
  for (const r of delivery.records) bytes += r.body.length;
  return bytes < SHORT_DELIVERY_MAX_BYTES;
}
