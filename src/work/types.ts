// The public types of the worker runtime: what a processor (user module or
// built-in sink) receives and returns. Shipped in the package's .d.ts so a
// user's editor completes them. Implementations live beside this file.

import { DecodeBudgetExceeded } from './decode/decode-record.js';
import type { Logger } from 'pino';
import type { LogRecord } from '../log/types.js';

/** One stored record as a processor sees it. */
export interface BatchItem {
  stream: string;
  partition: number;
  offset: number;
  /** Microseconds since the Unix epoch, as stored at ingest. */
  receivedAtUs: number;
  receivedAt: Date;
  contentType: string;
  contentEncoding: string;
  remoteAddress: string;
  requestId: string;
  /** Empty string when the client sent none. */
  idempotencyKey: string;
  /** The raw body bytes exactly as received: this item's own copy (changing it changes neither the record nor its dead letter). */
  body: Buffer;
  /**
   * The decoded events (decoded on first call, then cached for this processor call; a retry decodes
   * again, so changes made to them by a failed call are not seen by the next): JSON object or array,
   * NDJSON lines, form fields, or text lines, after gzip/deflate/br decompression,
   * each checked against the stream's JSON Schema when one is configured.
   * Throws a DecodeError for bodies that cannot be decoded (the runtime sends
   * those to the dead-letter stream without retries), and DecodeBudgetExceeded when
   * the call's records decode past maxBatchDecodedBytes: a processor that catches
   * errors of events() rethrows that one (`rethrowBatchSplit(err)`), since the runtime
   * splits the batch and calls it again with each half, whatever this call wrote.
   */
  events(): unknown[];
  /** The record as stored in the log. */
  readonly record: LogRecord;
}

export interface Batch {
  stream: string;
  partition: number;
  items: BatchItem[];
  /** 1 on the first attempt. */
  attempt: number;
}

/** Counters, gauges and histograms a processor or sink reports; they show in /metrics. */
export interface MetricsHandle {
  increment(name: string, value?: number, labels?: Record<string, string>): void;
  gauge(name: string, value: number, labels?: Record<string, string>): void;
  observe(name: string, value: number, labels?: Record<string, string>): void;
}

export interface ProcessContext {
  logger: Logger;
  metrics: MetricsHandle;
  /**
   * Fires when the worker shuts down and the shutdown deadline (work.shutdownTimeoutMs)
   * is reached, or when this call runs past the pipeline's processTimeoutMs: stop early,
   * the batch is not committed and will be delivered again.
   */
  signal: AbortSignal;
  pipeline: string;
  /** Options from the pipeline's config. */
  options: Record<string, unknown>;
}

/**
 * What a processor reports back. Returning nothing (or { failed: [] }) means the
 * whole batch is done. A processor may name items that failed for good (a bad
 * row, an invalid metric): those go to the dead-letter stream with the reason,
 * and the rest of the batch is committed. Throwing means "retry the whole batch";
 * throw an error with `retriable: true` (see RetriableError) when the records are
 * not at fault (a database down): such errors are retried until they stop, and
 * never send records to the dead-letter stream.
 */
export interface ProcessResult {
  failed?: { item: BatchItem; reason: string }[];
}

export interface Processor {
  /**
   * Called once before the first batch (open pools, create tables). When `hopper serve --with-workers`
   * restarts a pipeline after an unexpected error, stop() then start() run again: on the same object
   * for a module that exports one, on a new one for a module that exports a factory.
   */
  start?(ctx: ProcessContext): Promise<void> | void;
  process(batch: Batch, ctx: ProcessContext): Promise<ProcessResult | void> | ProcessResult | void;
  /** Called once at shutdown, after the last batch. */
  stop?(ctx: ProcessContext): Promise<void> | void;
}

/** Declares a processor module: `export default defineProcessor({ async process(batch, ctx) { ... } })`. */
export function defineProcessor<P extends Processor>(processor: P): P {
  return processor;
}

/** What a built-in sink learns about where it runs, besides its options. */
export interface SinkContext {
  /** The data directory of this Hopper (the files sink writes under it by default). */
  dataDir: string;
  pipeline: string;
  stream: string;
  group: string;
}

/**
 * A built-in sink is a processor made from its options. It validates them at
 * once and throws HopperError('HOPPER_CONFIG_INVALID', ...) naming the bad key.
 */
export type SinkFactory = (options: Record<string, unknown>, context: SinkContext) => Processor;

/**
 * In a processor's catch around item.events(): rethrows the signal that the batch is split for its decode
 * budget (nothing this call does counts then), and returns for any other error (the record's own fault).
 */
export function rethrowBatchSplit(err: unknown): void {
  if (err instanceof DecodeBudgetExceeded) throw err;
}
