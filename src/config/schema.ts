// The configuration's shape, defaults and limits, as one JSON schema (validated
// by ajv in load-config.ts) plus the matching TypeScript types. Every limit has
// its unit in its name. Unknown keys are rejected.

import type { AckLevel } from '../log/types.js';

export interface StreamConfig {
  /** Ack level used when the request does not ask for one. */
  ack: AckLevel;
  /** Weakest level a request may ask for with Hopper-Ack. */
  minAck: AckLevel;
  /** Bearer keys allowed to write; empty = no key needed. */
  writeKeys: string[];
  /** Origins allowed by CORS ("*" for any). Empty = no CORS headers. */
  corsOrigins: string[];
  /** Requests per second allowed per write key (or per client address without keys); 0 = unlimited. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  retentionMaxAgeMs: number;
  retentionMaxBytes: number;
  /** Optional JSON Schema each decoded event must satisfy (checked by workers, never at ingest). */
  schema?: Record<string, unknown>;
}

export interface PipelineConfig {
  /** Default: "{stream}.{processor}" (processor = sink name or module file name). */
  name?: string;
  stream: string;
  /** Default: the processor's name ("files", or the module file name). */
  group?: string;
  /** "files" | "noop" | "postgres" | "statsd" | "http" for built-in sinks, or a path to a module exporting defineProcessor(). */
  processor: string;
  /** Options handed to the sink or processor. */
  options: Record<string, unknown>;
  batchMaxRecords: number;
  batchMaxWaitMs: number;
  concurrency: number;
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxDecodedBytes: number;
  /** Decompressed bytes one processor call may decode over its records (at least maxDecodedBytes); past it the batch is split. */
  maxBatchDecodedBytes: number;
  /** Longest a processor call may run before it is aborted and retried (0: no limit). */
  processTimeoutMs: number;
  /** Deliveries of a record never finished (its worker crashed, was stopped or lost its lease) before it is a dead letter (0: no limit). */
  maxDeliveries: number;
}

export interface HopperConfig {
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  log: {
    backend: string;
    embedded: {
      segmentMaxBytes: number;
      indexIntervalBytes: number;
      flushIntervalMs: number;
      maxBatchBytes: number;
      maxPendingBytes: number;
      maxPendingRecords: number;
      writtenFsyncIntervalMs: number;
      minFsyncIntervalMs: number;
      retentionCheckIntervalMs: number;
    };
    redis: {
      url: string;
      keyPrefix: string;
      connectTimeoutMs: number;
      commandTimeoutMs: number;
      maxBatchBytes: number;
      maxPendingBytes: number;
      maxPendingRecords: number;
      retentionCheckIntervalMs: number;
    };
    nats: {
      servers: string;
      replicas: number;
      subjectPrefix: string;
      connectTimeoutMs: number;
      requestTimeoutMs: number;
      maxPendingBytes: number;
      maxPendingRecords: number;
    };
  };
  ingest: {
    host: string;
    port: number;
    socket: string;
    /** Processes; 0 = one per CPU. */
    workers: number;
    maxBodyBytes: number;
    maxPendingBytes: number;
    softPendingBytes: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxHeaderBytes: number;
    maxConnections: number;
    /** The HTTP/1.1 server on the ingest path: Hopper's own engine (src/ingest/http1), or node:http. */
    httpEngine: 'hopper' | 'node';
    /** false, true (trust every hop), or the number of trusted proxy hops. */
    trustProxy: boolean | number;
    autoCreateStreams: boolean;
    maxStreams: number;
    minFreeDiskBytes: number;
    shutdownTimeoutMs: number;
  };
  /** Settings for streams created on first write. */
  defaultStream: StreamConfig;
  streams: Record<string, Partial<StreamConfig>>;
  pipelines: PipelineConfig[];
  work: {
    leaseTimeoutMs: number;
    shutdownTimeoutMs: number;
    /** With no pipelines configured, how often new streams are looked for (each gets the default files pipeline). */
    streamDiscoveryIntervalMs: number;
  };
  admin: { enabled: boolean; host: string; port: number; token: string };
}

const ackEnum = { type: 'string', enum: ['durable', 'written', 'fast'] } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
/**
 * Longest wait setTimeout and setInterval take (2^31 - 1 ms, 24.8 days): past it Node fires the timer after
 * 1 ms, so a "wait for ever" shutdownTimeoutMs of 3e9 abandoned every running batch at once, and a
 * retentionCheckIntervalMs of 3e9 ran retention every millisecond. Every *Ms setting that a timer waits is capped by it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Most bytes node:zlib may produce in one call (its maxOutputLength, buffer.constants.MAX_LENGTH on Node 20):
 * a larger maxDecodedBytes made every gzip, deflate and br body a HOPPER_DECODED_TOO_LARGE dead letter.
 */
export const MAX_DECODED_BYTES = 2 ** 32;

/**
 * A CORS origin as browsers send it in the Origin header (scheme://host[:port], lowercase, no path), "*" or
 * "null". An entry with a trailing slash, a path, capitals or a wildcard in the host never equals an Origin
 * header: its stream refused every browser write, and nothing said why.
 */
const corsOrigin = {
  type: 'string',
  pattern: '^(?:\\*|null|[a-z][a-z0-9+.-]*://(?:[a-z0-9_-]+(?:\\.[a-z0-9_-]+)*\\.?|\\[[0-9a-f:.]+\\])(?::[0-9]{1,5})?)$',
  title: 'an origin as browsers send it, such as "https://app.example" or "http://localhost:3000" (lowercase, no path, no trailing slash, no wildcard), or "*" for any',
} as const;

/**
 * An address to listen on. Not "": Node reads an empty host as none and listens on every interface, so
 * `--host "$HOST"` with HOST unset put the server (or the admin API) on the network, its start line saying http://:8080.
 */
const listenHost = {
  type: 'string',
  minLength: 1,
  title: 'a host name or IP address to listen on (0.0.0.0 or :: for every interface)',
  default: '127.0.0.1',
} as const;

const streamProps = {
  ack: { ...ackEnum, default: 'durable' },
  minAck: { ...ackEnum, default: 'fast' },
  writeKeys: { type: 'array', items: { type: 'string', minLength: 8 }, default: [] },
  corsOrigins: { type: 'array', items: corsOrigin, default: [] },
  rateLimitPerSecond: { ...nonNegInt, default: 0 },
  rateLimitBurst: { ...nonNegInt, default: 0 },
  retentionMaxAgeMs: { ...nonNegInt, default: 7 * 24 * 3600 * 1000 },
  retentionMaxBytes: { ...nonNegInt, default: 0 },
  schema: { type: 'object' },
} as const;

/** Per-stream overrides carry no defaults: a key a stream leaves out inherits defaultStream's value. */
const streamOverrideProps: Record<string, unknown> = {};
for (const [key, spec] of Object.entries(streamProps)) {
  const copy: Record<string, unknown> = { ...spec };
  delete copy.default;
  streamOverrideProps[key] = copy;
}

function obj(properties: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'object', additionalProperties: false, properties, default: {}, ...extra };
}

export const CONFIG_SCHEMA = obj({
  dataDir: { type: 'string', minLength: 1, default: './data' },
  logLevel: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
  log: obj({
    backend: { type: 'string', enum: ['embedded', 'redis', 'nats'], default: 'embedded' },
    embedded: obj({
      segmentMaxBytes: { type: 'integer', minimum: 4096, maximum: 2 ** 31, default: 128 * 1024 * 1024 },
      indexIntervalBytes: { type: 'integer', minimum: 256, maximum: 1 << 20, default: 4096 },
      flushIntervalMs: { type: 'number', minimum: 0, maximum: 1000, default: 0 },
      // An fdatasync starts after each write: a smaller write lets the rest of a large queue be encoded and
      // written while it runs (bench:log, 2000 appenders: 256 KiB +15-25% records/s against 4 MiB; 64 KiB fell behind).
      maxBatchBytes: { type: 'integer', minimum: 4096, maximum: 256 * 1024 * 1024, default: 256 * 1024 },
      maxPendingBytes: { type: 'integer', minimum: 4096, default: 64 * 1024 * 1024 },
      maxPendingRecords: { ...posInt, default: 200_000 },
      writtenFsyncIntervalMs: { ...posInt, maximum: MAX_TIMER_MS, default: 1000 },
      minFsyncIntervalMs: { type: 'number', minimum: 0, maximum: 100, default: 0.5 },
      retentionCheckIntervalMs: { ...posInt, maximum: MAX_TIMER_MS, default: 60_000 },
    }),
    redis: obj({
      url: { type: 'string', default: 'redis://127.0.0.1:6379' },
      keyPrefix: { type: 'string', default: 'hopper:' },
      connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
      commandTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
      maxBatchBytes: { type: 'integer', minimum: 4096, maximum: 256 * 1024 * 1024, default: 4 * 1024 * 1024 },
      maxPendingBytes: { type: 'integer', minimum: 4096, default: 64 * 1024 * 1024 },
      maxPendingRecords: { ...posInt, default: 200_000 },
      retentionCheckIntervalMs: { ...posInt, maximum: MAX_TIMER_MS, default: 60_000 },
    }),
    nats: obj({
      servers: { type: 'string', default: '127.0.0.1:4222' },
      replicas: { type: 'integer', minimum: 1, maximum: 5, default: 1 },
      subjectPrefix: { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$', default: 'hopper' },
      connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
      requestTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
      maxPendingBytes: { type: 'integer', minimum: 4096, default: 64 * 1024 * 1024 },
      maxPendingRecords: { ...posInt, default: 200_000 },
    }),
  }),
  ingest: obj({
    host: listenHost,
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    socket: { type: 'string', default: '' },
    workers: { ...nonNegInt, maximum: 256, default: 0 },
    maxBodyBytes: { type: 'integer', minimum: 1, maximum: 256 * 1024 * 1024, default: 1024 * 1024 },
    maxPendingBytes: { type: 'integer', minimum: 4096, default: 64 * 1024 * 1024 },
    softPendingBytes: { ...nonNegInt, default: 48 * 1024 * 1024 },
    headersTimeoutMs: { ...posInt, maximum: MAX_TIMER_MS, default: 10_000 },
    requestTimeoutMs: { ...posInt, maximum: MAX_TIMER_MS, default: 30_000 },
    keepAliveTimeoutMs: { ...posInt, maximum: MAX_TIMER_MS, default: 5_000 },
    maxHeaderBytes: { type: 'integer', minimum: 1024, maximum: 1024 * 1024, default: 16 * 1024 },
    maxConnections: { ...posInt, default: 10_000 },
    httpEngine: { type: 'string', enum: ['hopper', 'node'], default: 'hopper' },
    trustProxy: { anyOf: [{ type: 'boolean' }, nonNegInt], default: false },
    autoCreateStreams: { type: 'boolean', default: true },
    maxStreams: { ...posInt, default: 1000 },
    minFreeDiskBytes: { ...nonNegInt, default: 256 * 1024 * 1024 },
    shutdownTimeoutMs: { ...posInt, maximum: MAX_TIMER_MS, default: 10_000 },
  }),
  defaultStream: obj(streamProps),
  streams: {
    type: 'object',
    default: {},
    propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$', not: { enum: ['.', '..'] } },
    additionalProperties: { type: 'object', additionalProperties: false, properties: streamOverrideProps },
  },
  pipelines: {
    type: 'array',
    default: [],
    items: obj(
      {
        name: { type: 'string', minLength: 1 },
        stream: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
        group: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
        processor: { type: 'string', minLength: 1, default: 'files' },
        options: { type: 'object', default: {} },
        batchMaxRecords: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
        batchMaxWaitMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 100 },
        concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
        initialBackoffMs: { ...posInt, maximum: MAX_TIMER_MS, default: 100 },
        maxBackoffMs: { ...posInt, maximum: MAX_TIMER_MS, default: 30_000 },
        maxDecodedBytes: { ...posInt, maximum: MAX_DECODED_BYTES, default: 64 * 1024 * 1024 },
        maxBatchDecodedBytes: { ...posInt, default: 64 * 1024 * 1024 },
        processTimeoutMs: { type: 'integer', minimum: 0, maximum: MAX_TIMER_MS, default: 60_000 },
        maxDeliveries: { type: 'integer', minimum: 0, maximum: 1000, default: 5 },
      },
      { required: ['stream'] },
    ),
  },
  work: obj({
    leaseTimeoutMs: { type: 'integer', minimum: 100, maximum: MAX_TIMER_MS, default: 10_000 },
    shutdownTimeoutMs: { ...posInt, maximum: MAX_TIMER_MS, default: 10_000 },
    streamDiscoveryIntervalMs: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 1000 },
  }),
  admin: obj({
    enabled: { type: 'boolean', default: true },
    host: listenHost,
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8081 },
    // It travels in an Authorization header, whose value is Latin-1 without control characters (fetch refuses
    // others, so the dashboard and `hopper status` could never send it) and whose surrounding spaces are not part
    // of it ("secret\r" from an env file with CRLF lines): such a token locked every client out.
    token: {
      type: 'string',
      pattern: '^(?:[!-~\\u0080-\\u009f\\u00a1-\\u00ff](?:[\\t -~\\u0080-\\u00ff]*[!-~\\u0080-\\u009f\\u00a1-\\u00ff])?)?$',
      title: 'a token that fits an Authorization header: no control characters, nothing beyond Latin-1, no spaces around it',
      default: '',
    },
  }),
});
