// The public entry of the hopper package: what a processor module imports.
// Everything else under src/ is internal and may change between versions.
//
//   import { defineProcessor } from 'hopper';
//   export default defineProcessor({ async process(batch, ctx) { ... } });

export { defineProcessor, rethrowBatchSplit } from './work/types.js';
export { DecodeBudgetExceeded } from './work/decode/decode-record.js';
export type { Batch, BatchItem, MetricsHandle, ProcessContext, ProcessResult, Processor, SinkContext, SinkFactory } from './work/types.js';
export { RetriableError, isRetriable } from './work/retriable-error.js';
export { DecodeError, isDecodeError } from './work/decode/decode-error.js';
export { HopperError, isHopperError, type ErrorCode } from './errors.js';
export type { LogRecord } from './log/types.js';
// The built-in sinks and PostgreSQL's error classes, for a processor that hands its events on to a sink
// (examples/gps, examples/logs) or writes to PostgreSQL itself (examples/votes).
export { default as postgresSink, type PostgresSinkOptions } from './sinks/postgres-sink.js';
export { default as httpForwardSink, type HttpForwardSinkOptions } from './sinks/http-forward-sink.js';
export { default as statsdSink, type StatsdSinkOptions } from './sinks/statsd-sink.js';
export { default as filesSink, type FilesSinkOptions } from './sinks/files-sink.js';
export { classifyPgError, type PgFailure } from './sinks/postgres-errors.js';
