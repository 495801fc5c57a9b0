// The one error catalog: every error Hopper reports has a stable code, an HTTP
// status where it applies, whether retrying can help, and a message that says
// what to do. test/errors.test.ts checks that every code is documented in README.

import { DEAD_LETTER_SUFFIX } from './log/types.js';

export interface ErrorSpec {
  status: number;
  retriable: boolean;
  /** Default message; call sites may pass a more specific one. */
  message: string;
}

export const ERRORS = {
  HOPPER_CONFIG_INVALID: { status: 500, retriable: false, message: 'The configuration is invalid: fix the named key.' },
  HOPPER_USAGE: { status: 400, retriable: false, message: 'Invalid command line: run with --help for usage.' },
  HOPPER_STREAM_NAME_INVALID: {
    status: 400,
    retriable: false,
    message: 'Stream names must match ^[A-Za-z0-9_.-]{1,64}$ and may not be "." or "..".',
  },
  HOPPER_GROUP_NAME_INVALID: {
    status: 400,
    retriable: false,
    message: 'Group names must match ^[A-Za-z0-9_.-]{1,64}$ and may not be "." or "..".',
  },
  HOPPER_STREAM_UNKNOWN: {
    status: 404,
    retriable: false,
    message: 'No such stream: configure it under "streams" or turn on ingest.autoCreateStreams.',
  },
  HOPPER_GROUP_UNKNOWN: {
    status: 404,
    retriable: false,
    message: 'No such consumer group here: hopper lag without --group lists the groups that have a position.',
  },
  HOPPER_STREAM_LIMIT: {
    status: 403,
    retriable: false,
    message: 'The maximum number of streams is reached: raise ingest.maxStreams or reuse a stream.',
  },
  HOPPER_STREAM_RESERVED: {
    status: 403,
    retriable: false,
    message: 'Streams named S.dlq hold dead letters: only workers write them. Write to S instead.',
  },
  HOPPER_PARTITION_UNKNOWN: { status: 404, retriable: false, message: 'No such partition in this stream.' },
  HOPPER_NOT_FOUND: { status: 404, retriable: false, message: 'No such route: write to POST /v1/streams/{stream}.' },
  HOPPER_METHOD_NOT_ALLOWED: { status: 405, retriable: false, message: 'Method not allowed here: see the Allow header.' },
  HOPPER_BODY_TOO_LARGE: {
    status: 413,
    retriable: false,
    message: 'The body is larger than ingest.maxBodyBytes: split it or raise the limit.',
  },
  HOPPER_METADATA_TOO_LARGE: {
    status: 400,
    retriable: false,
    message: 'A stored header (content type, encoding, request id, idempotency key) is longer than 1024 bytes.',
  },
  HOPPER_AUTH_MISSING: {
    status: 401,
    retriable: false,
    message: 'This stream needs a write key: send Authorization: Bearer KEY or ?key=KEY.',
  },
  HOPPER_AUTH_INVALID: { status: 403, retriable: false, message: 'The write key is not valid for this stream.' },
  HOPPER_ACK_INVALID: {
    status: 400,
    retriable: false,
    message: 'Hopper-Ack must be durable, written or fast, and not weaker than the stream allows.',
  },
  HOPPER_RATE_LIMITED: { status: 429, retriable: true, message: 'Too many requests for this key: retry after the delay.' },
  HOPPER_CORS_FORBIDDEN: { status: 403, retriable: false, message: 'This origin is not allowed to write to this stream.' },
  HOPPER_REQUEST_TIMEOUT: { status: 408, retriable: true, message: 'The request body did not arrive in time.' },
  HOPPER_HEADERS_TOO_LARGE: {
    status: 431,
    retriable: false,
    message: 'The request line and headers are larger than ingest.maxHeaderBytes: shorten the URL (a pixel\'s query) or the headers, or raise the limit.',
  },
  HOPPER_BAD_REQUEST: { status: 400, retriable: false, message: 'The request is not valid HTTP/1.1: check the client.' },
  HOPPER_TRANSFER_CODING_UNSUPPORTED: {
    status: 501,
    retriable: false,
    message: 'Only the chunked transfer coding is supported: send a compressed body with Content-Encoding.',
  },
  HOPPER_BACKPRESSURE: {
    status: 503,
    retriable: true,
    message: 'The log is behind: retry after the delay in Retry-After.',
  },
  HOPPER_LOG_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: 'The log cannot store writes right now (disk full, I/O error or backend down): retry later.',
  },
  HOPPER_SHUTTING_DOWN: {
    status: 503,
    retriable: true,
    message:
      "A sink call was aborted (the shutdown deadline, or the pipeline's processTimeoutMs): the batch is delivered again. Ingest never answers it: a stopping server finishes the requests it has, answering them with Connection: close.",
  },
  HOPPER_NOT_READY: { status: 503, retriable: true, message: 'This ingest process is not ready to take writes: see the reasons.' },
  HOPPER_LISTEN_FAILED: {
    status: 500,
    retriable: false,
    message: 'Cannot listen on the configured address: pick a free port or socket path (--port, --socket).',
  },
  HOPPER_DATA_DIR_UNUSABLE: {
    status: 500,
    retriable: false,
    message: 'The data directory cannot be created or written: pass --data-dir (or HOPPER_DATA_DIR) to a directory this user can write.',
  },
  HOPPER_PARTITION_LOCKED: {
    status: 500,
    retriable: false,
    message: 'Another process is writing this partition: stop it, or give this one another data directory.',
  },
  HOPPER_LOCK_HELD: {
    status: 409,
    retriable: true,
    message:
      'Another process holds this lock (e.g. a hopper dlq requeue or drop of the same stream): wait for it to finish, then run this again. A holder that died frees it at once on the embedded log (15 s after its last touch when it ran in another container or host), within its lease (30 s) on Redis and NATS.',
  },
  HOPPER_LOG_CLOSED: { status: 503, retriable: true, message: 'The log is closed.' },
  HOPPER_LOG_CORRUPT: {
    status: 500,
    retriable: false,
    message: 'A log file is damaged beyond what recovery handles: see the log line for the file.',
  },
  HOPPER_DLQ_BODY_GONE: {
    status: 410,
    retriable: false,
    message: 'A dead letter stored without its body (too large for the dead-letter stream) cannot be requeued: the original is gone from its stream. Drop it.',
  },
  HOPPER_DECODE_FAILED: {
    status: 422,
    retriable: false,
    message: 'A stored body could not be decoded (malformed JSON, NDJSON, form data, text or compressed data): it went to the dead-letter stream.',
  },
  HOPPER_DECODE_UNSUPPORTED: {
    status: 415,
    retriable: false,
    message: 'No decoder for this content type or content encoding (see the decoding table): the record went to the dead-letter stream.',
  },
  HOPPER_DECODED_TOO_LARGE: {
    status: 413,
    retriable: false,
    message: "The body decompresses to more than the pipeline's maxDecodedBytes (a compression bomb?): it went to the dead-letter stream.",
  },
  HOPPER_SCHEMA_INVALID: {
    status: 422,
    retriable: false,
    message: "A decoded event does not match the stream's JSON Schema: the record went to the dead-letter stream with the schema error.",
  },
  HOPPER_PROCESSOR_INVALID: {
    status: 500,
    retriable: false,
    message: 'A pipeline processor cannot be loaded: name a built-in sink or a module whose default export is defineProcessor({...}).',
  },
  HOPPER_PROCESS_TIMEOUT: {
    status: 504,
    retriable: true,
    message:
      "A processor call ran past the pipeline's processTimeoutMs: its ctx.signal was aborted, and the batch is split in halves (a single record retried after a backoff), never dead-lettered for it; raise processTimeoutMs if such calls are legitimate.",
  },
  HOPPER_REDELIVERY_LIMIT: {
    status: 500,
    retriable: false,
    message:
      "A record was delivered the pipeline's maxDeliveries times and never finished: the worker processing it crashed, was killed or stopped, or lost its lease each time (a record that brings its worker down?). It went to the dead-letter stream without another try; fix the cause, then hopper dlq requeue it.",
  },
  HOPPER_PIPELINE_FAILED: {
    status: 500,
    retriable: false,
    message: 'A pipeline stopped on an unexpected error (a bug): serve --with-workers restarts it after a backoff; hopper work exits 1 for its supervisor to restart it.',
  },
  HOPPER_BENCH_UNREACHABLE: {
    status: 502,
    retriable: true,
    message: 'hopper bench cannot connect to the target: check the URL and that the server is running.',
  },
  HOPPER_BENCH_TARGET_FAILED: {
    status: 502,
    retriable: true,
    message: 'The target closed or refused every connection without answering: check that it speaks HTTP/1.1 on that port.',
  },
  HOPPER_SINK_UNAVAILABLE: {
    status: 503,
    retriable: true,
    message: "A sink's destination (database, HTTP endpoint, statsd socket) is unreachable or failing for now: the batch is retried with backoff until it recovers.",
  },
  HOPPER_ADMIN_TOKEN_REQUIRED: {
    status: 500,
    retriable: false,
    message:
      'The admin server listens beyond loopback (admin.host) and needs admin.token (env HOPPER_ADMIN_TOKEN), a secret of at least 16 characters; or set admin.host to 127.0.0.1.',
  },
  HOPPER_ADMIN_HOST_REFUSED: {
    status: 403,
    retriable: false,
    message: 'Without admin.token the admin API answers only requests addressed to this machine (Host: 127.0.0.1, localhost or its hostname), so that no web page can read it through DNS rebinding: use such an address, or set admin.token.',
  },
  HOPPER_ADMIN_UNAUTHORIZED: { status: 401, retriable: false, message: 'The admin API needs Authorization: Bearer <admin.token>.' },
  HOPPER_ADMIN_UNREACHABLE: {
    status: 502,
    retriable: true,
    message: 'Cannot reach the admin API: check --admin URL (default http://127.0.0.1:8081) and that the server runs with admin.enabled.',
  },
  HOPPER_ADMIN_BUSY: {
    status: 503,
    retriable: true,
    message: 'The admin API is serving as many record reads as it allows at once: retry in a second.',
  },
  HOPPER_OUTPUT_FAILED: { status: 500, retriable: false, message: 'A command could not write its output to stdout: check the file or disk it goes to.' },
  HOPPER_INTERNAL: { status: 500, retriable: false, message: 'Internal error: this is a bug, please report it.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class HopperError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;
  /** Seconds a client should wait before retrying, when it applies. */
  retryAfterSeconds?: number;
  /** The condition lasts until the process restarts (a partition stopped by a failed fsync): readiness stays false. */
  readonly untilRestart: boolean;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; retryAfterSeconds?: number; untilRestart?: boolean }) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HopperError';
    this.code = code;
    this.status = spec.status;
    this.retriable = spec.retriable;
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
    this.untilRestart = options?.untilRestart ?? false;
  }

  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export function isHopperError(err: unknown, code?: ErrorCode): err is HopperError {
  return err instanceof HopperError && (code === undefined || err.code === code);
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Stream and group names become directory names, keys and subjects: checked before anything touches storage. */
export function isValidName(name: string): boolean {
  return NAME_RE.test(name) && name !== '.' && name !== '..';
}

/**
 * The log also takes the dead-letter stream of any valid name, `{name}.dlq` (up to 68 characters): the
 * workers must be able to store a dead letter of every stream, or its partition would stall on it for good.
 */
export function isValidLogStreamName(name: string): boolean {
  return isValidName(name) || (name.endsWith(DEAD_LETTER_SUFFIX) && isValidName(name.slice(0, -DEAD_LETTER_SUFFIX.length)));
}

export function assertStreamName(name: string): void {
  if (!isValidLogStreamName(name)) {
    throw new HopperError('HOPPER_STREAM_NAME_INVALID', `Invalid stream name ${JSON.stringify(name)}: names must match ^[A-Za-z0-9_.-]{1,64}$ and may not be "." or "..".`);
  }
}

export function assertGroupName(name: string): void {
  if (!isValidName(name)) throw new HopperError('HOPPER_GROUP_NAME_INVALID', `Invalid group name ${JSON.stringify(name)}: names must match ^[A-Za-z0-9_.-]{1,64}$ and may not be "." or "..".`);
}
