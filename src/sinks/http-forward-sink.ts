// The `http` sink: forwards decoded events to a URL, for webhooks and chat
// notifications. Events go out in requests of at most maxEventsPerRequest events
// and about maxRequestBytes, as a JSON array, NDJSON, or one JSON event per request
// (`single`, for endpoints such as chat webhooks that take one object), through an
// undici keep-alive Pool.
//
// Responses: 2xx delivered. 408, 429 and 5xx (but 501, 505) and network errors or
// timeouts are retried in the sink, up to maxAttempts per request and maxRetryTimeMs,
// waiting what Retry-After asks (capped at maxRetryDelayMs) or exponential backoff
// with jitter; past that the batch is thrown back as HOPPER_SINK_UNAVAILABLE and the
// runtime retries it later, skipping the records this process already delivered, after
// waiting out what the last Retry-After asked for (capped at maxRetryDelayMs).
// 413, and no answer within timeoutMs to a request of several events twice, split the request in two; 303 See Other is delivered. Any other status (4xx, 3xx) is permanent: the
// records of that request are returned in `failed` with the status and the start
// of the response body. A 400 or 422 (the content refused) of several events is first narrowed down by halves
// to the events refused alone (see NARROWED_STATUSES).
//
// Delivery guarantee: at least once. A request whose response is lost (timeout,
// connection reset) is sent again, and a batch redelivered after a crash is sent
// again: each request carries an Idempotency-Key built from the pipeline, the positions
// of its first and last events and the first one's received-at, so a receiver can drop
// what it already has.

import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { HopperError } from '../errors.js';
import { backoffMs } from '../work/backoff.js';
import { defineProcessor, rethrowBatchSplit, type BatchItem, type ProcessContext, type ProcessResult, type SinkContext, type SinkFactory } from '../work/types.js';
import { optionError, optionsChecker } from './sink-options.js';
import { SinkMetrics } from './sink-metrics.js';
import { retryAfterMs } from './retry-after.js';

export type HttpForwardFormat = 'json' | 'ndjson' | 'single';

export interface HttpForwardSinkOptions {
  url: string;
  method: 'POST' | 'PUT';
  format: HttpForwardFormat;
  headers: Record<string, string>;
  /** Send {stream, partition, offset, index, receivedAt, event} instead of the bare event. */
  includeMetadata: boolean;
  maxEventsPerRequest: number;
  maxRequestBytes: number;
  connections: number;
  connectTimeoutMs: number;
  /** Limit on waiting for the response headers, and between two pieces of its body. */
  timeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Tries of one request inside one process() call, the first included. */
  maxAttempts: number;
  initialBackoffMs: number;
  /** No single wait (backoff or Retry-After) is longer than this. */
  maxRetryDelayMs: number;
  /** Time budget of one request's retries; a Retry-After past it ends them at once. */
  maxRetryTimeMs: number;
}

const SINK = 'http';
/** Bytes of an error response kept in a dead letter's reason. */
export const RESPONSE_SNIPPET_BYTES = 300;
/** undici's error when the answer's head did not come within timeoutMs. */
const HEADERS_TIMEOUT = 'UND_ERR_HEADERS_TIMEOUT';
/** Times a request of several events goes without an answer within timeoutMs before its halves are sent instead. */
const TIMEOUTS_BEFORE_SPLIT = 2;
/** A response body past this is not read to the end: the connection is closed instead. */
const MAX_DRAIN_BYTES = 64 * 1024;

const checkOptions = optionsChecker<HttpForwardSinkOptions>(SINK, {
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^https?://' },
    method: { type: 'string', enum: ['POST', 'PUT'], default: 'POST' },
    format: { type: 'string', enum: ['json', 'ndjson', 'single'], default: 'json' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, maxProperties: 50, default: {} },
    includeMetadata: { type: 'boolean', default: false },
    maxEventsPerRequest: { type: 'integer', minimum: 1, maximum: 100_000, default: 500 },
    maxRequestBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 1024 * 1024 },
    connections: { type: 'integer', minimum: 1, maximum: 256, default: 8 },
    connectTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 5_000 },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 10_000 },
    keepAliveTimeoutMs: { type: 'integer', minimum: 100, maximum: 600_000, default: 30_000 },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
    initialBackoffMs: { type: 'integer', minimum: 1, maximum: 60_000, default: 200 },
    maxRetryDelayMs: { type: 'integer', minimum: 1, maximum: 600_000, default: 30_000 },
    maxRetryTimeMs: { type: 'integer', minimum: 1, maximum: 3_600_000, default: 60_000 },
  },
});

/** One event, serialized, with where it came from. */
interface Unit {
  item: BatchItem;
  index: number;
  text: string;
}

type Outcome = { kind: 'ok' } | { kind: 'split' } | { kind: 'permanent'; status: number; reason: string } | { kind: 'unavailable'; reason: string; cause?: unknown };

/**
 * Answers that refuse a request's content: one bad event made every record of its request (500 events by default) a
 * dead letter, the good ones too. Such a request is narrowed by halves down to the events refused alone. An endpoint
 * that refuses everything (a bad token it answers with 400) is told apart by accepting nothing: the halves and
 * quarters of a refused request are tried (NARROW_PROBE_DEPTH), and a smaller part is split further only once some
 * part of that request was accepted; until then it waits, and is a dead letter if none ever is. So at most 7 requests
 * per request for an endpoint refusing everything (from the start or from any point of a batch), about 2 log2(n)
 * per bad event otherwise, at most 2n - 1 per request of n events. (Splitting only a refused half whose sibling was
 * accepted, two bad events in sibling halves made both halves dead letters, every good event in them too.)
 */
const NARROWED_STATUSES = new Set([400, 422]);
/** Halvings of a refused request tried before anything of the batch was accepted (1: halves, 2: quarters too). */
const NARROW_PROBE_DEPTH = 2;

/** A request to send, `depth` halvings (for a 400 or 422) below a request as first chunked, its `narrowing`. */
interface Pending {
  units: Unit[];
  depth: number;
  narrowing?: Narrowing;
}

/** The parts of one refused request. */
interface Narrowing {
  /** One of them was accepted: the endpoint takes such events, the refusals are about the events refused. */
  accepted: boolean;
  /** Refused past NARROW_PROBE_DEPTH while none was accepted: split once one is, else dead letters. */
  waiting: { units: Unit[]; depth: number; reason: string }[];
}

type Failed = NonNullable<ProcessResult['failed']>;

function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * The start of an answer's body, reading at most MAX_DRAIN_BYTES of it for at most `ms` in all. undici's
 * bodyTimeout bounds each pause, not the whole: a body trickling in (a byte every few seconds) kept the
 * batch, and its pipeline, waiting for up to 64 KiB of pauses (days). Past `ms`, or when the body fails,
 * it is destroyed (its connection closed) and what arrived is the snippet: the status already said what
 * happened to the request.
 */
async function readSnippet(body: Dispatcher.ResponseData['body'], ms: number): Promise<string> {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  const deadline = setTimeout(() => body.destroy(), ms);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (keptBytes < RESPONSE_SNIPPET_BYTES) {
        const piece = chunk.subarray(0, RESPONSE_SNIPPET_BYTES - keptBytes);
        kept.push(piece);
        keptBytes += piece.length;
      }
      if (total > MAX_DRAIN_BYTES) break;
    }
  } catch {
    // Cut short (the deadline, a reset, a body timeout): keep what arrived.
  } finally {
    clearTimeout(deadline);
  }
  const text = Buffer.concat(kept).toString('utf8').replace(/\s+/g, ' ').trim();
  return total > keptBytes ? `${text}...` : text;
}

/** `Basic ...` for the user and password of a URL (percent-decoded; throws URIError on a bad escape). */
function basicAuthorization(url: URL): string {
  return `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
}

/**
 * The URL with its user and password replaced by ***. They end at the last "@" before the path, query or
 * fragment: URLs take a raw "@" in a password (https://bob:p@ss@host/), and cut at the first one, the
 * rest of the password was shown.
 */
function maskCredentials(url: string): string {
  return url.replace(/\/\/[^/?#]*@/, '//***@');
}

export class HttpForwarder {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  /** The URL as dead letters and errors show it: its credentials masked. */
  private readonly shownUrl: string;
  private readonly metrics = new SinkMetrics(SINK);
  /** Records whose every event this process delivered: a retried batch skips them. */
  private readonly delivered = new WeakSet<BatchItem>();
  /**
   * Until when (Date.now() ms) the endpoint asked, in its last Retry-After (capped at maxRetryDelayMs), not to be
   * sent to. Kept across process() calls: a batch thrown back went out again on the runtime's next retry (after
   * 100 ms, then a growing backoff), however long the endpoint had asked to wait.
   */
  private notBeforeMs = 0;

  constructor(private readonly opts: HttpForwardSinkOptions) {
    const url = new URL(opts.url);
    this.origin = url.origin;
    this.path = `${url.pathname}${url.search}`;
    const contentType = opts.format === 'ndjson' ? 'application/x-ndjson' : 'application/json';
    // The pool is made for the origin, which has no credentials: those of the URL go as Basic
    // authorization (RFC 7617) unless `headers` sets its own, and are never shown.
    const basic: Record<string, string> = url.username !== '' || url.password !== '' ? { authorization: basicAuthorization(url) } : {};
    this.headers = { 'content-type': contentType, ...basic, ...Object.fromEntries(Object.entries(opts.headers).map(([k, v]) => [k.toLowerCase(), v])) };
    this.shownUrl = maskCredentials(opts.url);
    this.pool = new Pool(this.origin, {
      connections: opts.connections,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
    });
  }

  async process(items: BatchItem[], ctx: ProcessContext): Promise<ProcessResult> {
    const started = performance.now();
    const failed: Failed = [];
    const units: Unit[] = [];
    for (const item of items) {
      if (this.delivered.has(item)) continue;
      let events: unknown[];
      try {
        events = item.events();
      } catch (err) {
        rethrowBatchSplit(err);
        failed.push({ item, reason: (err as Error).message });
        continue;
      }
      for (let i = 0; i < events.length; i++) units.push({ item, index: i, text: this.serialize(item, i, events[i]) });
    }
    const requests: Pending[] = this.chunk(units).map((r) => ({ units: r, depth: 0 }));
    const waitMs = this.notBeforeMs - Date.now();
    if (requests.length > 0 && waitMs > 0) await sleep(waitMs, undefined, { signal: ctx.signal });
    const badItems = new Map<BatchItem, string>();
    let sent = 0;
    // An undecodable record counts as one failed event (how many it held is unknown), as in every sink.
    let failedEvents = failed.length;
    const refuse = (request: Unit[], reason: string): void => {
      failedEvents += request.length;
      for (const u of request) if (!badItems.has(u.item)) badItems.set(u.item, reason);
    };
    const halves = (request: Unit[], depth: number, narrowing: Narrowing | undefined): Pending[] => {
      const mid = request.length >>> 1;
      return [
        { units: request.slice(0, mid), depth, ...(narrowing ? { narrowing } : {}) },
        { units: request.slice(mid), depth, ...(narrowing ? { narrowing } : {}) },
      ];
    };
    const narrowings: Narrowing[] = [];
    // A work list, not recursion: a 413 puts two halves back, and a request of one event cannot split.
    while (requests.length > 0) {
      const { units: request, depth, narrowing } = requests.shift()!;
      const outcome = await this.send(request, ctx);
      if (outcome.kind === 'ok') {
        sent += request.length;
        if (narrowing !== undefined && !narrowing.accepted) {
          narrowing.accepted = true;
          for (const w of narrowing.waiting.splice(0)) requests.unshift(...halves(w.units, w.depth + 1, narrowing));
        }
        continue;
      }
      if (outcome.kind === 'split') {
        requests.unshift(...halves(request, depth, narrowing));
        continue;
      }
      if (outcome.kind === 'permanent') {
        if (!NARROWED_STATUSES.has(outcome.status) || request.length === 1) {
          refuse(request, outcome.reason);
        } else if (narrowing === undefined) {
          const started: Narrowing = { accepted: false, waiting: [] };
          narrowings.push(started);
          requests.unshift(...halves(request, 1, started));
        } else if (narrowing.accepted || depth < NARROW_PROBE_DEPTH) {
          requests.unshift(...halves(request, depth + 1, narrowing));
        } else {
          narrowing.waiting.push({ units: request, depth, reason: outcome.reason });
        }
        continue;
      }
      const waiting = narrowings.flatMap((n) => n.waiting.map((w) => w.units));
      this.rememberDelivered(units, [...requests.map((r) => r.units), ...waiting], request, badItems);
      this.metrics.transientError(ctx.metrics);
      throw new HopperError('HOPPER_SINK_UNAVAILABLE', `http sink: ${this.opts.method} ${this.shownUrl}: ${outcome.reason}; retrying later`, { cause: outcome.cause });
    }
    // Nothing of their request accepted: the endpoint refuses everything, not these events.
    for (const n of narrowings) for (const w of n.waiting) refuse(w.units, w.reason);
    for (const [item, reason] of badItems) failed.push({ item, reason });
    for (const u of units) if (!badItems.has(u.item)) this.delivered.add(u.item);
    this.metrics.written(ctx.metrics, sent, failedEvents, started);
    return { failed };
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private serialize(item: BatchItem, index: number, event: unknown): string {
    if (!this.opts.includeMetadata) return JSON.stringify(event) ?? 'null';
    return JSON.stringify({ stream: item.stream, partition: item.partition, offset: item.offset, index, receivedAt: item.receivedAt.toISOString(), event });
  }

  private chunk(units: Unit[]): Unit[][] {
    const out: Unit[][] = [];
    if (this.opts.format === 'single') return units.map((u) => [u]);
    let current: Unit[] = [];
    let bytes = 2;
    for (const u of units) {
      const size = Buffer.byteLength(u.text) + 1;
      if (current.length > 0 && (current.length >= this.opts.maxEventsPerRequest || bytes + size > this.opts.maxRequestBytes)) {
        out.push(current);
        current = [];
        bytes = 2;
      }
      current.push(u);
      bytes += size;
    }
    if (current.length > 0) out.push(current);
    return out;
  }

  private body(request: Unit[]): string {
    if (this.opts.format === 'ndjson') return request.map((u) => u.text).join('\n') + '\n';
    if (this.opts.format === 'single') return request[0]!.text;
    return `[${request.map((u) => u.text).join(',')}]`;
  }

  /**
   * Where the request's events sit in the log, which pipeline sends them, and when the first one was received:
   * positions alone repeat in a new data directory (offsets start at 0 again), and another pipeline sending the
   * same stream to the same receiver sends its own copy, so a receiver keeping keys would drop new events as seen.
   */
  private idempotencyKey(request: Unit[], pipeline: string): string {
    const first = request[0]!;
    const last = request[request.length - 1]!;
    return `${pipeline}/${first.item.stream}:${first.item.partition}:${first.item.offset}.${first.index}-${last.item.offset}.${last.index}/${first.item.receivedAtUs}`;
  }

  /** One request, retried for retriable answers within its attempt and time budget. */
  private async send(request: Unit[], ctx: ProcessContext): Promise<Outcome> {
    const body = this.body(request);
    const headers = { ...this.headers, 'idempotency-key': this.idempotencyKey(request, ctx.pipeline) };
    const startedMs = Date.now();
    let last: Outcome = { kind: 'unavailable', reason: 'not sent' };
    let timeouts = 0;
    for (let attempt = 1; attempt <= this.opts.maxAttempts; attempt++) {
      let waitMs: number | null = null;
      try {
        const res = await this.pool.request({ path: this.path, method: this.opts.method, headers, body, signal: ctx.signal });
        ctx.metrics.increment('sink_http_responses_total', 1, { sink: SINK, status: statusClass(res.statusCode) });
        // A 2xx body is read (and dropped) only so the connection can be kept alive; bounded like any other.
        const snippet = await readSnippet(res.body, this.opts.timeoutMs);
        // The shutdown deadline destroyed the body: the failure is the abort's, never the records'.
        ctx.signal.throwIfAborted();
        // 303 See Other answers a request the server carried out (RFC 9110 15.4.4): the records were delivered, and a
        // dead letter requeued would send them twice.
        if ((res.statusCode >= 200 && res.statusCode < 300) || res.statusCode === 303) return { kind: 'ok' };
        let reason = `HTTP ${res.statusCode} from ${this.opts.method} ${this.shownUrl}${snippet === '' ? '' : `: ${snippet}`}`;
        // Redirects are not followed (a POST may not be repeated elsewhere unasked): the dead letter says where to point url.
        const location = res.headers.location;
        if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string' && location !== '') {
          reason += ` (redirected to ${maskCredentials(location.slice(0, RESPONSE_SNIPPET_BYTES))}: redirects are not followed, set options.url to it)`;
        }
        if (res.statusCode === 413 && request.length > 1) return { kind: 'split' };
        if (!isRetriableStatus(res.statusCode)) return { kind: 'permanent', status: res.statusCode, reason };
        last = { kind: 'unavailable', reason };
        waitMs = retryAfterMs(res.headers['retry-after'], Date.now());
        if (waitMs !== null) this.notBeforeMs = Math.max(this.notBeforeMs, Date.now() + Math.min(waitMs, this.opts.maxRetryDelayMs));
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        ctx.metrics.increment('sink_http_responses_total', 1, { sink: SINK, status: 'error' });
        const code = (err as { code?: string }).code;
        last = { kind: 'unavailable', reason: `${code ?? (err as Error).name}: ${(err as Error).message}`, cause: err };
        // No answer within timeoutMs to a request of several events: an endpoint that handles them before it answers
        // may need longer for this many. Sent whole again and again, it timed out every time and nothing was ever
        // delivered (while the endpoint may have processed each copy), so its halves are sent instead, as a 413's
        // are: but only once it timed out TIMEOUTS_BEFORE_SPLIT times (or has no try left). A late answer is often a
        // pause of the endpoint's, the request processed: split at the first, its events went again under new
        // Idempotency-Keys, duplicates the receiver cannot drop; sent again whole, it carries the same key.
        if (code === HEADERS_TIMEOUT && request.length > 1) {
          if (++timeouts >= TIMEOUTS_BEFORE_SPLIT) return { kind: 'split' };
          last = { kind: 'split' };
        }
      }
      if (attempt === this.opts.maxAttempts) break;
      const asked = waitMs ?? backoffMs(attempt, { initialBackoffMs: this.opts.initialBackoffMs, maxBackoffMs: this.opts.maxRetryDelayMs });
      // The budget is checked against the wait asked for, not the capped one: a server that asked for an hour
      // (past the default 60 s budget) got the request again after 30 s (maxRetryDelayMs), then once more.
      if (Date.now() + asked - startedMs > this.opts.maxRetryTimeMs) break;
      const delay = Math.min(asked, this.opts.maxRetryDelayMs);
      await sleep(delay, undefined, { signal: ctx.signal });
    }
    return last;
  }

  /** Before giving up on a batch: records whose events all went out are not sent again on the retry. */
  private rememberDelivered(units: Unit[], unsent: Unit[][], current: Unit[], bad: Map<BatchItem, string>): void {
    const pending = new Set<BatchItem>(bad.keys());
    for (const u of current) pending.add(u.item);
    for (const r of unsent) for (const u of r) pending.add(u.item);
    for (const u of units) if (!pending.has(u.item)) this.delivered.add(u.item);
  }
}

/** A header name (RFC 9110 section 5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What undici refuses in a header value (RFC 9110 section 5.5: no CR, LF, NUL or other controls but HTAB). */
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers of the request's framing and connection, which undici sets and refuses from the caller. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect']);

/**
 * A header undici refuses fails every request before it is sent, and was taken for an unavailable
 * endpoint: the batch was retried for ever. Checked once, at the start, naming the header (never its value).
 */
function checkHeaders(headers: Record<string, string>, context: SinkContext): void {
  for (const [name, value] of Object.entries(headers)) {
    const key = `headers.${JSON.stringify(name)}`;
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) throw optionError(SINK, context, key, 'is not a header name: use letters, digits and !#$%&\'*+.^_`|~-');
    if (FRAMING_HEADERS.has(lower)) throw optionError(SINK, context, key, 'is set by the sink itself: remove it');
    if (lower === 'connection' && !/^(close|keep-alive)$/i.test(value)) throw optionError(SINK, context, key, 'may only be close or keep-alive');
    if (BAD_HEADER_VALUE.test(value)) throw optionError(SINK, context, key, 'has a character no header value may hold (a line break, a control character, or one past U+00FF)');
  }
}

const httpForwardSink: SinkFactory = (options, context) => {
  const opts = checkOptions(options, context);
  try {
    basicAuthorization(new URL(opts.url));
  } catch {
    throw optionError(SINK, context, 'url', `${JSON.stringify(maskCredentials(opts.url))} is not a valid URL`);
  }
  checkHeaders(opts.headers, context);
  const forwarder = new HttpForwarder(opts);
  return defineProcessor({
    process: (batch, ctx) => forwarder.process(batch.items, ctx),
    stop: () => forwarder.close(),
  });
};

export default httpForwardSink;
